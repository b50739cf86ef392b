"""The index survives faults: a writer killed mid-way, damaged or mismatched files, two writers at once.

Damage is detected at load with a message that says what to run; it is never silently used."""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rag.chat import Engine
from rag.config import Config
from rag.embedding import load_embedder
from rag.errors import IndexCorruptError, IndexLockedError, IndexMismatchError, ModelError, RagError
from rag.indexer import empty_index
from rag.store import current_generation, file_sha256, load_index, writer_lock
from tests.conftest import ARTICLE, ROOT
from tests.fakes import HashEmbedder, tree_digest

REVENUE = "美图2023年的总收入是多少？"
REBUILD = "rag index --rebuild --index-dir"


def rag_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "rag.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=full_env)


def run_rag(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True,
                          timeout=240, cwd=ROOT, env=full_env)


class LineReader:
    """Collects a pipe's lines on a thread, so a test can wait for one without blocking forever."""

    def __init__(self, pipe) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(pipe,), daemon=True).start()

    def _pump(self, pipe) -> None:
        try:
            for line in pipe:
                self._queue.put(line)
        except (ValueError, OSError):  # the test closed the pipe (its process ended) while a line was awaited
            return

    def wait_for(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.lines.append(line)
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r} within {timeout} s; got {self.lines}")


def answers_revenue(index_dir: Path) -> None:
    config = Config()
    engine = Engine.open(config, index_dir, embedder=load_embedder(config))
    answer = engine.ask(REVENUE)
    assert not answer.refused and "27" in answer.text, answer.text


@pytest.fixture()
def index_dir(real_index_dir, tmp_path) -> Path:
    """A private copy of the session's real index."""
    target = tmp_path / "index"
    shutil.copytree(real_index_dir, target)
    return target


def live(index_dir: Path) -> Path:
    gen = current_generation(index_dir)
    assert gen is not None
    return gen


def chinese_text(n_chars: int, seed: int = 0) -> str:
    """Deterministic Chinese-looking prose: the article's characters in random order, in sentences."""
    chars = [c for c in ARTICLE.read_text(encoding="utf-8") if "\u4e00" <= c <= "\u9fff"]
    rng = random.Random(seed)
    paragraphs, size = [], 0
    while size < n_chars:
        sentences = ["".join(rng.choices(chars, k=rng.randint(12, 40))) + rng.choice("。。。！？；")
                     for _ in range(rng.randint(2, 6))]
        paragraphs.append("".join(sentences))
        size += len(paragraphs[-1]) + 2
    return "\n\n".join(paragraphs)


# --------------------------------------------------------------------------- a writer killed mid-way

