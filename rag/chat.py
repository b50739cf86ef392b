"""The engine behind the CLI, the UI and the evaluation: load once, then ask and add documents.

`ask` cleans the question, resolves it against the conversation (rag/answering/question.py), retrieves,
and hands the hits to the configured answerer (rag/answering/).
"""

from __future__ import annotations

import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering import decide, make_answerer
from rag.answering import question as question_module
from rag.answering.base import Answerer, Evidence, refuse
from rag.answering.generation import Control
from rag.answering.question import (
    Question,
    earlier_question,
    leans_by_search,
    with_earlier_term,
    with_earlier_year,
)
from rag.config import BUNDLED_CORPUS, DEFAULT_INDEX_DIR, Config
from rag.documents import read_documents
from rag.embedding import Embedder, load_embedder
from rag.errors import IndexMissingError, InputError, ModelError
from rag.indexer import AddReport, add_documents, empty_index
from rag.resume import RESUME_DIR
from rag.retrieval import best_cosine, retrieve_fused
from rag.schema import Answer, Document, Hit
from rag.script import fold_to_documents
from rag.store import Index, config_for_index, load_index, save_index, writer_lock
from rag.tokenize import tokenize

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Searched:
    """What `Engine.search` found: the hits, the vector the answer path reads (the question as asked), the texts
    searched (more than one where step 52 fused the search), and the seconds spent embedding and searching."""

    hits: tuple[Hit, ...]
    answer_vector: np.ndarray
    queries: tuple[str, ...]
    embed_s: float
    search_s: float


def in_documents_script(text: str, history: Sequence[dict] | None,
                        index: Index) -> tuple[str, Sequence[dict] | None, str]:
    """(question, history, notice): the question and the conversation's earlier questions with the traditional
    characters the documents never write read in simplified ones (rag/script.py, README step 88), and a notice saying
    so ("" when nothing changed). An earlier answer is the documents' own text and is left as it is."""
    def fold(question: str) -> str:
        return fold_to_documents(question, index.characters, index.writes, index.traditional)

    folded = fold(text)
    turns = history
    if history and isinstance(history, Sequence) and not isinstance(history, str):
        turns = [{**t, "content": fold(t["content"])}
                 if isinstance(t, Mapping) and t.get("role") == "user" and isinstance(t.get("content"), str) else t
                 for t in history]
    if folded == text:
        return text, turns, ""
    return folded, turns, f"Read in simplified characters, as the documents are written: “{folded}”."


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


def check_fingerprint(index: Index, embedder: Embedder, index_dir: Path) -> None:
    """Vectors of two models (or two builds of one) do not mix: refuse an index built with another."""
    built_with = index.manifest.get("model_fingerprint")
    if built_with and built_with != embedder.fingerprint:
        raise ModelError(f"the index in {index_dir} was built with another copy of model "
                         f"{index.manifest.get('model')!r} (fingerprint differs); run "
                         f"`rag index --rebuild --index-dir {index_dir}`.")


def names_term(answer: Answer, term: str) -> bool:
    """Whether `answer` is a refusal, or one of the passages it cites holds `term` (case aside), so it may answer a
    follow-up that asked only about that term (README step 119; question.TERM_BESIDE off: always)."""
    return (answer.refused or not question_module.TERM_BESIDE
            or any(term.lower() in c.hit.chunk.text.lower() for c in answer.citations))


