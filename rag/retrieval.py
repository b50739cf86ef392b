"""Question -> ranked Hits: dense (the vector store) and BM25 rankings fused by reciprocal rank fusion, and with
mode "hybrid-sentences" a third ranking: the chunks those two found, ordered by their best sentence's cosine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.fusion import collapse_duplicates, fuse_rankings
from rag.schema import Hit, dedup_key
from rag.store import Index


def dense_ranking(index: Index, query_vector: np.ndarray, depth: int) -> list[int]:
    """Chunk rows by inner product with the query (cosine, vectors are normalized), best first."""
    if not index.chunks:
        return []
    return [row for row, _ in index.dense.search(query_vector.astype(np.float32), min(depth, len(index.chunks)))]


def best_cosine(index: Index, query_vector: np.ndarray) -> float | None:
    """The cosine of the chunk nearest the query (None for an empty index)."""
    found = dense_ranking(index, query_vector, 1)
    return float(index.vectors[found[0]] @ query_vector.astype(np.float32)) if found else None


def sentence_ranking(index: Index, query_vector: np.ndarray, pool: list[int]) -> list[int]:
    """The chunk rows of `pool` ordered by their best sentence's cosine to the query, best first (ties keep the
    pool's order); a chunk holding no whole sentence is left out.

    A chunk's vector averages its 300 characters, so a question about one clause of it can match that clause's
    sentence far better than the chunk. Only the pool is read (the chunks the other rankings found), so the cost
    stays one small product per question however large the index.
    """
    best: dict[int, float] = {}
    for row in pool:
        inside = index.sentence_rows_in(index.chunks[row])
        if inside:
            best[row] = float(np.max(np.asarray(index.sentence_vectors[inside]) @ query_vector))
    return sorted(best, key=lambda row: -best[row])


def _fused_rows(index: Index, query_vector: np.ndarray, query_tokens: list[str], mode: str, rrf_k: int,
                depth: int) -> tuple[list[tuple[str, float]], dict[int, float]]:
    """One query's chunk rows fused across its rankings (as strings, with their RRF scores), and its BM25 scores."""
    rankings: list[list[str]] = []
    bm25_scores: dict[int, float] = {}
    if mode in ("hybrid", "hybrid-sentences", "dense"):
        rankings.append([str(r) for r in dense_ranking(index, query_vector, depth)])
    if mode in ("hybrid", "hybrid-sentences", "bm25"):
        ranked = index.bm25.top(query_tokens, depth)
        bm25_scores = dict(ranked)
        rankings.append([str(r) for r, _ in ranked])
    if mode == "hybrid-sentences":
        pool = list(dict.fromkeys(int(r) for ranking in rankings for r in ranking))
        rankings.append([str(r) for r in sentence_ranking(index, query_vector, pool)])
    return fuse_rankings(rankings, rrf_k), bm25_scores


def _hits(index: Index, fused: list[tuple[str, float]], k: int, vectors: list[np.ndarray],
          bm25_scores: list[dict[int, float]]) -> list[Hit]:
    """The top-k distinct chunks of `fused`, each with its best cosine and best BM25 score over the queries."""
    rows = [int(r) for r, _ in fused]
    items = [(index.chunks[r].id, index.chunks[r].doc_id, (index.chunks[r].start, index.chunks[r].end),
              dedup_key(index.chunks[r].text)) for r in rows]
    keep = collapse_duplicates(items)[:k]
    if not keep:
        return []
    chosen = [rows[i] for i in keep]
    cosines = np.max(np.stack([index.vectors[chosen] @ v for v in vectors]), axis=0)
    out = []
    for rank, (i, row, cos) in enumerate(zip(keep, chosen, cosines, strict=True), start=1):
        matched = [scores[row] for scores in bm25_scores if row in scores]
        out.append(Hit(chunk=index.chunks[row], score=float(fused[i][1]), rank=rank, dense=float(cos),
                       bm25=max(matched) if matched else None))
    return out


def retrieve(index: Index, query_vector: np.ndarray, query_tokens: list[str], k: int, mode: str = "hybrid",
             rrf_k: int = 60, depth: int = 30) -> list[Hit]:
    """Top-k hits for one question. mode: "hybrid" (dense and BM25 fused), "hybrid-sentences" (those two and
    sentence_ranking over the chunks they found, fused), "dense" or "bm25" (one ranking alone).

    Each Hit carries its cosine to the query (`dense`, always computed) and its BM25 score (`bm25`, None
    when BM25 did not match it), so callers can show why a passage ranked where it did.
    """
    query_vector = query_vector.astype(np.float32)
    fused, bm25_scores = _fused_rows(index, query_vector, query_tokens, mode, rrf_k, depth)
    return _hits(index, fused, k, [query_vector], [bm25_scores])


def retrieve_fused(index: Index, query_vectors: Sequence[np.ndarray], query_tokens: Sequence[list[str]], k: int,
                   mode: str = "hybrid", rrf_k: int = 60, depth: int = 30, scores_of_first: bool = False) -> list[Hit]:
    """Top-k hits for several searches of one question (README step 52: a follow-up searched as asked and after the
    earlier question; `query_vectors[i]` and `query_tokens[i]` are search i's): each search's own fused ranking (as
    `retrieve` makes it), fused again by reciprocal rank fusion, so chunks both searches rank well come first, then
    those one search ranks high. Each Hit carries its best cosine and its best BM25 score over the searches (None
    when no search's BM25 matched it), or with `scores_of_first` (step 54) those of the first search alone (its
    cosine to query_vectors[0]; None where that search's BM25 did not rank it). One search gives `retrieve`'s hits."""
    if not query_vectors or len(query_vectors) != len(query_tokens):
        raise ValueError(f"retrieve_fused needs one token list per query vector and at least one search; got "
                         f"{len(query_vectors)} vectors and {len(query_tokens)} token lists")
    vectors = [v.astype(np.float32) for v in query_vectors]
    ranked = [_fused_rows(index, v, tokens, mode, rrf_k, depth) for v, tokens in zip(vectors, query_tokens, strict=True)]
    if len(ranked) == 1:
        return _hits(index, ranked[0][0], k, vectors, [ranked[0][1]])
    fused = fuse_rankings([[row for row, _ in rows] for rows, _ in ranked], rrf_k)
    if scores_of_first:
        return _hits(index, fused, k, vectors[:1], [ranked[0][1]])
    return _hits(index, fused, k, vectors, [scores for _, scores in ranked])
