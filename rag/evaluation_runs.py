"""Orchestrates `rag eval`: builds the engines each configuration needs, runs them, writes the reports."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from rag.baseline import TutorialPipeline
from rag.chat import Engine
from rag.config import BUNDLED_CORPUS, Config
from rag.datasets import Case
from rag.documents import read_file
from rag.embedding import Embedder, load_embedder
from rag.evaluate import Corpus, default_index_dir, load_dataset, run_cases, summarize
from rag.indexer import empty_index
from rag.serialize import nan_to_none


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def open_engine(config: Config, index_dir: Path, embedder: Embedder, documents: list | None) -> Engine:
    """An engine over `documents` (None: the bundled article), building or extending the index as needed."""
    if documents is None:
        return Engine.open(config, index_dir, embedder=embedder, progress=_say, seed=True)
    engine = Engine(config, index_dir, embedder, empty_index(embedder))
    engine.add_documents(documents, progress=_say)  # starts from what is on disk, under the writer lock
    return engine


def engine_asker(engine: Engine, k: int, mode: str, answerer: str):
    def ask(case: Case):
        return engine.ask(case.question, history=list(case.history), k=k, mode=mode, answerer=answerer)
    return ask


def configurations(args: argparse.Namespace, base: Config, index_dir: Path) -> list[tuple[str, Config, Path]]:
    """(label, config, index dir) for every configuration to run."""
    answerers = [a.strip() for a in (args.answerer or base.answerer).split(",") if a.strip()]
    if not args.compare:
        return [(f"{a}, {args.mode} (chunk {base.chunk_size})", base.with_(answerer=a), index_dir) for a in answerers]
    small = base.with_(chunk_size=150, chunk_overlap=30)
    return [
        (f"hybrid (chunk {base.chunk_size})", base.with_(mode="hybrid"), index_dir),
        (f"dense (chunk {base.chunk_size})", base.with_(mode="dense"), index_dir),
        (f"bm25 (chunk {base.chunk_size})", base.with_(mode="bm25"), index_dir),
        ("hybrid (chunk 150)", small.with_(mode="hybrid"), index_dir / "compare-c150"),
        ("sentence baseline answerer, hybrid", base.with_(mode="hybrid", answerer="sentence"), index_dir),
    ]


def run_evaluation(args: argparse.Namespace, command: str) -> list[dict[str, Any]]:
    documents, cases = load_dataset(args.dataset, args.limit, args.split, args.absent)
    index_dir = args.index_dir or default_index_dir(args.dataset)
    if documents is not None and args.index_dir is None and (args.limit or args.absent):
        index_dir = index_dir.parent / (f"{index_dir.name}-{args.limit or 'all'}"
                                        + (f"-absent{args.absent:g}" if args.absent else ""))
    base = Config.from_env(k=args.k, mode=args.mode)
    embedder = load_embedder(base, progress=_say)
    corpus_docs = documents if documents is not None else [read_file(BUNDLED_CORPUS)]
    corpus = Corpus(corpus_docs)
    _say(f"{len(cases)} questions over {len(corpus_docs)} document(s)")

    summaries: list[dict[str, Any]] = []
    primary_rows: list[dict[str, Any]] = []
    for label, config, idx in configurations(args, base, index_dir):
        engine = open_engine(config, idx, embedder, documents)
        for case in cases[:3]:  # warm-up, so latency figures are steady-state
            engine.ask(case.question, k=config.k, mode=config.mode, answerer=config.answerer)
        rows = run_cases(engine_asker(engine, config.k, config.mode, config.answerer), cases, corpus, config.k,
                         label)
        summaries.append(summarize(label, rows, config.k))
        if not primary_rows:
            primary_rows = rows
    if args.compare:
        _say("reference: the plain tutorial pipeline (1000/200 chunks, top-4, answer = top chunk)")
        tutorial = TutorialPipeline(embedder, corpus_docs)
        rows = run_cases(lambda c: tutorial.ask(c.question), cases, corpus, 4, "tutorial")
        summary = summarize("tutorial baseline (1000/200, top-4)", rows, 4)
        summary["refused_unanswerable"] = summary["wrongly_refused"] = math.nan  # it cannot refuse
        summaries.append(summary)

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "results.jsonl", "w", encoding="utf-8") as f:
        for row in primary_rows:
            f.write(json.dumps(nan_to_none(row), ensure_ascii=False) + "\n")
    (args.out / "summary.json").write_text(json.dumps(nan_to_none(summaries), ensure_ascii=False, indent=2),
                                           encoding="utf-8")
    title = f"Evaluation: {args.dataset.name}" + (f" (first {args.limit})" if args.limit else "")
    from rag.report import format_summary_table, write_reports

    paths = write_reports(args.out, title, summaries, primary_rows, command)
    print(format_summary_table(summaries))
    print(f"\nwrote {args.out / 'results.jsonl'}, " + ", ".join(str(p) for p in paths.values()))
    return summaries
