"""Extractive summaries: at most five cited sentences that stand for a document (or all of them).

Centroid + maximal marginal relevance (Carbonell & Goldstein 1998): a sentence scores by its cosine to the
mean of its document's sentence vectors, less LAMBDA times its highest cosine to a sentence already
chosen, with a bonus for a section not yet represented (section titles are the article's own structure).
The chosen sentences are shown in document order, each with its own [n].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rag.schema import Chunk, Hit, Sentence

if TYPE_CHECKING:
    from rag.store import Index

MAX_SENTENCES = 5
# Redundancy penalty of MMR and the bonus for a new section. e5 cosines between sentences of one article
# sit in 0.80..0.95, so a penalty of 1.0 on the cosine is what makes a near-duplicate lose.
LAMBDA = 1.0
NEW_SECTION_BONUS = 0.01
MIN_CHARS = 15  # shorter sentences are headings or fragments, not statements
MAX_CHARS = 160  # longer ones crowd out the rest of the summary


def chunk_of(chunks: Sequence[Chunk], sentence: Sentence) -> Chunk | None:
    """The first of `chunks` (passages of the sentence's document) that holds the whole sentence."""
    for chunk in chunks:
        if chunk.doc_id == sentence.doc_id and chunk.start <= sentence.start and sentence.end <= chunk.end:
            return chunk
    return None


def chunks_of(index: Index, doc_ids: Sequence[str]) -> list[Chunk]:
    wanted = set(doc_ids)
    return [c for c in index.chunks if c.doc_id in wanted]


def summary_sentences(index: Index, doc_ids: Sequence[str], limit: int = MAX_SENTENCES) -> list[int]:
    """Rows of the sentences that summarize the documents `doc_ids`, in document order."""
    rows = [r for d in doc_ids for r in index.sentence_rows_by_doc.get(d, ([], []))[0]
            if MIN_CHARS <= len(index.sentences[r].text) <= MAX_CHARS]
    if not rows:
        return []
    vectors = index.sentence_vectors[rows].astype(np.float64)
    centroids = {}
    for d in doc_ids:
        mine = [i for i, r in enumerate(rows) if index.sentences[r].doc_id == d]
        if mine:
            c = vectors[mine].mean(axis=0)
            centroids[d] = c / (np.linalg.norm(c) or 1.0)
    relevance = np.array([vectors[i] @ centroids[index.sentences[r].doc_id] for i, r in enumerate(rows)])
    chunks = chunks_of(index, doc_ids)
    sections = [(chunk.title if (chunk := chunk_of(chunks, index.sentences[r])) else "") for r in rows]
    chosen: list[int] = []
    sections_used: set[str] = set()
    while len(chosen) < min(limit, len(rows)):
        redundancy = (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(rows))
        bonus = np.array([NEW_SECTION_BONUS * (title not in sections_used) for title in sections])
        score = relevance - LAMBDA * np.maximum(redundancy - relevance.mean(), 0) + bonus
        score[chosen] = -np.inf
        pick = int(np.argmax(score))
        chosen.append(pick)
        sections_used.add(sections[pick])
    picked = [rows[i] for i in chosen]
    return sorted(picked, key=lambda r: (doc_ids.index(index.sentences[r].doc_id), index.sentences[r].start))


def summary_hits(index: Index, rows: Sequence[int], query_vector: np.ndarray) -> dict[int, Hit]:
    """A Hit (the passage holding it) for each summary sentence row, ranked in answer order."""
    out: dict[int, Hit] = {}
    by_chunk: dict[str, Hit] = {}
    chunks = chunks_of(index, list(dict.fromkeys(index.sentences[r].doc_id for r in rows)))
    for row in rows:
        chunk = chunk_of(chunks, index.sentences[row])
        if chunk is None:
            continue
        if chunk.id not in by_chunk:
            cos = float(index.sentence_vectors[row] @ query_vector)
            by_chunk[chunk.id] = Hit(chunk=chunk, score=0.0, rank=len(by_chunk) + 1, dense=cos, bm25=None)
        out[row] = by_chunk[chunk.id]
    return out


def documents_to_summarize(index: Index, hits: Sequence[Hit], all_documents: bool) -> list[str]:
    """All documents when asked for, or when one is indexed; otherwise the top hit's document."""
    docs = list(index.sentence_rows_by_doc)
    if all_documents or len(docs) == 1 or not hits:
        return docs
    return [hits[0].chunk.doc_id]