class Engine:
    """Embedder + index, loaded once. Thread-safe for asking; adding takes a file lock."""

    def __init__(self, config: Config, index_dir: Path, embedder: Embedder, index: Index) -> None:
        self.config = config
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.index = index
        self._answerers: dict[str, Answerer] = {}
        self._answerers_lock = threading.Lock()

    def answerer(self, name: str | None = None) -> Answerer:
        """The answerer `name` (default: the configured one), built once and kept: two first questions
        at once must not build two, since an answerer holds the process's one model queue."""
        name = name or self.config.answerer
        with self._answerers_lock:
            if name not in self._answerers:
                self._answerers[name] = make_answerer(self.config, name)
            return self._answerers[name]

    def warm(self, progress: Progress | None = None) -> str:
        """Load the configured answerer's language model now rather than at the first question (the app
        calls this at start-up). Returns "" or why the model cannot run (answers then fall back)."""
        answerer = self.answerer()
        warm = getattr(answerer, "warm", None)
        return warm(progress) if warm is not None else ""

    @staticmethod
    def config_for(index_dir: Path, settings: Mapping[str, Any] | None = None, rebuild: bool = False) -> Config:
        """The configuration for working on `index_dir`: defaults, RAG_* variables, the `settings` chosen
        explicitly (None = not chosen), and, unless rebuilding, the index's saved build settings for what
        was not chosen (store.config_for_index), so an index built with other settings just opens."""
        return config_for_index(Path(index_dir), rebuild=rebuild, **dict(settings or {}))

    @classmethod
    def open(cls, config: Config | None = None, index_dir: Path | None = None, embedder: Embedder | None = None,
             progress: Progress | None = None, seed: bool = False,
             settings: Mapping[str, Any] | None = None) -> Engine:
        """Load the index, then the model (so a missing or broken index fails fast, before seconds of
        model loading). With `seed`, an index dir holding no index yet gets the bundled article.
        Without `config`, it is resolved from the index and `settings` (see config_for)."""
        index_dir = Path(index_dir or DEFAULT_INDEX_DIR)
        if config is None:
            config = cls.config_for(index_dir, settings)
        elif settings:
            raise TypeError("Engine.open takes a config or settings to resolve one from, not both")
        try:
            index = load_index(index_dir, config)
        except IndexMissingError:
            if not seed:
                raise
            index = None
        embedder = embedder or load_embedder(config, progress=progress)
        if index is None:
            engine = cls(config, index_dir, embedder, empty_index(embedder, config))
            if progress:
                progress(f"first run: no index in {index_dir}; indexing the bundled article there")
            engine.add_files([BUNDLED_CORPUS], progress=progress)
            return engine
        check_fingerprint(index, embedder, index_dir)
        return cls(config, index_dir, embedder, index)

    def ask(self, question: str, history: Sequence[dict] | None = None, k: int | None = None,
            mode: str | None = None, answerer: str | None = None,
            on_token: Callable[[str], None] | None = None, control: Control | None = None) -> Answer:
        """The answer to `question`. `control` (rag/answering/generation.py) streams a model's pieces, reports
        the request's place in the model queue and stops it; `on_token` alone is the short form."""
        if on_token is None and control is not None:
            on_token = control.on_token
        cfg = self.config.with_(k=k, mode=mode, answerer=answerer)  # validates k, mode and answerer
        t0 = time.perf_counter()
        text, notice = clean_question(question, cfg.max_question_chars)
        index = self.index  # one consistent snapshot even if an upload swaps it meanwhile
        text, history, folded = in_documents_script(text, history, index)  # README step 88
        whole, term = with_earlier_year(text, history), ""  # README step 117: `2022年呢？` asks about 2022
        if not whole:  # README step 118: `比特币呢？` asks the earlier question about 比特币
            whole, term = with_earlier_term(text, history, self.likeness)
        read_as = ""
        if whole and len(whole) <= cfg.max_question_chars:  # an earlier turn sent longer than a question may be: as asked
            about = f"“{term}”" if term else "that year"
            text, read_as = whole, f"Read as the earlier question about {about}: “{whole}”."
        else:
            term = ""
        notice = " ".join(n for n in (notice, folded, read_as) if n)
        asked, lean_ms = self.resolve(text, history, index, cfg)
        chosen = self.answerer(cfg.answerer)
        query, search_note, translated_ms = asked.retrieval_query, "", None
        search_query = getattr(chosen, "search_query", None)  # the model answerer may translate it (English over Chinese)
        if search_query is not None and asked.language == "en":
            t_tr = time.perf_counter()
            query, search_note, translated = search_query(asked, index, control or Control())
            if translated:  # the model was asked
                translated_ms = (time.perf_counter() - t_tr) * 1000
        t1 = time.perf_counter()
        found = self.search(asked, index, cfg, query)
        t2, t3 = t1 + found.embed_s, t1 + found.embed_s + found.search_s
        hits = list(found.hits)
        if hits:
            answer = chosen.answer(asked, hits, Evidence(index, found.answer_vector, self.embedder), on_token,
                                   control=control)
        else:
            answer = refuse(text, answerer=chosen.name, reason=decide.NO_HITS)
        if term and not names_term(answer, term):  # README step 119: the follow-up asked only about its term
            answer = refuse(text, hits, answerer=chosen.name, kind=answer.kind,
                            reason=f"the follow-up asks about “{term}”, which no passage the answer stands on names")
        t4 = time.perf_counter()
        timings = {**answer.timings_ms,  # an answerer's own parts (queue wait, first token), if it has them
                   "embed": (t2 - t1) * 1000, "search": (t3 - t2) * 1000, "answer": (t4 - t3) * 1000,
                   "total": (t4 - t0) * 1000}
        if translated_ms is not None:
            timings["translate"] = translated_ms
        if lean_ms is not None:
            timings["lean"] = lean_ms
        notices = " ".join(n for n in (notice, search_note, answer.notice) if n)
        # an answerer's own stages (queue, first_token, generate: time since its start) are kept beside these
        stages = {**answer.timings_ms, **timings}
        if "first_token" in stages:  # from the question's arrival, as a user waits for it
            stages["first_token"] += (t3 - t0) * 1000
        return replace(answer, timings_ms={k: round(v, 2) for k, v in stages.items()},
                       retrieval_query=" | ".join(found.queries), notice=notices)

    def likeness(self, term: str, candidates: list[str]) -> list[float]:
        """The cosine of each candidate's query vector to `term`'s (README step 118: which words of the earlier
        question a follow-up's term takes the place of)."""
        vectors = self.embedder.embed_queries([term, *candidates])
        return [float(v @ vectors[0]) for v in vectors[1:]]

    def resolve(self, text: str, history: Sequence[dict] | None, index: Index,
                cfg: Config | None = None) -> tuple[Question, float | None]:
        """`text` (a cleaned question) in its conversation, as `ask` answers it: leaning on the earlier question by
        its words (step 36: a pronoun for the search only), by the search where a gain is set (step 34), or searched
        both as asked and after it, fused (step 52); and the milliseconds step 34's check took (None: not made).
        Scripts that build their own answerer search through this and `search`, as the product does."""
        cfg = cfg or self.config
        asked = Question.make(text, history, cfg.pronoun_search_only)  # README step 36
        if cfg.pronoun_fused and asked.searched_after:  # README step 52: a pronoun's search fused, not replaced
            asked = replace(asked, searched_after="", fused_after=asked.searched_after)
        asked, lean_ms = self.lean_by_search(asked, index, cfg.followup_dense_gain, cfg.followup_search_only)
        if cfg.followup_fused and asked.language == "zh":  # step 52: a question after another searched both ways
            asked = asked.fused_with_earlier()
        return asked, lean_ms

    def search(self, asked: Question, index: Index, cfg: Config | None = None, query: str | None = None) -> Searched:
        """The hits for `asked` (`resolve`'s): `query` (default its retrieval query; an English question's translation
        where the model made one) and, where step 52 fused it, the question after the earlier one too, the rankings
        fused; the answer path reads the question as asked with its own vector (its sentence cosines, the standing
        bar), while the hits' dense and BM25 scores are the searches' (each hit's best over them; with
        Config.fused_scores_asked, step 54, the first search's)."""
        cfg = cfg or self.config
        t0 = time.perf_counter()
        queries = (query or asked.retrieval_query, *asked.search_queries[1:])
        texts = list(dict.fromkeys([*queries, asked.answer_query]))
        vectors = self.embedder.embed_queries(texts)
        t1 = time.perf_counter()
        hits = retrieve_fused(index, [vectors[texts.index(q)] for q in queries], [tokenize(q) for q in queries],
                              cfg.k, cfg.mode, cfg.rrf_k, cfg.fusion_depth, cfg.fused_scores_asked)
        return Searched(tuple(hits), vectors[texts.index(asked.answer_query)], queries, t1 - t0,
                        time.perf_counter() - t1)

    def lean_by_search(self, asked: Question, index: Index, gain: float,
                       search_only: bool = True) -> tuple[Question, float | None]:
        """`asked`, leaning on the conversation's earlier question where its words did not say so but the search does
        (question.leans_by_search, README step 34): for the search only (`searched_after`), or for the answer too
        (`previous`, as a short question without a pronoun leans it); and the milliseconds the check took (None: not
        made). Only a Chinese question is checked: the gain was fitted on Chinese conversations, and an English question's cosine to
        Chinese passages rises with any Chinese text in front of it."""
        earlier = ("" if asked.previous or asked.searched_after or asked.fused_after or gain == math.inf
                   or asked.language != "zh"
                   else earlier_question(asked.history))
        if not earlier:
            return asked, None
        t = time.perf_counter()
        alone, joined = self.embedder.embed_queries([asked.text, f"{earlier} {asked.text}"])
        if leans_by_search(best_cosine(index, alone), best_cosine(index, joined), gain):
            asked = replace(asked, **{"searched_after" if search_only else "previous": earlier})
        return asked, (time.perf_counter() - t) * 1000

    def add_documents(self, documents: Sequence[Document], progress: Progress | None = None) -> AddReport:
        """Add already-read documents; writes a new index generation only when something changed."""
        with writer_lock(self.index_dir, on_wait=progress):
            try:  # start from what is on disk: another process may have added documents meanwhile
                base = load_index(self.index_dir, self.config)
            except IndexMissingError:
                base = empty_index(self.embedder, self.config)
            check_fingerprint(base, self.embedder, self.index_dir)
            new_index, report = add_documents(base, documents, self.embedder, self.config, progress,
                                              resume_dir=self.index_dir / RESUME_DIR)
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
            new_index, report = add_documents(empty_index(self.embedder, self.config), documents, self.embedder,
                                              self.config, progress, resume_dir=self.index_dir / RESUME_DIR)
            save_index(new_index, self.index_dir, self.config)
            self.index = new_index
        return report

    def documents(self) -> list[dict]:
        return list(self.index.documents)
