"""The index on disk: FAISS file + chunks + BM25 + sentence vectors + manifest, written atomically.

Layout of an index directory:
    CURRENT            name of the live generation (replaced atomically with os.replace)
    gen-000007/        one complete, immutable generation: manifest.json, chunks.jsonl, vectors.npy,
                       dense.faiss, bm25.json, sentences.jsonl, sentence_vectors.npy
    .lock              flock()ed by a writer, so two `rag index` runs never interleave
A writer builds a new generation beside the live one and only then points CURRENT at it, so a crash at
any moment leaves the previous index loadable. Every file's sha256 is in the manifest and is checked on load.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.bm25 import BM25
from rag.config import Config
from rag.errors import IndexCorruptError, IndexLockedError, IndexMismatchError, IndexMissingError
from rag.schema import Chunk, Sentence, file_sha256

FORMAT_VERSION = 1
FILES = ("chunks.jsonl", "vectors.npy", "dense.faiss", "bm25.json", "sentences.jsonl", "sentence_vectors.npy")


@dataclass
class Index:
    """Everything retrieval and answering need, in memory. Rows of `vectors` follow `chunks`."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: Any
    bm25: BM25
    sentences: list[Sentence]
    sentence_vectors: np.ndarray

    @property
    def documents(self) -> list[dict[str, Any]]:
        return self.manifest["documents"]

    # Derived lookups, computed once per Index (an Index is never modified after it is built).
    @cached_property
    def sentence_rows_by_doc(self) -> dict[str, tuple[list[int], list[int]]]:
        """doc_id -> (sentence rows in document order, their start offsets) for bisecting by position."""
        rows: dict[str, list[int]] = {}
        for row, s in enumerate(self.sentences):
            rows.setdefault(s.doc_id, []).append(row)
        return {doc: (r, [self.sentences[i].start for i in r]) for doc, r in rows.items()}

    @cached_property
    def max_idf(self) -> float:
        """The idf of the rarest indexed word (1.0 for an empty index)."""
        rarest = min((len(p) for p in self.bm25.postings.values()), default=0)
        return self.bm25.idf_of_df(rarest) or 1.0


def build_faiss(vectors: np.ndarray, index_type: str) -> Any:
    """Inner product on L2-normalized vectors = cosine. Flat is exact; HNSW/IVF trade accuracy for speed."""
    n, dim = vectors.shape if vectors.size else (0, vectors.shape[1] if vectors.ndim == 2 else 0)
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)  # M=32: FAISS wiki's usual value
        index.hnsw.efSearch = 64
    elif index_type == "ivf" and n >= 2:
        # ~4*sqrt(n) lists, but at least 39 training points per list as FAISS recommends.
        nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(nlist, 8)
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


def _write_jsonl(path: Path, rows: Iterator[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def save_index(index: Index, index_dir: Path, config: Config) -> Path:
    """Write `index` as a new generation and make it live; returns the generation directory.

    Call inside `writer_lock(index_dir)`. Old generations are removed after the switch.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    # Number past every generation on disk, not just the live one: a writer killed after renaming its
    # generation but before switching CURRENT leaves an orphan that a rename onto it would fail on.
    numbers = [int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()]
    gen = index_dir / f"gen-{max(numbers, default=0) + 1:06d}"
    tmp = index_dir / f".tmp-{gen.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _write_jsonl(tmp / "chunks.jsonl", (asdict(c) for c in index.chunks))
        np.save(tmp / "vectors.npy", index.vectors.astype(np.float32))
        faiss.write_index(index.faiss_index, str(tmp / "dense.faiss"))
        (tmp / "bm25.json").write_text(json.dumps(index.bm25.to_json(), ensure_ascii=False), encoding="utf-8")
        _write_jsonl(tmp / "sentences.jsonl", (asdict(s) for s in index.sentences))
        np.save(tmp / "sentence_vectors.npy", index.sentence_vectors.astype(np.float32))
        manifest = dict(index.manifest)
        manifest.update(format=FORMAT_VERSION, settings=config.index_settings(),
                        counts={"documents": len(manifest["documents"]), "chunks": len(index.chunks),
                                "sentences": len(index.sentences)},
                        files={name: file_sha256(tmp / name) for name in FILES},
                        saved_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        for name in (*FILES, "manifest.json"):
            with open(tmp / name, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, gen)
        pointer_tmp = index_dir / f".CURRENT.{os.getpid()}"
        pointer_tmp.write_text(gen.name + "\n", encoding="utf-8")
        with open(pointer_tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(pointer_tmp, index_dir / "CURRENT")
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    index.manifest = manifest
    for old in index_dir.glob("gen-*"):
        if old.name != gen.name:
            shutil.rmtree(old, ignore_errors=True)
    for stale in index_dir.glob(".tmp-gen-*"):  # left by writers killed mid-save (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    for stale in index_dir.glob(".CURRENT.*"):
        stale.unlink(missing_ok=True)
    return gen


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_manifest(index_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The live generation's directory and manifest."""
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexMissingError(f"no index in {index_dir}; build one with `rag index --index-dir {index_dir}`.")
    if not (gen / "manifest.json").exists():  # CURRENT is written last, so its generation must be whole
        raise IndexCorruptError(f"{index_dir / 'CURRENT'} names {gen.name}, which has no manifest.json; "
                                f"rebuild with `rag index --rebuild --index-dir {index_dir}`.")
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"the manifest in {gen} is unreadable ({exc}); rebuild with "
                                f"`rag index --rebuild --index-dir {index_dir}`.") from None
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"the manifest in {gen} is not a JSON object; rebuild with "
                                f"`rag index --rebuild --index-dir {index_dir}`.")
    return gen, manifest


