"""Runs an evaluation: builds the engines each configuration needs, runs the QA set, writes the results.

The `rag eval` command (rag/cli.py) turns its flags into an `EvalRequest` and prints what comes back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answering import ANSWERERS
from rag.chat import Engine
from rag.chunking import cut_sizes
from rag.config import BUNDLED_CORPUS, DEFAULT_INDEX_DIR, MODES, Config
from rag.documents import read_file
from rag.embedding import Embedder, load_embedder
from rag.errors import IndexMismatchError, InputError
from rag.evaluation.baseline import TutorialPipeline
from rag.evaluation.datasets import Case, is_squad
from rag.evaluation.evaluate import (
    DEFAULT_DATASET,
    DEFAULT_OUT,
    Corpus,
    default_index_dir,
    load_dataset,
    row_to_json,
    run_cases,
    summarize,
)
from rag.evaluation.report import write_reports
from rag.indexer import empty_index
from rag.schema import Answer, Document, EvalRow
from rag.serialize import nan_to_none

Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate and where to write it (the flags of `rag eval`)."""

    dataset: Path = DEFAULT_DATASET  # our JSONL QA set or a SQuAD-format .json (CMRC 2018)
    index_dir: Path | None = None  # None: a private index per dataset (see default_index_dir)
    k: int = 5
    mode: str = "hybrid"
    limit: int | None = None  # only the first N questions
    compare: bool = False  # dense vs bm25 vs hybrid, two chunk sizes, the baseline answerer, the tutorial
    out: Path = DEFAULT_OUT
    answerers: tuple[str, ...] = ()  # answerers to run side by side (empty: the configured one)
    split: str = "test"  # our JSONL set: "dev", "test" or "all"
    absent: float = 0.0  # SQuAD files: share of contexts left out of the index, their questions unanswerable

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise InputError(f"--limit {self.limit} must be at least 1.")
        if not Path(self.dataset).is_file():
            raise InputError(f"{self.dataset} does not exist; give a JSONL QA set or a SQuAD-format .json file.")
        if self.mode not in MODES:
            raise InputError(f"--mode {self.mode!r} is unknown; choose one of {', '.join(MODES)}.")
        if not 0 <= self.absent < 1:
            raise InputError(f"--absent {self.absent} must be a share in [0, 1), e.g. 0.5.")
        if (self.index_dir is not None and is_squad(Path(self.dataset))
                and Path(self.index_dir).resolve() == DEFAULT_INDEX_DIR.resolve()):
            raise InputError(f"--index-dir {self.index_dir} is the app's index: evaluating {self.dataset} would add "
                             "its paragraphs to it. Leave --index-dir out (each dataset gets its own under "
                             "index/eval-*) or give an empty folder.")
        unknown = [a for a in self.answerers if a not in ANSWERERS]
        if unknown:
            raise InputError(f"--answerer {','.join(unknown)} is unknown; choose from {', '.join(ANSWERERS)} "
                             "(comma-separated to compare).")


@dataclass(frozen=True)
class EvalResult:
    summaries: list[dict[str, Any]]  # one per configuration; the first is the primary one
    rows: list[EvalRow]  # the primary configuration's rows
    paths: dict[str, Path]  # every file written, by name


def open_engine(config: Config, index_dir: Path, embedder: Embedder, documents: list | None,
                progress: Progress, private: bool = False) -> Engine:
    """An engine over `documents` (None: the bundled article), building or extending the index as needed. A `private`
    index (the evaluation's own, not one given with --index-dir) built with other settings is built again: it is a
    cache of the dataset (an index saved before round 48 lacks latin_chunk_scale, README step 76)."""
    try:
        if documents is None:
            return Engine.open(config, index_dir, embedder=embedder, progress=progress, seed=True)
        engine = Engine(config, index_dir, embedder, empty_index(embedder))
        engine.add_documents(documents, progress=progress)  # starts from what is on disk, under the writer lock
        return engine
    except IndexMismatchError as exc:
        if not private:
            raise
        progress(f"building the evaluation's own index again: {exc.what}")  # the mismatch, not the advice
        engine = Engine(config, index_dir, embedder, empty_index(embedder, config))
        engine.rebuild(documents if documents is not None else [read_file(BUNDLED_CORPUS)], progress=progress)
        return engine


def engine_asker(engine: Engine, config: Config) -> Callable[[Case], Answer]:
    def ask(case: Case) -> Answer:
        return engine.ask(case.question, history=list(case.history), k=config.k, mode=config.mode,
                          answerer=config.answerer)
    return ask


