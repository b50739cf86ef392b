"""Milvus through pymilvus: embedded milvus-lite by default, or a Milvus server/cluster by URI.

Embedded (config.milvus_uri empty): an unsaved store lives in a private temporary milvus-lite database;
`save` flushes it and copies the database folder into the index generation as `milvus.db`, and loading
opens that copy. The generation stays the unit of atomicity: CURRENT moves to it only once it is whole.
Server (`RAG_MILVUS_URI=http://host:19530`): each generation is its own collection, named in
`milvus.json`; the server keeps it durable. rag cannot checksum files Milvus keeps writing, so `load`
checks what it can ask: the collection exists, its dimension and count match the manifest (see
rag/store.py for the probe of stored vectors).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pymilvus  # noqa: F401  (imported here so a missing extra fails at import, where it is worded)
from filelock import FileLock, Timeout

from rag.errors import IndexLockedError
from rag.stores.base import check_vectors

COLLECTION = "chunks"  # the one collection of an embedded database
LITE_FOLDER = "milvus.db"
SERVER_FILE = "milvus.json"
# RAG_INDEX_TYPE in Milvus terms, with FAISS' parameters (rag/stores/faiss_store.py) where they exist.
INDEXES = {"flat": ("FLAT", {}, {}),
           "hnsw": ("HNSW", {"M": 32, "efConstruction": 40}, {"ef": 64}),
           "ivf": ("IVF_FLAT", {"nlist": 1024}, {"nprobe": 8})}
INSERT_BATCH = 5000  # rows per insert call: keeps each gRPC message well under Milvus' 64 MB default


def _release(path: str) -> None:
    """Stop this process's milvus-lite server for a database folder: closing a client does not, and a
    running server writes its files (and its LOCK) until it stops, even into a deleted folder."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)


def release_under(folder: Path) -> None:
    """Stop every milvus-lite server of this process whose database lies inside `folder`."""
    from milvus_lite.server_manager import server_manager_instance

    root = os.path.abspath(folder) + os.sep
    for path in list(server_manager_instance._servers):  # no public listing; the dict is its registry
        if path.startswith(root):
            _release(path)


def _close_and_remove(clients: list[Any], folder: str) -> None:
    """Close a private database, then delete it."""
    try:
        for client in clients:
            client.close()
        _release(str(Path(folder) / LITE_FOLDER))
    finally:  # at interpreter exit the client may already be torn down: remove the folder anyway
        shutil.rmtree(folder, ignore_errors=True)


def _check_not_open_elsewhere(db: Path) -> None:
    """milvus-lite lets one process at a time open a database (an flock on its LOCK file). Say so plainly
    instead of pymilvus' "Open local milvus failed"."""
    from milvus_lite.server_manager import server_manager_instance

    if os.path.abspath(db) in server_manager_instance._servers or not (db / "LOCK").exists():
        return  # opened by this process already (the server is shared), or never opened
    # preserve_lock_file: the LOCK file is milvus-lite's own; probing it must not delete it on release.
    probe = FileLock(db / "LOCK", timeout=0, thread_local=False, is_singleton=False, preserve_lock_file=True)
    try:
        with probe:
            pass
    except Timeout:
        raise IndexLockedError(f"another process has the embedded Milvus database {db} open (milvus-lite "
                               "allows one process at a time); stop it (e.g. the UI) and try again, or "
                               "use a Milvus server: RAG_MILVUS_URI=http://host:19530.") from None


def _client(uri: str) -> Any:
    from pymilvus import MilvusClient

    return MilvusClient(uri)


