"""Where the answer's sentence stands in each order the model's excerpts can take (README step 43): the extractive
sentence model's and the excerpt ranker's, over a built evaluation index. No model call.

    .venv/bin/python scripts/excerpt_recall.py --dataset ../shared/datasets/cmrc2018_dev.json --limit 600
    .venv/bin/python scripts/excerpt_recall.py --split test          # the article QA set's test split

For every answerable Chinese factoid (searched as the product searches it, follow-ups without their history): the
share whose gold answer is in the first 1, 2 and 3 sentences of each order, and inside the excerpts the default policy
sends (context.select_excerpts); then ExtractiveAnswerer.analyse's time with and without the ranker (warm: each
question analysed once untimed first). The index is the
one `rag eval` builds for the set (index/eval-…): run `rag eval` on it once first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loss_budget import holds  # noqa: E402  (a gold answer inside a text, normalized as the evaluation compares)

from rag.answering.base import Evidence
from rag.answering.context import select_excerpts
from rag.answering.extractive import Analysis, ExtractiveAnswerer
from rag.answering.model import DEFAULT_POLICY
from rag.answering.question import Question
from rag.chat import Engine
from rag.config import PROJECT_ROOT
from rag.errors import RagError
from rag.evaluation.datasets import load_jsonl_cases, load_squad, select_split
from rag.evaluation.evaluate import default_index_dir
from rag.retrieval import retrieve
from rag.tokenize import tokenize

ORDERS = ("order", "excerpt_order")  # Analysis fields: the sentence model's, the excerpt ranker's


def standing(analysis: Analysis, order: list[int], golds: list[str]) -> tuple[int | None, bool]:
    """(the rank of the first sentence holding a gold answer in `order`, None if none does; whether the excerpts the
    default policy builds from `order` hold one)."""
    rank = next((k for k, i in enumerate(order) if holds(analysis.candidates[i].sentence.text, golds)), None)
    p = DEFAULT_POLICY
    excerpts = select_excerpts(analysis.candidates, order, p.top_sentences, p.max_excerpt_chars, fill=p.excerpt_fill)
    return rank, any(holds(e.hit.chunk.text, golds) for e in excerpts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=None, help="a SQuAD-format set (default: the article QA set)")
    ap.add_argument("--limit", type=int, default=None, help="with --dataset: its first N questions, as rag eval --limit")
    ap.add_argument("--split", default="test", help="without --dataset: the article QA set's split")
    args = ap.parse_args(argv)
    if args.dataset is not None:
        _, cases = load_squad(args.dataset, args.limit)
        index_dir = default_index_dir(args.dataset)
        if args.limit:
            index_dir = index_dir.with_name(f"{index_dir.name}-{args.limit}")
    else:
        cases = select_split(load_jsonl_cases(PROJECT_ROOT / "eval" / "qa_article.jsonl"), args.split)
        index_dir = default_index_dir(PROJECT_ROOT / "eval" / "qa_article.jsonl")
    try:
        engine = Engine.open(index_dir=index_dir)
    except RagError as exc:
        raise SystemExit(f"{exc} (build it with rag eval on the same set first)") from None
    cfg = engine.config
    ranked = ExtractiveAnswerer()
    if ranked.models.excerpt is None:
        raise SystemExit("model.json saves no excerpt ranker: fit one with scripts/fit_excerpt_ranker.py")
    plain = ExtractiveAnswerer(models=replace(ranked.models, excerpt=None))
    counts = {o: {"top1": 0, "top2": 0, "top3": 0, "excerpts": 0} for o in ORDERS}
    times: dict[str, list[float]] = {"without": [], "with": []}
    n = 0
    for case in cases:
        if not case.answers:
            continue
        q = Question.make(case.question, None, cfg.pronoun_search_only)
        if q.language != "zh":
            continue
        vector = engine.embedder.embed_queries([q.retrieval_query])[0]
        hits = retrieve(engine.index, vector, tokenize(q.retrieval_query), cfg.k, cfg.mode, cfg.rrf_k, cfg.fusion_depth)
        evidence = Evidence(engine.index, vector, engine.embedder)
        ranked.analyse(q, hits, evidence)  # once untimed: the word cuts and lookups both share are cached after it
        for name, answerer in (("without", plain), ("with", ranked)):
            t0 = time.perf_counter()
            analysis = answerer.analyse(q, hits, evidence)
            times[name].append((time.perf_counter() - t0) * 1000)
        if analysis.shape != "factoid" or not analysis.candidates:
            continue
        n += 1
        for o in ORDERS:
            rank, sent = standing(analysis, getattr(analysis, o), list(case.answers))
            for k in (1, 2, 3):
                counts[o][f"top{k}"] += rank is not None and rank < k
            counts[o]["excerpts"] += sent
    print(f"{n} answerable Chinese factoids ({index_dir.name})")
    for o, label in zip(ORDERS, ("sentence model", "excerpt ranker"), strict=True):
        c = counts[o]
        print(f"  {label:15s} answer in the best 1: {c['top1'] / max(n, 1):.1%}  2: {c['top2'] / max(n, 1):.1%}  "
              f"3: {c['top3'] / max(n, 1):.1%}  in the excerpts: {c['excerpts'] / max(n, 1):.1%} ({c['excerpts']})")
    for name in ("without", "with"):
        xs = sorted(times[name])
        if xs:
            print(f"  analyse {name} the ranker: p50 {statistics.median(xs):.1f} ms, "
                  f"p95 {xs[min(len(xs) - 1, int(0.95 * len(xs)))]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
