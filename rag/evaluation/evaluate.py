"""Evaluation as a library: score one case, run a QA set through an answering function, summarize.

It scores retrieval, answers, citations, refusal and latency; `rag.evaluation.runs` drives it for the
configurations of `rag eval`, and the `rag eval` command itself lives in `rag.cli`.

Relevance is decided by evidence text, not chunk ids: a passage is relevant when its character span
overlaps an occurrence of an evidence string in the same document. To keep the metric functions pure
over plain spans, every document gets a base offset (`doc_base`) so spans of different documents never
overlap.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.answering.support import supported_sentence_rate
from rag.config import DEFAULT_INDEX_DIR, PROJECT_ROOT
from rag.evaluation import metrics as M
from rag.evaluation.datasets import Case, is_squad, load_jsonl_cases, load_squad, select_split
from rag.schema import Answer, Document, EvalRow
from rag.serialize import answer_to_json

DEFAULT_DATASET = PROJECT_ROOT / "eval" / "qa_article.jsonl"
DEFAULT_OUT = PROJECT_ROOT / "eval" / "out" / "latest"
Span = tuple[int, int]


class Corpus:
    """The documents a QA set is asked against, with global span bases for the metrics."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.text = {d.source: d.text for d in documents}
        self.base: dict[str, int] = {}
        offset = 0
        for d in documents:
            self.base[d.source] = offset
            offset += len(d.text) + 1

    def span(self, source: str, start: int, end: int) -> Span:
        base = self.base.get(source, -10**12)  # unknown source: overlaps nothing
        return (base + start, base + end)

    def evidence_spans(self, case: Case) -> list[list[Span]]:
        sources = [case.source] if case.source else list(self.text)
        return [[self.span(src, s.start, s.end) for src in sources for s in M.find_spans(self.text[src], ev)]
                for ev in case.evidence]


def score_case(case: Case, answer: Answer, corpus: Corpus, k: int) -> dict[str, Any]:
    evidence = corpus.evidence_spans(case)
    retrieved = [corpus.span(h.chunk.source, h.chunk.start, h.chunk.end) for h in answer.hits]
    cited = [corpus.span(c.hit.chunk.source, c.hit.chunk.start, c.hit.chunk.end) for c in answer.citations]
    flags = M.relevance_flags(retrieved, evidence)
    prediction = "" if answer.refused else M.strip_citation_markers(answer.text)
    # EM/F1 score the shortest answer shown: the factoid span when there is one, else the whole answer text.
    short = prediction if answer.refused or answer.span is None else answer.span.text
    nan = math.nan
    if case.answerable:
        m = {"hit@1": M.hit_at_k(flags, 1), "hit@3": M.hit_at_k(flags, 3), "hit@5": M.hit_at_k(flags, 5),
             f"recall@{k}": M.recall_at_k(retrieved, evidence, k), "mrr": M.reciprocal_rank(flags),
             "ndcg@5": M.ndcg_at_k(flags, 5), "contains": float(M.contains_gold(prediction, case.answers)),
             "fair": float(M.fair_match(prediction, case.answers)),
             # beside fair, not instead of it: an answer that restates its question before the gold (README step 26)
             "near": float(M.near_match(prediction, case.answers, case.question)),
             "em": M.cmrc_em(short, case.answers), "f1": M.cmrc_f1(short, case.answers),
             # a refusal's citation (its closest sentence, compose.refuse_with_closest) is not an answer's
             "citation_precision": M.citation_precision(cited, evidence) if not answer.refused else nan,
             "citation_recall": M.citation_recall(cited, evidence) if not answer.refused else 0.0}
    else:
        m = dict.fromkeys(("hit@1", "hit@3", "hit@5", f"recall@{k}", "mrr", "ndcg@5", "contains", "fair", "near", "em",
                           "f1", "citation_precision", "citation_recall"), nan)
    m["facts_ok"] = float(M.facts_ok(prediction, case.facts, case.facts_needed)) if case.facts else nan
    # "correct": one definition (metrics.correctness); a factoid is right when the gold is in the answer or the
    # answer is a substantial piece of it (metrics.fair_match: fair to concise model answers).
    m["correct"] = M.correctness(case.answerable, answer.refused, m["fair"], m["facts_ok"])
    m["len"] = float(len(prediction)) if not answer.refused else nan
    m["markers_ok"] = float(M.markers_resolve(answer.text, len(answer.citations)))
    # LLM answers: share of the answer's sentences that their citation supports (NaN for refusals and for
    # answers without sentences); no LLM judge.
    m["supported_sentence_rate"] = supported_sentence_rate(answer)
    return m


def eval_row(case: Case, answer: Answer, k: int, corpus: Corpus) -> EvalRow:
    """The case, its answer and the answer's metrics, as one row."""
    return EvalRow(id=case.id, question=case.question, answers=tuple(case.answers), evidence=tuple(case.evidence),
                   tags=tuple(case.tags), answer=answer, metrics=score_case(case, answer, corpus, k),
                   has_facts=bool(case.facts), split=case.split)


def row_to_json(row: EvalRow) -> dict[str, Any]:
    """One line of results.jsonl: the case, the answer in the `rag ask --json` schema's fields, the metrics."""
    out = answer_to_json(row.answer)
    return {"id": row.id, "question": row.question, "tags": list(row.tags), "answers": list(row.answers),
            "evidence": list(row.evidence), "answerable": row.answerable, "answer": out["answer"],
            "refused": out["refused"], "reason": out["reason"], "notice": out["notice"],
            "confidence": out["confidence"], "reading": out["reading"],
            "answerer": out["answerer"], "kind": out["kind"], "span": out["span"],
            "split": row.split, "citations": out["citations"], "hits": out["hits"],
            "retrieval_query": out["retrieval_query"], "metrics": row.metrics, "timings_ms": out["timings_ms"]}