def chunk_label(config: Config, documents: list[Document]) -> str:
    """The chunk sizes the documents are cut at (chunking.cut_sizes), as a run's label names them: "chunk 300",
    "chunk 1200" for English text (chunk_size times latin_chunk_scale, README step 76), "chunk 300/1200" for both."""
    sizes = sorted({cut_sizes(d, config.chunk_size, config.chunk_overlap, config.latin_chunk_scale)[0]
                    for d in documents})
    return "chunk " + "/".join(str(s) for s in sizes or [config.chunk_size])


def configurations(request: EvalRequest, base: Config, index_dir: Path,
                   documents: list[Document] | None = None) -> list[tuple[str, Config, Path]]:
    """(label, config, index dir) for every configuration to run over `documents` (they decide the label's chunk
    sizes; None: the configured size)."""
    answerers = request.answerers or (base.answerer,)
    chunks = chunk_label(base, documents or [])
    if not request.compare:
        return [(f"{a}, {request.mode} ({chunks})", base.with_(answerer=a), index_dir)
                for a in answerers]
    small = base.with_(chunk_size=150, chunk_overlap=30)
    return [
        (f"hybrid ({chunks})", base.with_(mode="hybrid"), index_dir),
        (f"dense ({chunks})", base.with_(mode="dense"), index_dir),
        (f"bm25 ({chunks})", base.with_(mode="bm25"), index_dir),
        (f"hybrid ({chunk_label(small, documents or [])})", small.with_(mode="hybrid"), index_dir / "compare-c150"),
        ("sentence baseline answerer, hybrid", base.with_(mode="hybrid", answerer="sentence"), index_dir),
    ]


def run_evaluation(request: EvalRequest, command: str, progress: Progress) -> EvalResult:
    """Run every configuration of `request`, write results.jsonl, summary.json and the reports to
    `request.out`, and return what was written. `command` is quoted in the reports."""
    documents, cases = load_dataset(request.dataset, request.limit, request.split, request.absent)
    if not cases:
        raise InputError(f"{request.dataset} has no cases in split {request.split!r}; use --split all.")
    index_dir = request.index_dir or default_index_dir(request.dataset)
    if documents is not None and request.index_dir is None and (request.limit or request.absent):
        index_dir = index_dir.parent / (f"{index_dir.name}-{request.limit or 'all'}"
                                        + (f"-absent{request.absent:g}" if request.absent else ""))
    base = Config.from_env(k=request.k, mode=request.mode)
    embedder = load_embedder(base, progress=progress)
    corpus_docs = documents if documents is not None else [read_file(BUNDLED_CORPUS)]
    corpus = Corpus(corpus_docs)
    progress(f"{len(cases)} questions over {len(corpus_docs)} document(s)")

    summaries: list[dict[str, Any]] = []
    primary_rows: list[EvalRow] = []
    other_rows: dict[str, list[EvalRow]] = {}  # side-by-side answerers: each one's rows, kept too
    for label, config, idx in configurations(request, base, index_dir, corpus_docs):
        engine = open_engine(config, idx, embedder, documents, progress, private=request.index_dir is None)
        for case in cases[:3]:  # warm-up, so latency figures are steady-state
            engine.ask(case.question, k=config.k, mode=config.mode, answerer=config.answerer)
        rows = run_cases(engine_asker(engine, config), cases, corpus, config.k, label)
        summaries.append(summarize(label, rows, config.k))
        if not primary_rows:
            primary_rows = rows
        elif len(request.answerers) > 1 and not request.compare:
            other_rows[config.answerer] = rows
    if request.compare:
        progress("reference: the plain tutorial pipeline (1000/200 chunks, top-4, answer = top chunk)")
        tutorial = TutorialPipeline(embedder, corpus_docs)
        rows = run_cases(lambda c: tutorial.ask(c.question), cases, corpus, 4, "tutorial")
        summary = summarize("tutorial baseline (1000/200, top-4)", rows, 4)
        summary["refused_unanswerable"] = summary["wrongly_refused"] = math.nan  # it cannot refuse
        summaries.append(summary)

    out = request.out
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.jsonl", "w", encoding="utf-8") as f:
        for row in primary_rows:
            f.write(json.dumps(nan_to_none(row_to_json(row)), ensure_ascii=False) + "\n")
    for answerer, rows in other_rows.items():  # results-<answerer>.jsonl, same lines, for per-case comparison
        with open(out / f"results-{answerer}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(nan_to_none(row_to_json(row)), ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps(nan_to_none(summaries), ensure_ascii=False, indent=2),
                                      encoding="utf-8")
    title = f"Evaluation: {request.dataset.name}" + (f" (first {request.limit})" if request.limit else "")
    paths = write_reports(out, title, summaries, primary_rows, command)
    return EvalResult(summaries, primary_rows, {"results.jsonl": out / "results.jsonl",
                                                "summary.json": out / "summary.json", **paths})