def config_for_index(index_dir: Path, rebuild: bool = False, **overrides: Any) -> Config:
    """Config for working on `index_dir`: defaults, RAG_* variables, then `overrides` (None = not given).

    For an existing index, its saved build settings fill what was not asked for explicitly, so
    `rag ask --index-dir X` just works on an index built with other settings; a setting asked for
    explicitly is never replaced, so a real mismatch is reported when the index is loaded.
    """
    saved: dict[str, Any] = {}
    if not rebuild:
        try:
            saved = read_manifest(index_dir)[1].get("settings", {})
        except (IndexMissingError, IndexCorruptError):
            saved = {}
    for key in ("model", "chunk_size", "chunk_overlap", "index_type"):
        if overrides.get(key) is None and key in saved and f"RAG_{key.upper()}" not in os.environ:
            overrides[key] = saved[key]
    return Config.from_env(**overrides)


def check_settings(manifest: dict[str, Any], config: Config, index_dir: Path) -> None:
    """Refuse an index built with other model or chunk settings than `config` asks for."""
    built = manifest.get("settings", {})
    wanted = config.index_settings()
    diffs = [f"{k}: index has {built.get(k)!r}, config wants {v!r}" for k, v in wanted.items() if built.get(k) != v]
    if diffs:
        raise IndexMismatchError(f"the index in {index_dir} was built with other settings ({'; '.join(diffs)}); "
                                 f"run `rag index --rebuild --index-dir {index_dir}`, or use matching settings.")


def load_index(index_dir: Path, config: Config) -> Index:
    """Load and verify the live generation, or raise a RagError that says what to run.

    A writer deletes the old generation right after switching CURRENT, so a reader can lose files
    mid-load; when CURRENT has moved on meanwhile, that is no damage: load the new generation instead.
    """
    index_dir = Path(index_dir)
    for _attempt in range(5):
        live = current_generation(index_dir)
        try:
            return _load_generation(index_dir, config)
        except (IndexCorruptError, IndexMissingError):
            if current_generation(index_dir) == live:
                raise
    return _load_generation(index_dir, config)


def _load_generation(index_dir: Path, config: Config) -> Index:
    gen, manifest = read_manifest(index_dir)
    fix = f"rebuild it with `rag index --rebuild --index-dir {index_dir}`"
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(f"the index in {index_dir} has format {manifest.get('format')}, this version "
                                 f"reads {FORMAT_VERSION}; {fix}.")
    check_settings(manifest, config, index_dir)
    for name in FILES:
        path = gen / name
        if not path.exists():
            raise IndexCorruptError(f"{path} is missing; {fix}.")
        if file_sha256(path) != manifest.get("files", {}).get(name):
            raise IndexCorruptError(f"{path} does not match its checksum in the manifest (damaged or edited); {fix}.")
    try:
        chunks = [Chunk(**row) for row in _read_jsonl(gen / "chunks.jsonl")]
        sentences = [Sentence(**row) for row in _read_jsonl(gen / "sentences.jsonl")]
        vectors = np.load(gen / "vectors.npy")
        sentence_vectors = np.load(gen / "sentence_vectors.npy")
        faiss_index = faiss.read_index(str(gen / "dense.faiss"))
        bm25 = BM25.from_json(json.loads((gen / "bm25.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexCorruptError(f"the index in {gen} cannot be read ({type(exc).__name__}: {exc}); {fix}.") from None
    counts = {"chunks": len(chunks), "vectors": len(vectors), "faiss": faiss_index.ntotal,
              "bm25": bm25.n_docs, "manifest": manifest.get("counts", {}).get("chunks")}
    if len(set(counts.values())) != 1 or len(sentences) != len(sentence_vectors):
        raise IndexCorruptError(f"the files of {gen} disagree on how many passages there are ({counts}); {fix}.")
    if manifest.get("dim") != (vectors.shape[1] if vectors.ndim == 2 else None) and len(vectors):
        raise IndexCorruptError(f"the vectors in {gen} have the wrong dimension; {fix}.")
    return Index(manifest=manifest, chunks=chunks, vectors=vectors, faiss_index=faiss_index, bm25=bm25,
                 sentences=sentences, sentence_vectors=sentence_vectors)


@contextmanager
def writer_lock(index_dir: Path, wait_s: float = 120.0,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the index directory; wait up to `wait_s` for another writer to finish."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as handle:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(f"another process is writing the index in {index_dir} "
                                           f"(waited {wait_s:.0f} s); try again when it has finished.") from None
                if on_wait and not told:
                    on_wait(f"another process is writing {index_dir}; waiting for it to finish...")
                    told = True
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