def run_cases(ask: Callable[[Case], Answer], cases: Sequence[Case], corpus: Corpus, k: int,
              label: str = "") -> list[EvalRow]:
    rows = []
    started = time.perf_counter()
    for i, case in enumerate(cases, start=1):
        answer = ask(case)
        rows.append(eval_row(case, answer, k, corpus))
        if i % 25 == 0 or i == len(cases):
            rate = i / max(time.perf_counter() - started, 1e-9)
            eta = (len(cases) - i) / rate
            print(f"\r  {label} {i}/{len(cases)} questions ({rate:.0f}/s, ~{eta:.0f}s left)", end="",
                  file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def summarize(config: str, rows: Sequence[EvalRow], k: int) -> dict[str, Any]:
    """One configuration's figures: means over the cases where each metric is defined, refusal rates,
    median answer length and per-stage latency percentiles. Keys are what report.py shows."""
    answerable = [r for r in rows if r.answerable]
    mean = lambda key, rs=answerable: M.mean_ignoring_nan([r.metrics[key] for r in rs])  # noqa: E731
    rates = M.refusal_rates([r.refused for r in rows], [r.answerable for r in rows])
    lengths = [r.metrics["len"] for r in rows if not math.isnan(r.metrics["len"])]
    out: dict[str, Any] = {
        "config": config, "n": len(rows), "n_answerable": len(answerable),
        "n_unanswerable": len(rows) - len(answerable),
        "hit@1": mean("hit@1"), "hit@3": mean("hit@3"), "hit@5": mean("hit@5"), f"recall@{k}": mean(f"recall@{k}"),
        "mrr": mean("mrr"), "ndcg@5": mean("ndcg@5"), "answer_contains": mean("contains"), "fair": mean("fair"),
        "near": mean("near"),
        "answered_contains": mean("contains", [r for r in answerable if not r.refused]), "em": mean("em"),
        "f1": mean("f1"), "answer_len_median": M.percentile(lengths, 50),
        "citation_precision": mean("citation_precision"), "citation_recall": mean("citation_recall"),
        "markers_ok": mean("markers_ok", rows), "correct": mean("correct", rows),
        "supported_sentence_rate": mean("supported_sentence_rate", rows), **rates}
    factoid_lengths = [r.metrics["len"] for r in rows if r.answer.kind == "factoid" and not r.refused]
    open_lengths = [r.metrics["len"] for r in rows if r.answer.kind in ("open", "entity") and not r.refused]
    out["factoid_len_median"] = M.percentile(factoid_lengths, 50)
    out["open_len_max"] = max(open_lengths) if open_lengths else math.nan
    for tag in TAG_GROUPS:  # share answered correctly per kind of case
        tagged = [r for r in rows if tag in r.tags]
        out[f"correct[{tag}]"] = mean("correct", tagged) if tagged else math.nan
    model_rows = [r for r in rows if "generate" in r.answer.timings_ms]  # a language model ran for these
    # answers a language model wrote (not an extractive answer given in place of its own: a fallback or hand-over)
    written = [r for r in model_rows if r.answer.answerer not in ("extractive", "sentence")]
    out["model_share"] = len(written) / len(rows) if rows else math.nan
    # decode speed: the tokens after the first over the time after the first (prefill is in first_token)
    rates_tps = [(r.answer.generated_tokens - 1) / (r.answer.timings_ms["decode"] / 1000) for r in model_rows
                 if r.answer.generated_tokens > 1 and r.answer.timings_ms.get("decode", 0) > 0]
    out["tokens_per_s"] = M.mean_ignoring_nan(rates_tps) if rates_tps else math.nan
    prompt_rows = [r.answer.timings_ms["prompt_tokens"] for r in model_rows if "prompt_tokens" in r.answer.timings_ms]
    out["prompt_tokens_p50"] = M.percentile(prompt_rows, 50) if prompt_rows else math.nan
    for stage in ("embed", "search", "answer", "first_token", "generate", "total"):
        values = [r.answer.timings_ms.get(stage, math.nan) for r in rows]
        out[f"{stage}_p50_ms"] = M.percentile(values, 50)
        out[f"{stage}_p95_ms"] = M.percentile(values, 95)
    return out


# Case tags reported on their own in the summary (eval/qa_article.jsonl and SQuAD "absent" cases).
TAG_GROUPS = ("open", "summary", "list", "entity", "paraphrase", "factoid", "followup", "en", "absent")


def load_dataset(path: Path, limit: int | None, split: str = "all",
                 absent_share: float = 0.0) -> tuple[list[Document] | None, list[Case]]:
    """(documents to index or None for the bundled article, cases)."""
    if is_squad(path):
        return load_squad(path, limit, absent_share)
    cases = select_split(load_jsonl_cases(path), split)
    return None, cases[:limit] if limit else cases


def default_index_dir(dataset: Path) -> Path:
    """A private index per dataset, so documents a user added to index/ never change the figures."""
    return DEFAULT_INDEX_DIR / ("eval-article" if not is_squad(dataset) else f"eval-{dataset.stem}")

