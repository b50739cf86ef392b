"""The vector-store protocol: the few operations rag needs from a nearest-neighbour engine.

Keys are int64 chosen by the caller (rag uses the chunk's row in its index generation); scores are inner
products of unit vectors, i.e. cosines. Two implementations pass one shared test suite
(tests/stores/test_stores.py): FAISS in memory (faiss_store.py) and Milvus (milvus_store.py). Nothing outside
rag/stores/ imports faiss or pymilvus.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np


class VectorStore(Protocol):
    kind: str  # "faiss" or "milvus": recorded in the index manifest and checked on load
    dim: int

    def add(self, keys: Sequence[int], doc_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Store one float32 unit vector per key; `doc_ids[i]` is the document `keys[i]` belongs to."""
        ...

    def delete_documents(self, doc_ids: Collection[str]) -> int:
        """Remove every vector of these documents; returns how many were removed."""
        ...

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest (key, inner product) pairs to one query vector, best first."""
        ...

    def count(self) -> int:
        ...

    def save(self, folder: Path) -> list[str]:
        """Write the store into `folder` (an index generation being built). Returns the names of the
        files whose bytes never change afterwards, for the manifest's checksums ([] for an engine that
        keeps writing its own files, such as Milvus)."""
        ...

    def close(self) -> None:
        ...


def check_vectors(keys: Sequence[int], doc_ids: Sequence[str], vectors: np.ndarray, dim: int) -> np.ndarray:
    """The vectors as contiguous float32 [n, dim], or ValueError naming what disagrees."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors of shape {vectors.shape} given to a {dim}-dimensional store; "
                         f"embed with the model the index was built with.")
    if not len(keys) == len(doc_ids) == len(vectors):
        raise ValueError(f"{len(keys)} keys, {len(doc_ids)} document ids and {len(vectors)} vectors "
                         "given; pass one of each per vector.")
    return vectors
