"""The scale settings: vector store, Milvus URI and torch threads come from RAG_* and are checked."""

from __future__ import annotations

import pytest

from rag.config import Config
from rag.embedding import torch_threads
from rag.errors import InputError


def test_scale_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_VECTOR_STORE", "milvus")
    monkeypatch.setenv("RAG_MILVUS_URI", "http://milvus.internal:19530")
    monkeypatch.setenv("RAG_TORCH_THREADS", "1")
    config = Config.from_env()
    assert (config.vector_store, config.milvus_uri, config.torch_threads) == (
        "milvus", "http://milvus.internal:19530", 1)
    assert config.index_settings()["vector_store"] == "milvus"  # recorded in the manifest
    assert torch_threads(config) == 1


def test_torch_threads_default_to_one_per_core(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert torch_threads(Config()) == 6


def test_a_negative_thread_count_is_refused():
    with pytest.raises(InputError, match="torch_threads=-2 must be 0 \\(one per core\\) or a thread count"):
        Config(torch_threads=-2)


def test_the_latin_chunk_scale_is_checked_and_read_from_the_environment(monkeypatch):
    import pytest

    from rag.errors import InputError

    assert Config().latin_chunk_scale == 4 and Config().index_settings()["latin_chunk_scale"] == 4
    monkeypatch.setenv("RAG_LATIN_CHUNK_SCALE", "2")
    assert Config.from_env().latin_chunk_scale == 2
    for bad in (0, 7):
        with pytest.raises(InputError, match=f"latin_chunk_scale={bad} is out of range; use 1..6"):
            Config(latin_chunk_scale=bad)
    assert Config(chunk_size=450).latin_chunk_scale == 4  # 1,800 characters of English: about 400 tokens
    with pytest.raises(InputError, match="chunk_size=450 times latin_chunk_scale=5 gives English chunks of 2250"):
        Config(chunk_size=450, latin_chunk_scale=5)
