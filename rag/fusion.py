"""Reciprocal rank fusion and duplicate collapsing: small pure functions over ranked id lists."""

from __future__ import annotations

from collections.abc import Sequence


def fuse_rankings(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k + rank of d), ranks from 1.

    Cormack, Clarke & Buettcher (SIGIR 2009) found k = 60 robust across collections; it damps the
    difference between the very top ranks so that neither retriever dominates. Ties keep first-seen order.
    """
    if k < 1:
        raise ValueError(f"rrf k must be >= 1, got {k}")
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(dict.fromkeys(ranking), start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def overlap_ratio(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Characters shared by two spans, as a share of the shorter one."""
    shared = min(a[1], b[1]) - max(a[0], b[0])
    shorter = min(a[1] - a[0], b[1] - b[0])
    return max(0, shared) / shorter if shorter > 0 else 0.0


def collapse_duplicates(items: Sequence[tuple[str, str, tuple[int, int], str]],
                        max_overlap: float = 0.5) -> list[int]:
    """Positions of the items to keep, best first, from (id, doc_id, span, normalized text) in rank order.

    An item is dropped when a better-ranked kept item has the same normalized text (the same passage in
    two documents) or shares more than `max_overlap` of the shorter span in the same document.
    """
    kept: list[int] = []
    for i, (_, doc, span, text) in enumerate(items):
        duplicate = any(
            items[j][3] == text or (items[j][1] == doc and overlap_ratio(items[j][2], span) > max_overlap)
            for j in kept)
        if not duplicate:
            kept.append(i)
    return kept
