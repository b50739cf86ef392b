"""Question -> ranked Hits: dense (the vector store) and BM25 rankings fused by reciprocal rank fusion."""

from __future__ import annotations

import numpy as np

from rag.fusion import collapse_duplicates, fuse_rankings
from rag.schema import Hit, dedup_key
from rag.store import Index


def dense_ranking(index: Index, query_vector: np.ndarray, depth: int) -> list[int]:
    """Chunk rows by inner product with the query (cosine, vectors are normalized), best first."""
    if not index.chunks:
        return []
    return [row for row, _ in index.dense.search(query_vector.astype(np.float32), min(depth, len(index.chunks)))]


def retrieve(index: Index, query_vector: np.ndarray, query_tokens: list[str], k: int, mode: str = "hybrid",
             rrf_k: int = 60, depth: int = 30) -> list[Hit]:
    """Top-k hits for one question. mode: "hybrid" (fused), "dense" or "bm25" (one ranking alone).

    Each Hit carries its cosine to the query (`dense`, always computed) and its BM25 score (`bm25`, None
    when BM25 did not match it), so callers can show why a passage ranked where it did.
    """
    rankings: list[list[str]] = []
    bm25_scores: dict[int, float] = {}
    if mode in ("hybrid", "dense"):
        rankings.append([str(r) for r in dense_ranking(index, query_vector, depth)])
    if mode in ("hybrid", "bm25"):
        ranked = index.bm25.top(query_tokens, depth)
        bm25_scores = dict(ranked)
        rankings.append([str(r) for r, _ in ranked])
    fused = fuse_rankings(rankings, rrf_k)
    rows = [int(r) for r, _ in fused]
    items = [(index.chunks[r].id, index.chunks[r].doc_id, (index.chunks[r].start, index.chunks[r].end),
              dedup_key(index.chunks[r].text)) for r in rows]
    keep = collapse_duplicates(items)[:k]
    if not keep:
        return []
    chosen = [rows[i] for i in keep]
    cosines = index.vectors[chosen] @ query_vector.astype(np.float32)
    return [Hit(chunk=index.chunks[row], score=float(fused[i][1]), rank=rank, dense=float(cos),
                bm25=bm25_scores.get(row))
            for rank, (i, row, cos) in enumerate(zip(keep, chosen, cosines, strict=True), start=1)]
