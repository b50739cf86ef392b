"""FAISS in memory: exact inner product ("flat") or approximate ("hnsw", "ivf") for large corpora.

Files in a generation: dense.faiss (the index; row i holds the i-th vector added), dense_keys.npy
(int64 [n, 2]: the key of row i and the position of its document in dense_docs.json), dense_docs.json.
All three are immutable once written, so the manifest checksums them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.stores.base import check_vectors

FILES = ("dense.faiss", "dense_keys.npy", "dense_docs.json")
INDEX_TYPES = ("flat", "hnsw", "ivf")
HNSW_M = 32  # neighbours per node: the FAISS wiki's usual value
HNSW_EF_SEARCH = 64
IVF_NPROBE = 8


def build_faiss(vectors: np.ndarray, index_type: str, dim: int) -> Any:
    """Inner product on L2-normalized vectors = cosine. Flat is exact; HNSW/IVF trade accuracy for speed."""
    n = len(vectors)
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif index_type == "ivf" and n >= 2:
        # ~4*sqrt(n) lists, but at least 39 training points per list as FAISS recommends.
        nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(nlist, IVF_NPROBE)
        index.make_direct_map()  # so deleting a document can reconstruct the vectors that stay
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


class FaissStore:
    kind = "faiss"

    def __init__(self, dim: int, index_type: str = "flat") -> None:
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index_type={index_type!r} is unknown; choose one of {', '.join(INDEX_TYPES)}.")
        self.dim = dim
        self.index_type = index_type
        self._index: Any = None  # built at the first add: IVF trains on the vectors it is first given
        self._keys = np.zeros(0, np.int64)
        self._doc_rows = np.zeros(0, np.int64)  # position of each row's document in self._docs
        self._docs: list[str] = []

    def add(self, keys: Sequence[int], doc_ids: Sequence[str], vectors: np.ndarray) -> None:
        vectors = check_vectors(keys, doc_ids, vectors, self.dim)
        if not len(vectors):
            return
        if self._index is None or (self._index.ntotal == 0 and self.index_type == "ivf"):
            self._index = build_faiss(vectors, self.index_type, self.dim)
        else:
            self._index.add(vectors)
        position = {d: i for i, d in enumerate(self._docs)}
        for d in doc_ids:
            if d not in position:
                position[d] = len(self._docs)
                self._docs.append(d)
        self._keys = np.concatenate([self._keys, np.asarray(keys, np.int64)])
        self._doc_rows = np.concatenate([self._doc_rows, np.array([position[d] for d in doc_ids], np.int64)])

    def delete_documents(self, doc_ids: Collection[str]) -> int:
        """Rebuilds the index from the vectors that stay (HNSW cannot remove in place); O(n), like an add."""
        gone = {i for i, d in enumerate(self._docs) if d in set(doc_ids)}
        drop = np.isin(self._doc_rows, list(gone))
        removed = int(drop.sum())
        if not removed:
            return 0
        keep = np.flatnonzero(~drop)
        vectors = self._index.reconstruct_batch(keep) if len(keep) else np.zeros((0, self.dim), np.float32)
        self._index = build_faiss(vectors, self.index_type, self.dim) if len(keep) else None
        self._keys, self._doc_rows = self._keys[keep], self._doc_rows[keep]
        return removed

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        n = min(k, self.count())
        if n <= 0:
            return []
        scores, rows = self._index.search(np.asarray(query, np.float32).reshape(1, self.dim), n)
        return [(int(self._keys[r]), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def count(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def save(self, folder: Path) -> list[str]:
        index = self._index if self._index is not None else build_faiss(
            np.zeros((0, self.dim), np.float32), self.index_type, self.dim)
        faiss.write_index(index, str(folder / "dense.faiss"))
        np.save(folder / "dense_keys.npy", np.stack([self._keys, self._doc_rows], axis=1).reshape(-1, 2))
        (folder / "dense_docs.json").write_text(json.dumps(self._docs), encoding="utf-8")
        return list(FILES)

    @classmethod
    def load(cls, folder: Path, dim: int, index_type: str) -> FaissStore:
        """Raises OSError/ValueError/RuntimeError (FAISS) on unreadable files; the caller words it."""
        store = cls(dim, index_type)
        store._index = faiss.read_index(str(folder / "dense.faiss"))
        keys = np.load(folder / "dense_keys.npy")
        store._keys, store._doc_rows = keys[:, 0].copy(), keys[:, 1].copy()
        store._docs = json.loads((folder / "dense_docs.json").read_text(encoding="utf-8"))
        if store._index.d != dim or len(store._keys) != store._index.ntotal:
            raise ValueError(f"dense.faiss holds {store._index.ntotal} vectors of dimension {store._index.d}, "
                             f"dense_keys.npy {len(store._keys)} keys, the manifest says dimension {dim}")
        if isinstance(store._index, faiss.IndexHNSWFlat):
            store._index.hnsw.efSearch = HNSW_EF_SEARCH
        return store

    def close(self) -> None:
        pass
