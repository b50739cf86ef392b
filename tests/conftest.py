"""Shared fixtures: a deterministic fake embedder for fast tests, and the real engine for integration tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.config import BUNDLED_CORPUS, Config
from tests.fakes import HashEmbedder

# The suite pins the extractive answerer (exact, instant answers) for everything that does not name one,
# subprocesses (CLI, ui.py) included; the model answerer is exercised where a test names it ("auto"/"model":
# test_model_answerer.py with a scripted generator, test_llm_integration.py with the bundled model).
os.environ.setdefault("RAG_ANSWERER", "extractive")

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = BUNDLED_CORPUS


@pytest.fixture(scope="session")
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def fake_config() -> Config:
    # Hashed n-gram cosines are not e5 cosines: the fitted extractive answerer's decisions would be
    # meaningless on them, so the plumbing tests run the word-overlap "sentence" answerer (only the word
    # part of its refusal policy applies). The extractive answerer is tested with the real model.
    return Config(model="fake-hash", answerer="sentence", refuse_min_cosine=0.0, refuse_min_z=0.0)


@pytest.fixture()
def fake_engine(tmp_path, fake_embedder, fake_config):
    """An engine over the bundled article with the fake embedder, in a fresh index dir."""
    from rag.chat import Engine
    from rag.indexer import empty_index

    engine = Engine(fake_config, tmp_path / "index", fake_embedder, empty_index(fake_embedder))
    engine.add_files([ARTICLE])
    return engine


@pytest.fixture()
def engine_over(tmp_path, fake_embedder, fake_config):
    """A function: an engine with the fake embedder over `files` ({name: text}) written to tmp_path, with `config`
    (default fake_config) in a fresh index dir."""
    from rag.chat import Engine
    from rag.indexer import empty_index

    def make(files: dict[str, str], config: Config | None = None):  # noqa: ANN202 - an Engine
        config = config or fake_config
        paths = []
        for name, text in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
            paths.append(tmp_path / name)
        engine = Engine(config, tmp_path / "index", fake_embedder, empty_index(fake_embedder, config))
        engine.add_files(paths)
        return engine

    return make


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory) -> Path:
    """The bundled article indexed with the real model, once per test session."""
    from rag.chat import Engine
    from rag.embedding import load_embedder
    from rag.indexer import empty_index

    index_dir = tmp_path_factory.mktemp("real") / "index"
    config = Config.from_env()
    embedder = load_embedder(config)
    Engine(config, index_dir, embedder, empty_index(embedder)).add_files([ARTICLE])
    return index_dir


@pytest.fixture(scope="session")
def real_engine(real_index_dir):
    from rag.chat import Engine

    return Engine.open(Config.from_env(), real_index_dir)


@pytest.fixture()
def real_engine_copy(real_index_dir, tmp_path):
    """The real engine over a private copy of the session's real index (tests may modify it)."""
    import shutil

    from rag.chat import Engine
    from rag.embedding import load_embedder

    index_dir = tmp_path / "index"
    shutil.copytree(real_index_dir, index_dir)
    config = Config.from_env()
    return Engine.open(config, index_dir, embedder=load_embedder(config))
