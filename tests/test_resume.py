"""An interrupted indexing run resumes: documents it finished are not embedded again, and the resume
cache is gone once a generation holds them."""

from __future__ import annotations

import numpy as np
import pytest

from rag.chat import Engine
from rag.indexer import _batches, empty_index
from rag.resume import RESUME_DIR, ResumeCache
from tests.fakes import HashEmbedder


class CountingEmbedder(HashEmbedder):
    """Counts embedded passages; raises KeyboardInterrupt (a kill) on the call number `fail_at`."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.texts: list[str] = []
        self.calls = 0
        self.fail_at = fail_at

    def embed_passages(self, texts, progress=None):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt("killed mid-way")
        self.texts.extend(texts)
        return super().embed_passages(texts, progress)


def write_files(folder, n):
    folder.mkdir()
    paths = []
    for i in range(n):
        p = folder / f"f{i:02d}.txt"
        # ~40 passages each: 3 files fill a 512-passage batch only with the 4th
        p.write_text("\n\n".join(f"第{i}号文件第{j}段：星火公司第{j}个项目的预算为{i + j}亿元，" + "细节" * 120 + "。"
                                 for j in range(40)), encoding="utf-8")
        paths.append(p)
    return paths


def test_batches_group_whole_documents():
    assert _batches([0, 1, 2, 3], [300, 200, 600, 10], limit=512) == [[0, 1], [2], [3]]
    assert _batches([], [], limit=512) == []


def test_an_interrupted_index_resumes_where_it_stopped(tmp_path, fake_config):
    paths = write_files(tmp_path / "docs", 30)
    index_dir = tmp_path / "index"
    first = CountingEmbedder(fail_at=5)  # batch 1 = passages + sentences (calls 1, 2), batch 2 (3, 4), dies in 3
    with pytest.raises(KeyboardInterrupt):
        Engine(fake_config, index_dir, first, empty_index(first)).add_files(paths)
    assert not (index_dir / "CURRENT").exists()  # no generation was written
    finished = len(list((index_dir / RESUME_DIR).glob("*.npz")))
    assert finished > 0 and finished < 30
    lines: list[str] = []
    second = CountingEmbedder()
    report = Engine(fake_config, index_dir, second, empty_index(second)).add_files(paths, progress=lines.append)
    assert len(report.added) == 30
    assert f"resuming: {finished} document(s) were embedded by an interrupted run" in lines
    assert not any(t.startswith(f"第{i}号文件") for i in range(finished) for t in second.texts)
    assert any(t.startswith("第29号文件") for t in second.texts)
    assert not (index_dir / RESUME_DIR).exists()
    whole = CountingEmbedder()
    fresh = Engine(fake_config, tmp_path / "fresh", whole, empty_index(whole))
    fresh.add_files(paths)
    engine = Engine.open(fake_config, index_dir, embedder=second)
    assert np.array_equal(np.asarray(engine.index.vectors), np.asarray(fresh.index.vectors))
    assert [c.id for c in engine.index.chunks] == [c.id for c in fresh.index.chunks]


def test_entries_of_other_settings_are_dropped(tmp_path):
    folder = tmp_path / "r"
    cache = ResumeCache(folder, {"model": "a"})
    cache.put("d1", np.ones((2, 4), np.float32), np.ones((3, 4), np.float32))
    assert ResumeCache(folder, {"model": "a"}).get("d1", 2, 3)[0].shape == (2, 4)
    assert ResumeCache(folder, {"model": "a"}).get("d1", 5, 3) is None  # other chunking of the document
    assert ResumeCache(folder, {"model": "b"}).get("d1", 2, 3) is None
    assert not folder.exists()
