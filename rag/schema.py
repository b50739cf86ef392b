"""The types that flow between modules: Document -> Chunk -> Hit -> Citation/Answer, and the records
built from them: DocumentRecord (what the index holds per document), EvalRow (one evaluated question)."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

# The citation marker every answerer writes and every reader (UI, metrics, checks) parses: "[n]", n >= 1.
CITATION_MARKER = re.compile(r"\[(\d+)\]")


def content_hash(text: str) -> str:
    """Stable hex digest of text; used for document ids and idempotent adds."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dedup_key(text: str) -> str:
    """What two texts share when they are the same passage: NFKC-folded, whitespace removed. Cleaning drops
    repeated paragraphs by it (rag/documents.py); retrieval collapses the same passage found in two
    documents by it (rag/retrieval.py)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, read in 1 MiB blocks (model weights and index files can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) of text so it neither starts nor ends with whitespace (may become empty)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) into a document's original text."""

    start: int
    end: int


@dataclass(frozen=True)
class Section:
    """A run of kept paragraphs that is contiguous in the original text, under one heading."""

    title: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """A source file as read: its original text, and the parts cleaning kept.

    `text` is exactly what the reader produced (for .txt, the decoded file); every offset in the
    project points into it, so `text[s.start:s.end]` is always real text of the source.
    """

    source: str  # display name, e.g. "meitu_ai_article.txt"
    text: str
    sections: tuple[Section, ...]
    doc_id: str  # content hash of `text`
    path: str = ""  # the file it was read from, resolved: its identity when it is indexed again ("" = none)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document. `document.text[start:end] == text` always holds."""

    id: str
    doc_id: str
    source: str
    start: int
    end: int
    title: str
    text: str

    @staticmethod
    def make_id(doc_id: str, start: int, end: int) -> str:
        return hashlib.sha1(f"{doc_id}:{start}:{end}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its scores. `dense`/`bm25` are None when that retriever missed it."""

    chunk: Chunk
    score: float  # fused (reciprocal rank fusion) score, higher is better
    rank: int  # 1-based position in the final list
    dense: float | None = None
    bm25: float | None = None


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document's kept text, with offsets into the original document text."""

    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Citation:
    """What `[n]` in an answer points at: the hit and the supporting sentence inside it."""

    n: int
    hit: Hit
    sentence: Sentence


@dataclass(frozen=True)
class AnswerSpan:
    """The shortest text that answers a factoid question (a name, amount, date, list item): it lies inside
    the sentence of citation `n`, at `start:end` of document `doc_id`'s original text, and at
    `at:at + len(text)` of the answer's text (renderers make it bold there; the text carries no markup)."""

    text: str
    doc_id: str
    start: int
    end: int
    n: int
    at: int = -1  # where the span starts in Answer.text; -1 when the answer does not show it


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer and the citation numbers it carries. `unsupported` marks a generated
    sentence that no cited passage supports (the LLM answerer); extractive sentences are quotes."""

    text: str
    citations: tuple[int, ...] = ()
    unsupported: bool = False


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # short answer with [n] markers, or the refusal message
    refused: bool
    citations: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    # what the search read: the question as resolved against the conversation (for an English question over
    # Chinese text, the model's translation where it makes one: ModelAnswerer.search_query); where the search was
    # fused with the earlier question's (README step 52), both texts searched, joined by " | " (chat.Searched.queries)
    retrieval_query: str = ""
    notice: str = ""  # e.g. "the question was cut to 500 characters"
    span: AnswerSpan | None = None  # factoid answers: the exact answering text, shown in bold
    sentences: tuple[AnswerSentence, ...] = ()  # the answer split into its cited sentences
    answerer: str = ""  # which answerer wrote it ("extractive", "sentence", "llm")
    kind: str = ""  # the question kind the answer was shaped for (factoid, open, summary, entity, ...)
    generated_tokens: int = 0  # tokens a language model wrote for it (0: none ran)
    reason: str = ""  # a refusal: the rule that refused and its numbers (rag/answering/decide.py)
    # a model's factoid reply: the probability it gave the least sure token of its content
    # (rag/answering/confidence.py, the statistic routes.json names); None when not measured
    confidence: float | None = None
    # the reading check's P("是") where it was asked (a Chinese factoid below the claim cut; README step 12)
    reading: float | None = None

    def span_parts(self) -> tuple[str, str, str]:
        """(text before the span, the span, text after it): what a renderer needs to make the span bold
        (`**` on a terminal, <b> in HTML, each part escaped on its own). ("text", "", "") without a span."""
        span = self.span
        if span is None or span.at < 0 or self.text[span.at:span.at + len(span.text)] != span.text:
            return self.text, "", ""
        return self.text[:span.at], span.text, self.text[span.at + len(span.text):]


@dataclass(frozen=True)
class DocumentRecord:
    """What an index records about one document (the manifest's "documents" list, the UI's table)."""

    source: str
    doc_id: str
    chars: int  # length of the document's original text
    chunks: int  # passages indexed from it

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> DocumentRecord:
        return cls(source=str(row["source"]), doc_id=str(row["doc_id"]), chars=int(row.get("chars", 0)),
                   chunks=int(row.get("chunks", 0)))

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "doc_id": self.doc_id, "chars": self.chars, "chunks": self.chunks}


@dataclass(frozen=True)
class EvalRow:
    """One evaluated question: the case as asked, the engine's answer, and its metrics.

    `metrics` maps metric names ("hit@5", f"recall@{k}", "contains", "len", ...) to floats; a metric that
    is undefined for the case (retrieval metrics of an unanswerable question) is NaN.
    """

    id: str
    question: str
    answers: tuple[str, ...]  # gold answers; empty: the documents do not answer it
    evidence: tuple[str, ...]
    tags: tuple[str, ...]
    answer: Answer
    metrics: dict[str, float]
    has_facts: bool = False  # the case is scored by required facts (open, summary, list, entity questions)
    split: str = ""  # "dev" or "test" for our QA set; "" for SQuAD files

    @property
    def answerable(self) -> bool:
        return bool(self.answers) or self.has_facts

    @property
    def refused(self) -> bool:
        return self.answer.refused