class MilvusStore:
    kind = "milvus"

    def __init__(self, dim: int, uri: str = "", collection: str | None = None, _client_uri: str | None = None,
                 _create: bool = True, index_type: str = "flat") -> None:
        if index_type not in INDEXES:
            raise ValueError(f"index_type={index_type!r} is unknown; choose one of {', '.join(INDEXES)}.")
        self.dim = dim
        self.index_type = index_type
        self.uri = uri  # "" = embedded milvus-lite
        self._tmp: str | None = None
        self._remove_tmp = None
        if _client_uri is None:
            if uri:
                _client_uri = uri
            else:  # a private database until `save` copies it into a generation
                self._tmp = tempfile.mkdtemp(prefix="rag-milvus-")
                _client_uri = str(Path(self._tmp) / LITE_FOLDER)
        self.collection = collection or (f"rag_{uuid.uuid4().hex[:16]}" if uri else COLLECTION)
        self._lite_path = os.path.abspath(_client_uri)
        self._client = _client(_client_uri)
        self._clients = [self._client]  # what the finalizer closes (save swaps the client)
        if self._tmp:
            self._remove_tmp = weakref.finalize(self, _close_and_remove, self._clients, self._tmp)
        if _create:
            self._create()
        else:
            self._client.load_collection(self.collection)

    def _create(self) -> None:
        from pymilvus import DataType

        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("doc", DataType.VARCHAR, max_length=128)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=self.dim)
        params = self._client.prepare_index_params()
        kind, build, _search = INDEXES[self.index_type]
        params.add_index(field_name="vec", index_type=kind, metric_type="IP", params=build)
        self._client.create_collection(self.collection, schema=schema, index_params=params,
                                       consistency_level="Strong")

    def add(self, keys: Sequence[int], doc_ids: Sequence[str], vectors: np.ndarray) -> None:
        vectors = check_vectors(keys, doc_ids, vectors, self.dim)
        for start in range(0, len(vectors), INSERT_BATCH):
            end = min(start + INSERT_BATCH, len(vectors))
            self._client.insert(self.collection, [{"key": int(keys[i]), "doc": doc_ids[i], "vec": vectors[i]}
                                                  for i in range(start, end)])

    def delete_documents(self, doc_ids: Collection[str]) -> int:
        if not doc_ids:
            return 0
        before = self.count()
        self._client.delete(self.collection, filter=f"doc in {json.dumps(sorted(doc_ids))}")
        return before - self.count()

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        found = self._client.search(self.collection, data=[np.asarray(query, np.float32).reshape(-1)],
                                    limit=k, output_fields=["key"],
                                    search_params={"metric_type": "IP", "params": INDEXES[self.index_type][2]})
        return [(int(hit["key"]), float(hit["distance"])) for hit in found[0]]

    def count(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def save(self, folder: Path) -> list[str]:
        self._client.flush(self.collection)
        if self.uri:  # the server holds the data; the generation only names the collection
            (folder / SERVER_FILE).write_text(json.dumps({"uri": self.uri, "collection": self.collection}),
                                              encoding="utf-8")
            return [SERVER_FILE]
        private = str(Path(self._tmp) / LITE_FOLDER)
        self._client.close()
        _release(private)  # stopping the server closes the database fully: the copy is consistent
        shutil.copytree(private, folder / LITE_FOLDER, ignore=shutil.ignore_patterns("LOCK"))
        self._client = self._clients[0] = _client(private)
        self._client.load_collection(self.collection)
        return []

    @classmethod
    def load(cls, folder: Path, dim: int, uri: str = "", index_type: str = "flat") -> MilvusStore:
        """Raises FileNotFoundError or pymilvus' MilvusException when the collection is not there."""
        if (folder / SERVER_FILE).exists():
            where = json.loads((folder / SERVER_FILE).read_text(encoding="utf-8"))
            store = cls(dim, where["uri"], where["collection"], _client_uri=where["uri"], _create=False,
                        index_type=index_type)
        else:
            if not (folder / LITE_FOLDER).is_dir():
                raise FileNotFoundError(f"{folder / LITE_FOLDER} is missing")
            _check_not_open_elsewhere(folder / LITE_FOLDER)
            store = cls(dim, "", COLLECTION, _client_uri=str(folder / LITE_FOLDER), _create=False,
                        index_type=index_type)
        fields = {f["name"]: f for f in store._client.describe_collection(store.collection)["fields"]}
        stored_dim = int(fields.get("vec", {}).get("params", {}).get("dim", -1))
        if stored_dim != dim:
            raise ValueError(f"the Milvus collection {store.collection!r} holds {stored_dim}-dimensional "
                             f"vectors, the manifest says {dim}")
        return store

    def drop(self) -> None:
        """Delete the collection (server mode: an old generation's collection)."""
        self._client.drop_collection(self.collection)

    def close(self) -> None:
        if self._remove_tmp is not None:
            self._remove_tmp()
            return
        self._client.close()
        if not self.uri:
            _release(self._lite_path)
