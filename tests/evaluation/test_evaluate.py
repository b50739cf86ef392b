"""rag.evaluation.evaluate (scoring, rows, summaries) and the `rag eval` request checks, with hand-computed values."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from rag.documents import make_document
from rag.errors import InputError
from rag.evaluation.datasets import Case
from rag.evaluation.evaluate import TAG_GROUPS, Corpus, eval_row, row_to_json, summarize
from rag.evaluation.report import build_sections, failing_cases, tag_breakdown
from rag.evaluation.runs import EvalRequest
from rag.schema import Answer, Chunk, Citation, Hit, Sentence

TEXT = "美图2023年收入为270亿元。\n\n公司总部位于厦门。\n\n这是第三段无关的内容。"
DOC = make_document("a.txt", TEXT)


def _chunk(text: str) -> Chunk:
    start = TEXT.index(text)
    return Chunk(Chunk.make_id(DOC.doc_id, start, start + len(text)), DOC.doc_id, "a.txt", start,
                 start + len(text), "", text)


REVENUE, HQ = _chunk("美图2023年收入为270亿元。"), _chunk("公司总部位于厦门。")
SENTENCE = Sentence(DOC.doc_id, TEXT.index("美图"), TEXT.index("。") + 1, "美图2023年收入为270亿元。")
TIMINGS = {"embed": 10.0, "search": 1.0, "answer": 2.0, "total": 13.0}
ANSWERED = Case("q1", "美图收入多少？", answers=("270亿元",), evidence=("收入为270亿元",), tags=("number",))
UNANSWERABLE = Case("q2", "美图CEO是谁？", answers=(), evidence=())
CORPUS = Corpus([DOC])


def _answer(refused: bool) -> Answer:
    hits = (Hit(HQ, 0.03, 1), Hit(REVENUE, 0.02, 2))  # the relevant passage ranks second
    if refused:
        return Answer("q", "抱歉，文档中没有找到这个问题的答案。", True, hits=hits, timings_ms=TIMINGS)
    return Answer("q", "美图2023年收入为270亿元。[1]", False, citations=(Citation(1, hits[1], SENTENCE),),
                  hits=hits, timings_ms=TIMINGS)


def test_answerable_case_metrics_by_hand() -> None:
    row = eval_row(ANSWERED, _answer(refused=False), 2, CORPUS)
    m = row.metrics
    assert (m["hit@1"], m["hit@3"], m["hit@5"], m["recall@2"], m["mrr"]) == (0.0, 1.0, 1.0, 1.0, 0.5)
    assert m["ndcg@5"] == pytest.approx(1 / math.log2(3))  # one relevant passage, at rank 2
    assert (m["contains"], m["em"], m["citation_precision"], m["citation_recall"]) == (1.0, 0.0, 1.0, 1.0)
    # CMRC F1: prediction 美 图 2023 年 收 入 为 270 亿 元 (10), gold 270 亿 元 (3): P 3/10, R 1
    assert m["f1"] == pytest.approx(2 * 0.3 / 1.3)
    assert (m["len"], m["markers_ok"]) == (16.0, 1.0)
    assert (m["fair"], m["near"]) == (1.0, 1.0)  # the gold is in the answer


def test_near_is_scored_with_the_case_question_and_summarized_beside_fair() -> None:
    # 美图2023年收入为270亿元 against the gold 约270亿元: not inside it (fair 0); beyond the question 美图收入多少？
    # (runs 美图, 收入) it says 2023年为270亿元, against the gold's 约270亿元: common 270亿元 (5 of 11 and 6 characters),
    # F1 = 2 * (5/11) * (5/6) / (5/11 + 5/6) = 0.588; but 2023 is a number the gold lacks, so near is 0 too
    hedged = replace(ANSWERED, answers=("约270亿元",))
    m = eval_row(hedged, _answer(refused=False), 2, CORPUS).metrics
    assert (m["contains"], m["fair"], m["near"]) == (0.0, 0.0, 0.0)
    # without the year: 美图收入为270亿元 says 为270亿元 beyond the question: 5 of 6 and 6, F1 = 0.833
    short = replace(_answer(refused=False), text="美图收入为270亿元。[1]")
    rows = [eval_row(hedged, short, 2, CORPUS), eval_row(UNANSWERABLE, _answer(True), 2, CORPUS)]
    assert (rows[0].metrics["fair"], rows[0].metrics["near"]) == (0.0, 1.0)
    s = summarize("hybrid", rows, 2)
    assert (s["fair"], s["near"]) == (0.0, 1.0)  # over the answerable question only


def test_unanswerable_case_has_no_retrieval_metrics() -> None:
    row = eval_row(UNANSWERABLE, _answer(refused=True), 2, CORPUS)
    assert not row.answerable and row.refused
    assert all(math.isnan(row.metrics[k]) for k in ("hit@1", "recall@2", "mrr", "contains", "len"))


def test_summary_and_results_line() -> None:
    rows = [eval_row(ANSWERED, _answer(False), 2, CORPUS), eval_row(UNANSWERABLE, _answer(True), 2, CORPUS)]
    s = summarize("hybrid", rows, 2)
    assert (s["config"], s["n"], s["n_answerable"], s["n_unanswerable"]) == ("hybrid", 2, 1, 1)
    assert (s["hit@1"], s["hit@5"], s["recall@2"], s["mrr"]) == (0.0, 1.0, 1.0, 0.5)
    assert (s["refused_unanswerable"], s["wrongly_refused"], s["answer_len_median"]) == (1.0, 0.0, 16.0)
    assert (s["total_p50_ms"], s["embed_p95_ms"], s["markers_ok"]) == (13.0, 10.0, 1.0)
    line = row_to_json(rows[0])
    assert list(line) == ["id", "question", "tags", "answers", "evidence", "answerable", "answer", "refused",
                          "reason", "notice", "confidence", "reading", "answerer", "kind", "span", "split",
                          "citations", "hits", "retrieval_query", "metrics", "timings_ms"]
    assert (line["id"], line["tags"], line["answer"], line["refused"]) == ("q1", ["number"], _answer(False).text,
                                                                           False)
    assert (line["reason"], line["notice"], line["confidence"], line["reading"]) == ("", "", None, None)
    withheld = replace(_answer(True), reason="below the claim cut", notice="The model's answer was withheld.",
                       confidence=0.25)
    refused = row_to_json(eval_row(UNANSWERABLE, withheld, 2, CORPUS))  # why it was refused, for reading the run
    assert (refused["refused"], refused["reason"], refused["notice"], refused["confidence"]) == (
        True, "below the claim cut", "The model's answer was withheld.", 0.25)
    assert [c["sentence"] for c in line["citations"]] == [SENTENCE.text]
    assert [h["rank"] for h in line["hits"]] == [1, 2] and line["timings_ms"] == TIMINGS


def test_eval_request_checks_its_values(tmp_path) -> None:
    with pytest.raises(InputError, match="--limit 0 must be at least 1"):
        EvalRequest(limit=0)
    with pytest.raises(InputError, match="nope.jsonl does not exist"):
        EvalRequest(dataset=tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="--mode 'fuzzy' is unknown"):
        EvalRequest(mode="fuzzy")


# An open question scored by its required facts: the answer holds both facts but not the "gold" string.
OPEN = Case("q3", "美图是什么公司？", answers=("一家影像公司",), evidence=("收入为270亿元",), tags=("open", "entity"),
            facts=(("270亿",), ("厦门",)), facts_needed=2)
OPEN_ANSWER = Answer("q", "美图2023年收入为270亿元，总部位于厦门。[1]", False,
                     citations=(Citation(1, Hit(REVENUE, 0.02, 1), SENTENCE),), hits=(Hit(REVENUE, 0.02, 1),),
                     timings_ms=TIMINGS)


def test_the_report_and_the_summary_agree_on_correct() -> None:
    rows = [eval_row(ANSWERED, _answer(False), 2, CORPUS),  # factoid, gold contained: right
            eval_row(ANSWERED, _answer(True), 2, CORPUS),  # factoid refused: wrong
            eval_row(UNANSWERABLE, _answer(True), 2, CORPUS),  # refused: right
            eval_row(UNANSWERABLE, _answer(False), 2, CORPUS),  # answered: wrong
            eval_row(OPEN, OPEN_ANSWER, 2, CORPUS)]  # both facts, gold string absent: right
    assert [r.metrics["correct"] for r in rows] == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert rows[4].metrics["contains"] == 0.0  # what the report used to judge this row by
    summary = summarize("hybrid", rows, 2)
    by_tag = {t["tag"]: t["correct"] for t in tag_breakdown(rows)}
    assert by_tag["(all)"] == summary["correct"] == 3 / 5
    shared = [tag for tag in TAG_GROUPS if tag in by_tag]
    assert shared == ["open", "entity"]
    assert all(by_tag[tag] == summary[f"correct[{tag}]"] == 1.0 for tag in shared)
    wrong = failing_cases(rows)
    assert [r.id for r in wrong] == ["q1", "q2"] and len(wrong) == round((1 - summary["correct"]) * len(rows))
    cases = build_sections([summary], rows)[3]
    assert cases.text.startswith("2 of 5 questions judged wrong")
    assert [row[-1] for row in cases.rows] == ["refused", "should refuse"]


def test_the_model_share_counts_answers_the_model_wrote_not_extractive_ones_given_in_their_place() -> None:
    ran = {**TIMINGS, "generate": 900.0, "decode": 500.0, "first_token": 400.0}
    written = replace(_answer(False), answerer="auto", timings_ms=ran, generated_tokens=6)
    handed = replace(written, answerer="extractive")  # the model ran, its answer was handed over (README step 16)
    alone = replace(_answer(False), answerer="extractive")  # no model ran
    rows = [eval_row(ANSWERED, a, 2, CORPUS) for a in (written, handed, alone, alone)]
    s = summarize("auto", rows, 2)
    assert s["model_share"] == 0.25
    assert s["tokens_per_s"] == pytest.approx(5 / 0.5)  # both answers the model ran for: 5 tokens after the first in 0.5 s


def test_the_evaluations_own_index_built_with_other_settings_is_built_again(tmp_path, fake_embedder, fake_config):
    """README step 76: an evaluation's private index (a cache of its dataset) saved with other settings, e.g. before
    latin_chunk_scale existed, is built again; an index given with --index-dir is never replaced, its mismatch said."""
    import pytest

    from rag.documents import make_document
    from rag.errors import IndexMismatchError
    from rag.evaluation.runs import open_engine

    docs = [make_document("p#0", "星火公司2025年的研发投入为8.8亿元。")]
    said: list[str] = []
    open_engine(fake_config.with_(chunk_size=200), tmp_path / "idx", fake_embedder, docs, said.append)
    with pytest.raises(IndexMismatchError, match="chunk_size: index has 200, config wants 300"):
        open_engine(fake_config, tmp_path / "idx", fake_embedder, docs, said.append)
    engine = open_engine(fake_config, tmp_path / "idx", fake_embedder, docs, said.append, private=True)
    assert engine.config.chunk_size == 300 and [d["source"] for d in engine.documents()] == ["p#0"]
    assert any(m.startswith("building the evaluation's own index again: the index in") and m.endswith(
        "(chunk_size: index has 200, config wants 300)") for m in said)
    open_engine(fake_config, tmp_path / "idx", fake_embedder, docs, said.append)  # now it matches
