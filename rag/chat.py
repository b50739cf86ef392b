"""The engine behind the CLI, the UI and the evaluation: load once, then ask and add documents.

Follow-up questions are resolved before retrieval: when a question leans on the conversation (a pronoun
such as 他/它/其/this/he, or it is very short), the previous user question is put in front of it for
retrieval, so "他对毛利率说了什么？" after "美图的CFO是谁？" searches for both. The answer still
answers the question as asked.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from rag.answer import Query, RefusalPolicy, answer_question, refuse
from rag.config import BUNDLED_CORPUS, DEFAULT_INDEX_DIR, Config
from rag.documents import read_documents
from rag.embedding import Embedder, load_embedder
from rag.errors import IndexMissingError, InputError, ModelError
from rag.indexer import AddReport, add_documents, empty_index
from rag.retrieval import retrieve
from rag.schema import Answer, Document
from rag.store import Index, load_index, save_index, writer_lock
from rag.tokenize import tokenize

Progress = Callable[[str], None]
# Words that lean on an earlier turn: personal pronouns, and 这/那/此 used on their own or before a
# measure word (这个, 那家, 此事), but not 这段文字 or 那时候 style phrases that name what they mean.
FOLLOWUP = re.compile(r"他|她|它|其|该|上述|前者|后者|[这那此](?:[个些家项款种位次样]|$|[？?，,呢])|"
                      r"\b(he|she|it|its|his|her|they|their|them|this|that|these|those)\b", re.I)


def clean_question(question: str, limit: int) -> tuple[str, str]:
    """(question fit for retrieval, notice for the user). Raises InputError when nothing usable is left."""
    if not isinstance(question, str):
        raise InputError(f"the question must be text, not {type(question).__name__}; ask in words.")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") else c for c in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InputError("the question is empty; type a question about the documents.")
    notice = ""
    if len(text) > limit:
        notice = f"the question was {len(text)} characters long and was cut to the first {limit}."
        text = text[:limit]
    if not any(c.isalnum() for c in text):
        raise InputError(f"the question {text[:40]!r} has no words or numbers to search for; ask in words.")
    return text, notice


def followup_context(question: str, history: Sequence[dict] | None) -> str:
    """The earlier user question that `question` leans on, or "" when it stands on its own."""
    if history is not None and not (isinstance(history, list | tuple) and all(
            isinstance(t, dict) and isinstance(t.get("content", ""), str) for t in history)):
        raise InputError("history must be a list of {\"role\": \"user\"|\"assistant\", \"content\": text} turns.")
    previous = [t.get("content", "") for t in (history or []) if t.get("role") == "user" and t.get("content")]
    if previous and (FOLLOWUP.search(question) or len(question) <= 6):
        return previous[-1]
    return ""


def followup_query(previous: str, question: str) -> str:
    """The retrieval query for a question and the earlier question it leans on ("" for none)."""
    return f"{previous} {question}" if previous else question


def resolve_followup(question: str, history: Sequence[dict] | None) -> str:
    """The retrieval query: the question, preceded by the last user turn when it depends on it."""
    return followup_query(followup_context(question, history), question)


def check_fingerprint(index: Index, embedder: Embedder, index_dir: Path) -> None:
    """Vectors of two models (or two builds of one) do not mix: refuse an index built with another."""
    built_with = index.manifest.get("model_fingerprint")
    if built_with and built_with != embedder.fingerprint:
        raise ModelError(f"the index in {index_dir} was built with another copy of model "
                         f"{index.manifest.get('model')!r} (fingerprint differs); run "
                         f"`rag index --rebuild --index-dir {index_dir}`.")


class Engine:
    """Embedder + index, loaded once. Thread-safe for asking; adding takes a file lock."""

    def __init__(self, config: Config, index_dir: Path, embedder: Embedder, index: Index) -> None:
        self.config = config
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.index = index

    @classmethod
    def open(cls, config: Config, index_dir: Path | None = None, embedder: Embedder | None = None,
             progress: Progress | None = None, seed: bool = False) -> Engine:
        """Load the index, then the model (so a missing or broken index fails fast, before seconds of
        model loading). With `seed`, an index dir holding no index yet gets the bundled article."""
        index_dir = Path(index_dir or DEFAULT_INDEX_DIR)
        try:
            index = load_index(index_dir, config)
        except IndexMissingError:
            if not seed:
                raise
            index = None
        embedder = embedder or load_embedder(config, progress=progress)
        if index is None:
            engine = cls(config, index_dir, embedder, empty_index(embedder))
            if progress:
                progress(f"first run: no index in {index_dir}; indexing the bundled article there")
            engine.add_files([BUNDLED_CORPUS], progress=progress)
            return engine
        check_fingerprint(index, embedder, index_dir)
        return cls(config, index_dir, embedder, index)

    def ask(self, question: str, history: Sequence[dict] | None = None, k: int | None = None,
            mode: str | None = None) -> Answer:
        cfg = self.config.with_(k=k, mode=mode)  # validates k and mode
        t0 = time.perf_counter()
        question, notice = clean_question(question, cfg.max_question_chars)
        previous = followup_context(question, history)
        query = followup_query(previous, question)
        tokens = tokenize(query)
        vector = self.embedder.embed_queries([query])[0]
        t1 = time.perf_counter()
        index = self.index  # one consistent snapshot even if an upload swaps it meanwhile
        hits = retrieve(index, vector, tokens, cfg.k, cfg.mode, cfg.rrf_k, cfg.fusion_depth)
        t2 = time.perf_counter()
        if hits:
            answer = answer_question(Query.make(question, previous), vector, index, hits, cfg.max_answer_chars,
                                     RefusalPolicy(cfg.refuse_min_coverage, cfg.refuse_min_cosine, cfg.refuse_min_z))
        else:
            answer = refuse(question)
        t3 = time.perf_counter()
        timings = {"embed": (t1 - t0) * 1000, "search": (t2 - t1) * 1000, "answer": (t3 - t2) * 1000,
                   "total": (t3 - t0) * 1000}
        return replace(answer, timings_ms={k: round(v, 2) for k, v in timings.items()},
                       retrieval_query=query, notice=notice)

    def add_documents(self, documents: Sequence[Document], progress: Progress | None = None) -> AddReport:
        """Add already-read documents; writes a new index generation only when something changed."""
        with writer_lock(self.index_dir, on_wait=progress):
            try:  # start from what is on disk: another process may have added documents meanwhile
                base = load_index(self.index_dir, self.config)
            except IndexMissingError:
                base = empty_index(self.embedder)
            check_fingerprint(base, self.embedder, self.index_dir)
            new_index, report = add_documents(base, documents, self.embedder, self.config, progress)
            if report.changed:
                save_index(new_index, self.index_dir, self.config)
            self.index = new_index
        return report

    def add_files(self, paths: Sequence[Path], progress: Progress | None = None) -> AddReport:
        """Read every file first (so one bad file rejects the whole add), then add them together."""
        documents = read_documents([Path(p) for p in paths], self.config.max_file_bytes)
        return self.add_documents(documents, progress)

    def rebuild(self, documents: Sequence[Document], progress: Progress | None = None) -> AddReport:
        """Replace the whole index by one built from `documents` (already read, see read_documents)."""
        with writer_lock(self.index_dir, on_wait=progress):
            new_index, report = add_documents(empty_index(self.embedder), documents, self.embedder,
                                              self.config, progress)
            save_index(new_index, self.index_dir, self.config)
            self.index = new_index
        return report

    def documents(self) -> list[dict]:
        return list(self.index.documents)
