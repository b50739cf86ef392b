"""`rag bench`: the JSON contract at 1,000 synthetic chunks for both stores, and its pure parts."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rag.evaluation import bench
from tests.conftest import ROOT

CONTRACT = ("chunks", "store", "retrieval_ms_p50", "retrieval_ms_p95", "build_s", "rss_mb")


@pytest.mark.integration
@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_bench_prints_one_json_object_with_the_contract_fields(store):
    run = subprocess.run([sys.executable, "-m", "rag.cli", "bench", "--chunks", "1000", "--synthetic", "--store",
                          store, "--json"], capture_output=True, text=True, timeout=600, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert all(key in result for key in CONTRACT)
    assert (result["chunks"], result["store"], result["synthetic"], result["queries"]) == (1000, store, True, 200)
    assert 0 < result["retrieval_ms_p50"] <= result["retrieval_ms_p95"]
    assert 0 < result["bm25_ms_p50"] <= result["bm25_ms_p95"] and 0 < result["dense_ms_p50"]
    assert result["build_s"] > 0 and result["index_mb"] > 0
    assert 50 < result["rss_mb"] < result["build_rss_mb"] + 2000


def test_synthetic_corpus_is_deterministic_and_made_of_real_sentences():
    chunks, tokens, vectors = bench.synthetic_corpus(50)
    again, _, vectors_again = bench.synthetic_corpus(50)
    assert [c.text for c in chunks] == [c.text for c in again] and np.array_equal(vectors, vectors_again)
    assert vectors.shape == (50, bench.DIM) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len({c.doc_id for c in chunks}) == 5 and all(tokens)
    pool = {s for s, _ in bench.sentence_pool(50_000)}
    first = chunks[0].text
    assert any(first.startswith(s) for s in pool)


def test_percentiles_are_numpy_linear():
    assert bench.percentiles([1.0, 2.0, 3.0, 4.0, 100.0]) == (3.0, 80.8)


def test_flat_is_its_own_reference_in_the_index_type_comparison():
    rows = bench.compare_index_types(600)
    assert [r["index_type"] for r in rows] == ["flat", "hnsw", "ivf"]
    assert rows[0]["recall@10"] == rows[0]["planted_found@1"] == 1.0
    assert all(0 < r["recall@10"] <= 1.0 and r["index_mb"] >= 0.9 for r in rows)  # 600 x 384 floats = 0.92 MB


def test_plot_writes_a_png(tmp_path):
    rows = [{"store": s, "chunks": n, "synthetic": True, "retrieval_ms_p95": n / 100, "build_s": n / 1000,
             "rss_mb": 100 + n / 10} for s in ("faiss", "milvus") for n in (1000, 10000)]
    bench.plot(rows, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_too_small_a_bench_is_refused():
    from rag.config import Config
    from rag.errors import InputError

    with pytest.raises(InputError, match="--chunks 5 is too small to time; use at least 10"):
        bench.run_bench(5, Config(), synthetic=True)
