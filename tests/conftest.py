"""Shared fixtures: a deterministic fake embedder for fast tests, and the real engine for integration tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.config import BUNDLED_CORPUS, Config

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = BUNDLED_CORPUS


class BigramEmbedder:
    """Hashed character-bigram counts, L2-normalized: texts sharing bigrams get similar vectors.

    Deterministic and instant, so retrieval and answering can be tested without the real model.
    """

    name = "fake-bigram"
    dim = 256
    fingerprint = "fake-bigram-v1"

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for a, b in zip(text, text[1:], strict=False):
            v[int(hashlib.md5((a + b).encode()).hexdigest(), 16) % self.dim] += 1.0
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str],
                       progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        out = self.embed_queries(texts)
        if progress:
            progress(len(texts), len(texts))
        return out


@pytest.fixture(scope="session")
def fake_embedder() -> BigramEmbedder:
    return BigramEmbedder()


@pytest.fixture(scope="session")
def fake_config() -> Config:
    # bigram cosines are not e5 cosines: only the word-overlap part of the refusal policy applies
    return Config(model="fake-bigram", refuse_min_cosine=0.0, refuse_min_z=0.0)


@pytest.fixture()
def fake_engine(tmp_path, fake_embedder, fake_config):
    """An engine over the bundled article with the fake embedder, in a fresh index dir."""
    from rag.chat import Engine
    from rag.indexer import empty_index

    engine = Engine(fake_config, tmp_path / "index", fake_embedder, empty_index(fake_embedder))
    engine.add_files([ARTICLE])
    return engine


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory) -> Path:
    """The bundled article indexed with the real model, once per test session."""
    from rag.chat import Engine
    from rag.embedding import load_embedder
    from rag.indexer import empty_index

    index_dir = tmp_path_factory.mktemp("real") / "index"
    config = Config()
    embedder = load_embedder(config)
    Engine(config, index_dir, embedder, empty_index(embedder)).add_files([ARTICLE])
    return index_dir


@pytest.fixture(scope="session")
def real_engine(real_index_dir):
    from rag.chat import Engine

    return Engine.open(Config(), real_index_dir, build_default=False)
