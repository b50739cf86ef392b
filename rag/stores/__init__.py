"""Vector stores behind one protocol (base.VectorStore): FAISS (the default) or Milvus.

`new_store` and `load_store` are the only way the rest of rag gets one, so only this package imports
faiss or pymilvus, and each engine is imported only when chosen.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rag.config import VECTOR_STORES as STORES
from rag.stores.base import VectorStore

__all__ = ["STORES", "VectorStore", "load_store", "new_store"]


def _milvus():
    try:
        from rag.stores import milvus_store
    except ImportError as exc:  # an optional extra
        from rag.errors import InputError

        raise InputError(f"vector_store='milvus' needs pymilvus and milvus-lite ({exc}); install them with "
                         "`pip install -e '.[milvus]'`, or use RAG_VECTOR_STORE=faiss.") from None
    return milvus_store


def new_store(kind: str, dim: int, index_type: str = "flat", milvus_uri: str = "") -> VectorStore:
    """An empty store of `kind` for `dim`-dimensional vectors."""
    if kind == "milvus":
        return _milvus().MilvusStore(dim, milvus_uri, index_type=index_type)
    if kind == "faiss":
        from rag.stores.faiss_store import FaissStore

        return FaissStore(dim, index_type)
    raise ValueError(f"vector store {kind!r} is unknown; choose one of {', '.join(STORES)}.")


def load_store(kind: str, folder: Path, dim: int, index_type: str = "flat", milvus_uri: str = "") -> VectorStore:
    """The store saved in generation `folder`. Engine errors propagate: the caller words them."""
    if kind == "milvus":
        return _milvus().MilvusStore.load(folder, dim, milvus_uri, index_type)
    if kind == "faiss":
        from rag.stores.faiss_store import FaissStore

        return FaissStore.load(folder, dim, index_type)
    raise ValueError(f"vector store {kind!r} is unknown; choose one of {', '.join(STORES)}.")


def release(folder: Path) -> None:
    """Let go of any engine state this process holds inside `folder` (a generation about to be deleted):
    an embedded Milvus keeps a server per database open until told."""
    if "rag.stores.milvus_store" in sys.modules:
        sys.modules["rag.stores.milvus_store"].release_under(folder)
