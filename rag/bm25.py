"""Okapi BM25 over word tokens: built once at index time, saved as JSON beside the FAISS file."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# Robertson & Zaragoza (2009), "The Probabilistic Relevance Framework: BM25 and Beyond": k1 in
# [1.2, 2.0] and b = 0.75 are the usual defaults.
K1 = 1.5
B = 0.75


@dataclass(frozen=True)
class BM25:
    """postings: term -> {doc row: term frequency}; doc_lens: tokens per doc."""

    postings: dict[str, dict[int, int]]
    doc_lens: tuple[int, ...]

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]]) -> BM25:
        postings: dict[str, dict[int, int]] = {}
        for row, tokens in enumerate(docs):
            for term, tf in Counter(tokens).items():
                postings.setdefault(term, {})[row] = tf
        return cls(postings=postings, doc_lens=tuple(len(d) for d in docs))

    @property
    def n_docs(self) -> int:
        return len(self.doc_lens)

    def idf(self, term: str) -> float:
        """Lucene's non-negative BM25 idf: ln(1 + (N - df + 0.5) / (df + 0.5)); 0 for unseen terms."""
        return self.idf_of_df(len(self.postings.get(term, ())))

    def idf_of_df(self, df: int) -> float:
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)) if df > 0 else 0.0

    def scores(self, query: Sequence[str]) -> list[float]:
        """BM25 score of every doc for the query tokens (a repeated query term counts once)."""
        out = [0.0] * self.n_docs
        if not self.n_docs:
            return out
        avg_len = sum(self.doc_lens) / self.n_docs or 1.0
        for term in dict.fromkeys(query):
            idf = self.idf(term)
            for row, tf in self.postings.get(term, {}).items():
                norm = K1 * (1 - B + B * self.doc_lens[row] / avg_len)
                out[row] += idf * tf * (K1 + 1) / (tf + norm)
        return out

    def top(self, query: Sequence[str], n: int) -> list[tuple[int, float]]:
        """The n best (row, score) pairs with a positive score, best first; ties by row."""
        scored = [(row, s) for row, s in enumerate(self.scores(query)) if s > 0]
        scored.sort(key=lambda rs: (-rs[1], rs[0]))
        return scored[:n]

    def to_json(self) -> dict:
        return {"k1": K1, "b": B, "doc_lens": list(self.doc_lens),
                "postings": {t: {str(r): tf for r, tf in p.items()} for t, p in self.postings.items()}}

    @classmethod
    def from_json(cls, data: dict) -> BM25:
        return cls(postings={t: {int(r): tf for r, tf in p.items()} for t, p in data["postings"].items()},
                   doc_lens=tuple(data["doc_lens"]))
