"""Okapi BM25 over our word tokens, on bm25s: built once at index time, saved beside the vector store.

bm25s precomputes every (document, term) weight into a sparse matrix (column = term, CSC), so a query
only adds up the columns of its terms: milliseconds at a million passages, where the old pure-Python
postings loop took seconds. We feed it our jieba tokens (rag/tokenize.py) and read its matrix directly,
so scores and ties are ours: float64 sums, a repeated query term counted once, ties broken by row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Robertson & Zaragoza (2009), "The Probabilistic Relevance Framework: BM25 and Beyond": k1 in
# [1.2, 2.0] and b = 0.75 are the usual defaults.
K1 = 1.5
B = 0.75
FILES = ("bm25.npz", "bm25_vocab.json")


@dataclass(frozen=True, eq=False)
class BM25:
    """weights: CSC arrays of the [docs x terms] matrix of idf * tf / (tf + k1 * (1 - b + b * len / avglen)),
    as bm25s' "lucene" variant computes it; vocab: term -> column."""

    data: np.ndarray  # float32 weights, column by column
    indices: np.ndarray  # the document row of each weight
    indptr: np.ndarray  # column j's weights are data[indptr[j]:indptr[j + 1]]
    vocab: dict[str, int]
    n_docs: int

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]]) -> BM25:
        import bm25s

        if not docs or not any(docs):
            return cls(np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64), {}, len(docs))
        # Lucene's non-negative idf and its tf part are Robertson's with the constant (k1 + 1) left out,
        # which changes no ranking; `scores` puts it back so the values are the textbook ones.
        engine = bm25s.BM25(k1=K1, b=B, method="lucene", idf_method="lucene")
        matrix, vocab = engine.build_index_from_tokens([list(d) for d in docs], show_progress=False)
        return cls(data=matrix["data"], indices=matrix["indices"].astype(np.int32, copy=False),
                   indptr=matrix["indptr"].astype(np.int64, copy=False), vocab=vocab, n_docs=len(docs))

    def df(self, term: str) -> int:
        """How many documents contain `term` (its column's length)."""
        col = self.vocab.get(term)
        return 0 if col is None else int(self.indptr[col + 1] - self.indptr[col])

    def idf(self, term: str) -> float:
        """Lucene's non-negative BM25 idf: ln(1 + (N - df + 0.5) / (df + 0.5)); 0 for unseen terms."""
        return self.idf_of_df(self.df(term))

    def idf_of_df(self, df: int) -> float:
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)) if df > 0 else 0.0

    @property
    def max_idf(self) -> float:
        """The idf of the rarest indexed word (0.0 for an empty index)."""
        if not self.vocab:
            return 0.0
        lengths = np.diff(self.indptr)
        return self.idf_of_df(int(lengths[lengths > 0].min(initial=self.n_docs)))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every doc for the query tokens (a repeated query term counts once), float64."""
        out = np.zeros(self.n_docs, np.float64)
        for term in dict.fromkeys(query):
            col = self.vocab.get(term)
            if col is None:
                continue
            start, end = self.indptr[col], self.indptr[col + 1]
            out[self.indices[start:end]] += self.data[start:end]  # rows are unique within a column
        return out * (K1 + 1)

    def top(self, query: Sequence[str], n: int) -> list[tuple[int, float]]:
        """The n best (row, score) pairs with a positive score, best first; ties by row."""
        scores = self.scores(query)
        rows = np.flatnonzero(scores > 0)
        if len(rows) > n > 0:  # keep every row tied with the n-th best, then order exactly
            cutoff = np.partition(scores[rows], len(rows) - n)[len(rows) - n]
            rows = rows[scores[rows] >= cutoff]
        order = np.lexsort((rows, -scores[rows]))[:max(n, 0)]
        return [(int(rows[i]), float(scores[rows[i]])) for i in order]

    def save(self, folder: Path) -> list[str]:
        np.savez(folder / "bm25.npz", data=self.data, indices=self.indices, indptr=self.indptr,
                 n_docs=np.array(self.n_docs), k1=np.array(K1), b=np.array(B))
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "bm25_vocab.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        return list(FILES)

    @classmethod
    def load(cls, folder: Path) -> BM25:
        """Raises OSError, ValueError or KeyError on unreadable files; the caller words it."""
        with np.load(folder / "bm25.npz") as f:
            if (float(f["k1"]), float(f["b"])) != (K1, B):
                raise ValueError(f"bm25.npz was built with k1={float(f['k1'])}, b={float(f['b'])}; "
                                 f"this version uses k1={K1}, b={B}")
            data, indices, indptr, n_docs = f["data"], f["indices"], f["indptr"], int(f["n_docs"])
        terms = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
        if len(indptr) != len(terms) + 1 or len(data) != len(indices):
            raise ValueError(f"bm25.npz has {len(indptr) - 1} term columns, bm25_vocab.json {len(terms)} terms")
        return cls(data=data, indices=indices, indptr=indptr, vocab={t: i for i, t in enumerate(terms)},
                   n_docs=n_docs)
