"""One suite that every vector store passes (FAISS flat/HNSW/IVF and embedded Milvus): small hand-made
unit vectors whose nearest neighbours and inner products are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from rag.stores import load_store, new_store

DIM = 4
E = np.eye(DIM, dtype=np.float32)
# rows: e0, e1, e2, e3 and (e0+e1)/sqrt2; documents: a = {e0, e1}, b = {e2, (e0+e1)/sqrt2}, c = {e3}
VECTORS = np.vstack([E, (E[0] + E[1]) / np.sqrt(2)]).astype(np.float32)
KEYS = [10, 11, 12, 13, 14]
DOCS = ["a", "a", "b", "c", "b"]
STORES = [("faiss", "flat"), ("faiss", "hnsw"), ("faiss", "ivf"), ("milvus", "flat"), ("milvus", "hnsw"),
          ("milvus", "ivf")]


def make(kind: str, index_type: str):
    store = new_store(kind, DIM, index_type)
    store.add(KEYS, DOCS, VECTORS)
    return store


@pytest.fixture(params=STORES, ids=[f"{k}-{t}" for k, t in STORES])
def store(request):
    s = make(*request.param)
    yield s
    s.close()


def test_search_returns_exact_inner_products_best_first(store):
    hits = store.search(np.array([1, 0, 0, 0], np.float32), 3)
    assert [k for k, _ in hits[:2]] == [10, 14]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-6)
    assert hits[1][1] == pytest.approx(1 / np.sqrt(2), abs=1e-6)
    query = np.array([0.6, 0, 0.8, 0], np.float32)
    assert [k for k, _ in store.search(query, 2)] == [12, 10]  # 0.8 > 0.6
    assert [s for _, s in store.search(query, 2)] == pytest.approx([0.8, 0.6], abs=1e-6)


def test_count_and_search_deeper_than_the_store(store):
    assert store.count() == 5
    assert sorted(k for k, _ in store.search(E[3], 50)) == KEYS


def test_delete_by_document(store):
    assert store.delete_documents({"b"}) == 2
    assert store.count() == 3
    assert sorted(k for k, _ in store.search(E[2], 10)) == [10, 11, 13]
    assert store.search(E[0], 1) == [(10, pytest.approx(1.0, abs=1e-6))]
    assert store.delete_documents({"no-such-document"}) == 0
    assert store.count() == 3


def test_add_after_add_keeps_both(store):
    store.add([20], ["d"], np.array([[0, 0, 0.6, 0.8]], np.float32))
    assert store.count() == 6
    assert store.search(np.array([0, 0, 0.6, 0.8], np.float32), 1)[0][0] == 20


def test_save_then_load_gives_identical_results(store, tmp_path):
    kind = store.kind
    store.save(tmp_path)
    again = load_store(kind, tmp_path, DIM, getattr(store, "index_type", "flat"))
    try:
        assert again.count() == 5
        for q in [*VECTORS, np.array([0.6, 0, 0.8, 0], np.float32), np.array([0.1, 0.2, 0.3, 0.9], np.float32)]:
            assert again.search(q, 5) == store.search(q, 5)
        assert again.delete_documents({"a"}) == 2  # the documents of each key survive the round trip
        assert sorted(k for k, _ in again.search(E[0], 10)) == [12, 13, 14]
    finally:
        again.close()


def test_store_still_searches_after_save(store, tmp_path):
    store.save(tmp_path)
    assert store.search(E[1], 1)[0][0] == 11


def test_wrong_dimension_is_refused(store):
    with pytest.raises(ValueError, match=r"vectors of shape \(1, 3\) given to a 4-dimensional store"):
        store.add([1], ["a"], np.ones((1, 3), np.float32))


def test_empty_store_searches_to_nothing_and_round_trips(tmp_path):
    for kind in ("faiss", "milvus"):
        store = new_store(kind, DIM)
        assert store.count() == 0 and store.search(E[0], 5) == []
        folder = tmp_path / kind
        folder.mkdir()
        store.save(folder)
        again = load_store(kind, folder, DIM)
        assert again.count() == 0 and again.search(E[0], 5) == []
        again.close()
        store.close()


def test_unknown_store_is_named():
    with pytest.raises(ValueError, match="vector store 'annoy' is unknown; choose one of faiss, milvus"):
        new_store("annoy", DIM)


def test_nothing_outside_rag_stores_imports_an_engine():
    import re

    from tests.conftest import ROOT as root

    engine_import = re.compile(r"^\s*(import|from)\s+(faiss|pymilvus|milvus_lite)\b", re.M)
    offenders = [str(p.relative_to(root)) for p in [*root.glob("rag/**/*.py"), root / "ui.py", *root.glob("scripts/*.py")]
                 if "stores" not in p.parts and engine_import.search(p.read_text(encoding="utf-8"))]
    assert offenders == [] and (root / "rag" / "stores" / "faiss_store.py").is_file()  # the glob saw the tree