@pytest.mark.integration
def test_kill_during_rag_index_leaves_the_previous_index_working(index_dir, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text(chinese_text(100_000), encoding="utf-8")  # ~300 KB: embedding takes minutes on 2 cores
    assert big.stat().st_size > 250_000
    before = tree_digest(index_dir)
    proc = rag_process("index", str(big), "--index-dir", str(index_dir))
    try:
        line = LineReader(proc.stderr).wait_for("passages from 1 document", timeout=180)
        assert int(line.split()[1]) > 300, line  # "embedding N passages from 1 document(s)"
        time.sleep(1.0)  # well inside the embedding of hundreds of passages
        assert proc.poll() is None, "the indexer finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert tree_digest(index_dir) == before  # nothing written, not even a half generation
    answers_revenue(index_dir)
    with writer_lock(index_dir, wait_s=1.0):  # the dead writer's lock went with it
        pass


@pytest.mark.integration
def test_a_crash_while_saving_leaves_no_trace(index_dir, tmp_path, monkeypatch):
    import rag.stores.faiss_store

    config = Config()
    engine = Engine.open(config, index_dir, embedder=load_embedder(config))
    doc = tmp_path / "new.txt"
    doc.write_text("星火公司2025年的研发投入为8.8亿元。", encoding="utf-8")
    before = tree_digest(index_dir)

    def killed(*_args):
        raise KeyboardInterrupt("simulated kill while writing dense.faiss")

    monkeypatch.setattr(rag.stores.faiss_store.faiss, "write_index", killed)
    with pytest.raises(KeyboardInterrupt):
        engine.add_files([doc])
    assert tree_digest(index_dir) == before
    answers_revenue(index_dir)


@pytest.mark.integration
def test_a_full_disk_is_one_error_line_from_the_cli(index_dir, tmp_path, monkeypatch, capsys):
    import rag.stores.faiss_store
    from rag.cli import main

    def full(*_args):
        raise OSError(28, "No space left on device")

    doc = tmp_path / "new.txt"
    doc.write_text("星火公司2025年的研发投入为8.8亿元。", encoding="utf-8")
    before = tree_digest(index_dir)
    monkeypatch.setattr(rag.stores.faiss_store.faiss, "write_index", full)
    assert main(["index", str(doc), "--index-dir", str(index_dir)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "error: [Errno 28] No space left on device"
    assert tree_digest(index_dir) == before


@pytest.mark.integration
def test_leftovers_of_a_writer_killed_while_saving_are_ignored_then_cleaned(index_dir, tmp_path):
    gen = live(index_dir)
    # killed after renaming its generation but before switching CURRENT: an orphan gen-000002
    shutil.copytree(gen, index_dir / "gen-000002")
    # killed while writing files: a half temporary generation and a half pointer
    half = index_dir / ".tmp-gen-000003-99999"
    half.mkdir()
    (half / "chunks.jsonl").write_text('{"id": "x"', encoding="utf-8")
    (index_dir / ".CURRENT.99999").write_text("gen-0000", encoding="utf-8")

    answers_revenue(index_dir)  # the live generation is still the one CURRENT names
    config = Config()
    engine = Engine.open(config, index_dir, embedder=load_embedder(config))
    doc = tmp_path / "new.txt"
    doc.write_text("星火公司2025年的研发投入为8.8亿元。", encoding="utf-8")
    assert engine.add_files([doc]).added == ["new.txt"]
    # numbered past the orphan; orphan, half generation and half pointer are gone
    assert sorted(p.name for p in index_dir.iterdir()) == [".lock", "CURRENT", "gen-000003"]
    assert [d["source"] for d in load_index(index_dir, config).documents] == ["meitu_ai_article.txt", "new.txt"]


# --------------------------------------------------------------------------- damaged files

def _rewrite_checksum(gen: Path, name: str) -> None:
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][name] = file_sha256(gen / name)
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _edit_manifest(gen: Path, **changes) -> None:
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(changes)
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def damage(index_dir: Path, kind: str) -> None:
    gen = live(index_dir)
    faiss_file, chunks = gen / "dense.faiss", gen / "chunks.jsonl"
    if kind == "faiss-truncated":
        faiss_file.write_bytes(faiss_file.read_bytes()[: faiss_file.stat().st_size // 2])
    elif kind == "faiss-bytes-flipped":
        data = bytearray(faiss_file.read_bytes())
        data[len(data) // 2: len(data) // 2 + 16] = bytes(16)
        faiss_file.write_bytes(bytes(data))
    elif kind == "faiss-deleted":
        faiss_file.unlink()
    elif kind == "faiss-empty-checksum-updated":
        faiss_file.write_bytes(b"")
        _rewrite_checksum(gen, "dense.faiss")
    elif kind == "chunks-line-dropped":
        chunks.write_text("".join(chunks.read_text(encoding="utf-8").splitlines(True)[:-1]), encoding="utf-8")
    elif kind == "chunks-line-dropped-checksum-updated":
        chunks.write_text("".join(chunks.read_text(encoding="utf-8").splitlines(True)[:-1]), encoding="utf-8")
        _rewrite_checksum(gen, "chunks.jsonl")
    elif kind == "chunks-rows-of-another-shape-checksum-updated":
        chunks.write_text('{"chunk": "no such field"}\n', encoding="utf-8")
        _rewrite_checksum(gen, "chunks.jsonl")
    elif kind == "vectors-wrong-dimension-checksum-updated":
        rows = np.load(gen / "vectors.npy").shape[0]
        np.save(gen / "vectors.npy", np.zeros((rows, 10), np.float32))
        _rewrite_checksum(gen, "vectors.npy")
    elif kind == "manifest-truncated":
        (gen / "manifest.json").write_text('{"documents": [', encoding="utf-8")
    elif kind == "manifest-not-an-object":
        (gen / "manifest.json").write_text("[]", encoding="utf-8")
    elif kind == "current-names-a-missing-generation":
        (index_dir / "CURRENT").write_text("gen-999999\n", encoding="utf-8")
    else:
        raise ValueError(kind)


DAMAGE = {
    "faiss-truncated": (IndexCorruptError, "dense.faiss does not match its checksum in the manifest"),
    "faiss-bytes-flipped": (IndexCorruptError, "dense.faiss does not match its checksum in the manifest"),
    "faiss-deleted": (IndexCorruptError, "dense.faiss is missing"),
    "faiss-empty-checksum-updated": (IndexCorruptError, "cannot be read (RuntimeError"),
    "chunks-line-dropped": (IndexCorruptError, "chunks.jsonl does not match its checksum"),
    "chunks-line-dropped-checksum-updated": (IndexCorruptError, "disagree on how many passages there are "
                                             "({'chunks': 22, 'vectors': 23, 'faiss': 23, 'bm25': 23, 'manifest': 23})"),
    "chunks-rows-of-another-shape-checksum-updated": (IndexCorruptError, "cannot be read (TypeError"),
    "vectors-wrong-dimension-checksum-updated": (IndexCorruptError, "the vectors in"),
    "manifest-truncated": (IndexCorruptError, "gen-000001 is unreadable (Expecting value"),
    "manifest-not-an-object": (IndexCorruptError, "is not a JSON object"),
    "current-names-a-missing-generation": (IndexCorruptError, "names gen-999999, which has no manifest.json"),
}


@pytest.mark.integration
@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_index_is_refused_at_load_with_the_fix(index_dir, kind):
    damage(index_dir, kind)
    error, message = DAMAGE[kind]
    config = Config()
    for load in (lambda: load_index(index_dir, config),
                 lambda: Engine.open(config, index_dir, embedder=load_embedder(config))):
        with pytest.raises(error) as caught:
            load()
        assert message in str(caught.value)
        assert f"{REBUILD} {index_dir}" in str(caught.value)


@pytest.mark.integration
@pytest.mark.parametrize(("settings", "message"), [
    ({"chunk_size": 200}, "chunk_size: index has 300, config wants 200"),
    ({"chunk_overlap": 30}, "chunk_overlap: index has 60, config wants 30"),
    ({"model": "BAAI/bge-small-zh-v1.5"}, "model: index has 'multilingual-e5-small', config wants 'BAAI/bge-small-zh-v1.5'"),
    ({"index_type": "hnsw"}, "index_type: index has 'flat', config wants 'hnsw'"),
])
def test_index_built_with_other_settings_is_refused(index_dir, settings, message):
    with pytest.raises(IndexMismatchError) as caught:
        load_index(index_dir, Config(**settings))
    assert message in str(caught.value) and f"{REBUILD} {index_dir}" in str(caught.value)
    assert message in caught.value.what and "rag index" not in caught.value.what  # the mismatch alone, no advice


@pytest.mark.integration
def test_index_of_another_format_version_is_refused(index_dir):
    _edit_manifest(live(index_dir), format=99)
    with pytest.raises(IndexMismatchError, match=r"has format 99, this version reads 2; rebuild it with `rag index "
                                                 r"--rebuild") as caught:
        load_index(index_dir, Config())
    assert caught.value.what == f"the index in {index_dir} has format 99, this version reads 2"


@pytest.mark.integration
def test_index_built_by_another_copy_of_the_model_is_neither_read_nor_extended(index_dir, tmp_path):
    _edit_manifest(live(index_dir), model_fingerprint="multilingual-e5-small:some-other-weights")
    config = Config()
    embedder = load_embedder(config)
    with pytest.raises(ModelError, match=f"fingerprint differs.*{REBUILD}"):
        Engine.open(config, index_dir, embedder=embedder)
    doc = tmp_path / "new.txt"
    doc.write_text("星火公司2025年的研发投入为8.8亿元。", encoding="utf-8")
    before = tree_digest(index_dir)
    engine = Engine(config, index_dir, embedder, empty_index(embedder))
    with pytest.raises(ModelError, match=f"fingerprint differs.*{REBUILD}"):
        engine.add_files([doc])  # mixing two models' vectors in one index would be silent garbage
    assert tree_digest(index_dir) == before


@pytest.mark.integration
def test_cli_names_the_fix_for_a_damaged_or_mismatched_index(index_dir, monkeypatch, capsys):
    from rag.cli import main  # in-process: the model is already loaded, the output is the same

    monkeypatch.setenv("RAG_CHUNK_SIZE", "200")  # asked for explicitly, so it must not be overridden
    assert main(["ask", REVENUE, "--index-dir", str(index_dir)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err
    last = out.err.splitlines()[-1]
    assert last.startswith("error: ") and "chunk_size: index has 300, config wants 200" in last
    assert f"{REBUILD} {index_dir}" in last

    monkeypatch.delenv("RAG_CHUNK_SIZE")
    damage(index_dir, "faiss-truncated")
    assert main(["ask", REVENUE, "--index-dir", str(index_dir)]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("error: ") and "dense.faiss does not match its checksum" in last
    assert f"{REBUILD} {index_dir}" in last


# --------------------------------------------------------------------------- two writers at once

@pytest.mark.integration
def test_a_second_rag_index_waits_for_the_first(index_dir, tmp_path):
    doc = tmp_path / "second.txt"
    doc.write_text("星火公司年报\n\n星火公司2025年的研发投入为8.8亿元，同比增长12%。", encoding="utf-8")
    current = (index_dir / "CURRENT").read_text()
    with writer_lock(index_dir):  # this test is the first writer
        proc = rag_process("index", str(doc), "--index-dir", str(index_dir))
        try:
            line = LineReader(proc.stderr).wait_for("waiting", timeout=180)
            assert f"another process is writing {index_dir}; waiting for it to finish" in line
            time.sleep(0.5)
            assert proc.poll() is None and (index_dir / "CURRENT").read_text() == current
        except BaseException:
            proc.kill()
            raise
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0 and "added: second.txt" in out
    sources = [d["source"] for d in load_index(index_dir, Config()).documents]
    assert sources == ["meitu_ai_article.txt", "second.txt"]


def test_a_writer_that_cannot_get_the_lock_says_so(tmp_path):
    with writer_lock(tmp_path):
        with pytest.raises(IndexLockedError, match=f"another process is writing the index in {tmp_path} "
                                                   r"\(waited 0 s\); try again when it has finished"):
            with writer_lock(tmp_path, wait_s=0.3):
                pass


def test_concurrent_writers_and_readers_lose_nothing(tmp_path):
    """Two writers (separate engines, as two processes would be) add 4 documents each while a reader
    keeps loading: every document arrives, and the reader never sees a broken index."""
    embedder = HashEmbedder()
    config = Config(model=embedder.name)
    index_dir = tmp_path / "index"
    Engine(config, index_dir, embedder, empty_index(embedder)).add_files([ARTICLE])
    errors: list[BaseException] = []
    done = threading.Event()

    def write(worker: int) -> None:
        engine = Engine(config, index_dir, embedder, empty_index(embedder))
        try:
            for i in range(4):
                doc = tmp_path / f"w{worker}-{i}.txt"
                doc.write_text(f"第{worker}号写入者的第{i}份文件。星火公司第{i}个项目的预算为{worker + i}亿元。",
                               encoding="utf-8")
                engine.add_files([doc])
        except BaseException as exc:  # surfaced below, with the others
            errors.append(exc)

    def read() -> None:
        while not done.is_set():
            try:
                load_index(index_dir, config)
            except RagError as exc:
                errors.append(exc)

    reader = threading.Thread(target=read)
    writers = [threading.Thread(target=write, args=(w,)) for w in range(2)]
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    done.set()
    reader.join(timeout=30)
    assert errors == []
    index = load_index(index_dir, config)
    assert sorted(d["source"] for d in index.documents) == sorted(
        ["meitu_ai_article.txt"] + [f"w{w}-{i}.txt" for w in range(2) for i in range(4)])
    assert sorted(p.name for p in index_dir.iterdir()) == [".lock", "CURRENT", live(index_dir).name]
