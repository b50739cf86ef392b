"""The index on disk: vector store + chunks + BM25 + sentence vectors + manifest, written atomically.

Layout of an index directory:
    CURRENT            name of the live generation (replaced atomically with os.replace)
    gen-000007/        one complete generation: manifest.json, chunks.jsonl, vectors.npy, bm25.npz,
                       bm25_vocab.json, sentences.jsonl, sentence_vectors.npy, and the vector store's
                       own files (FAISS: dense.faiss, dense_keys.npy, dense_docs.json; Milvus: milvus.db/ or milvus.json)
    .lock              held by a writer (filelock), so two `rag index` runs never interleave
    .resume/           vectors of documents an interrupted writer finished (rag/resume.py)
A writer builds a new generation beside the live one and only then points CURRENT at it, so a crash at
any moment leaves the previous index loadable. The sha256 of every file that never changes once written is
in the manifest and is checked on load; a Milvus database is checked by asking it (see _check_store).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from rag import resume
from rag.answering.text import mostly_cjk
from rag.bm25 import BM25
from rag.bm25 import FILES as BM25_FILES
from rag.config import LEGACY_SETTINGS, Config
from rag.errors import IndexCorruptError, IndexLockedError, IndexMismatchError, IndexMissingError
from rag.progress import Progress
from rag.schema import Chunk, Sentence, file_sha256
from rag.script import TRADITIONAL_AT, traditional_share
from rag.stores import VectorStore, load_store, release

# 2: the vector store became pluggable (its kind in the settings, its files listed by the store), BM25 moved
# to bm25s (bm25.npz + bm25_vocab.json instead of bm25.json).
FORMAT_VERSION = 2
FILES = ("chunks.jsonl", "vectors.npy", *BM25_FILES, "sentences.jsonl", "sentence_vectors.npy")
PROBES = 3  # stored vectors searched back on load (Milvus' files cannot be checksummed)
MOSTLY_CJK_CHUNKS = 2000  # chunks Index.mostly_cjk reads (set by hand: ~600k characters, counted once per index)


@dataclass
class Index:
    """Everything retrieval and answering need. Rows of `vectors` follow `chunks`; the vector store
    `dense` holds the same vectors keyed by row (see rag/stores/)."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    dense: VectorStore
    bm25: BM25
    sentences: list[Sentence]
    sentence_vectors: np.ndarray

    @property
    def documents(self) -> list[dict[str, Any]]:
        return self.manifest["documents"]

    # Derived lookups, computed once per Index: its chunks, sentences and BM25 never change once it is built
    # (indexing returns a new Index; save_index replaces only the manifest, which these do not read).
    @cached_property
    def characters(self) -> frozenset[str]:
        """Every character its chunks write: a question is read in their script (rag/script.py, README step 88)."""
        return frozenset(self.joined_text)

    @cached_property
    def traditional(self) -> bool:
        """Whether its chunks are written in traditional characters (rag/script.py's TRADITIONAL_AT; README step 90)."""
        return traditional_share(self.characters) >= TRADITIONAL_AT

    @cached_property
    def joined_text(self) -> str:
        """Its chunks' texts, one per line (`writes` searches it)."""
        return "\n".join(c.text for c in self.chunks)

    def writes(self, text: str) -> bool:
        """Whether its chunks hold `text` as written (step 88 asks of a traditional character beside its neighbour)."""
        return text in self.joined_text

    @cached_property
    def sentence_rows_by_doc(self) -> dict[str, tuple[list[int], list[int]]]:
        """doc_id -> (sentence rows in document order, their start offsets) for bisecting by position."""
        rows: dict[str, list[int]] = {}
        for row, s in enumerate(self.sentences):
            rows.setdefault(s.doc_id, []).append(row)
        return {doc: (r, [self.sentences[i].start for i in r]) for doc, r in rows.items()}

    def sentence_rows_in(self, chunk: Chunk) -> list[int]:
        """Rows of `sentences` lying wholly inside `chunk`, in document order (one cut by its border is not)."""
        rows, starts = self.sentence_rows_by_doc.get(chunk.doc_id, ([], []))
        inside = []
        for r in rows[bisect_left(starts, chunk.start):]:
            sentence = self.sentences[r]
            if sentence.start >= chunk.end:
                break
            if sentence.end <= chunk.end:
                inside.append(r)
        return inside

    @cached_property
    def mostly_cjk(self) -> bool:
        """Whether most letters of the indexed text are CJK characters (then an English question shares no word
        with it, and the model answerer may translate it before the search: ModelAnswerer.search_query). Read on
        the first MOSTLY_CJK_CHUNKS chunks, so a large index answers at once."""
        return mostly_cjk("".join(chunk.text for chunk in self.chunks[:MOSTLY_CJK_CHUNKS]))

    @cached_property
    def max_idf(self) -> float:
        """The idf of the rarest indexed word (1.0 for an empty index)."""
        return self.bm25.max_idf or 1.0


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
        store_files = index.dense.save(tmp)
        index.bm25.save(tmp)
        _write_jsonl(tmp / "sentences.jsonl", (asdict(s) for s in index.sentences))
        np.save(tmp / "sentence_vectors.npy", index.sentence_vectors.astype(np.float32))
        manifest = dict(index.manifest)
        manifest.update(format=FORMAT_VERSION, settings=config.index_settings(),
                        counts={"documents": len(manifest["documents"]), "chunks": len(index.chunks),
                                "sentences": len(index.sentences)},
                        store=index.dense.kind,
                        files={name: file_sha256(tmp / name) for name in (*FILES, *store_files)},
                        saved_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        for name in (*FILES, *store_files, "manifest.json"):
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
            release(old)
            shutil.rmtree(old, ignore_errors=True)
    for stale in index_dir.glob(".tmp-gen-*"):  # left by writers killed mid-save (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    for stale in index_dir.glob(".CURRENT.*"):
        stale.unlink(missing_ok=True)
    resume.clear(index_dir)  # the new generation holds every vector the resume cache kept
    return gen


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Row by row: a million chunks' dicts all at once would double the loading peak."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


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
    for key in Config().index_settings():
        if overrides.get(key) is None and f"RAG_{key.upper()}" not in os.environ:
            if key in saved:
                overrides[key] = saved[key]
            elif saved and key in LEGACY_SETTINGS:  # an index saved before the setting existed: as it was built
                overrides[key] = LEGACY_SETTINGS[key]
    return Config.from_env(**overrides)


def check_settings(manifest: dict[str, Any], config: Config, index_dir: Path) -> None:
    """Refuse an index built with other model or chunk settings than `config` asks for."""
    built = {**LEGACY_SETTINGS, **manifest.get("settings", {})}  # a setting the index predates: as it was built
    wanted = config.index_settings()
    diffs = [f"{k}: index has {built.get(k)!r}, config wants {v!r}" for k, v in wanted.items() if built.get(k) != v]
    if diffs:
        what = f"the index in {index_dir} was built with other settings ({'; '.join(diffs)})"
        raise IndexMismatchError(f"{what}; run `rag index --rebuild --index-dir {index_dir}`, or use matching settings.",
                                 what)


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
        what = f"the index in {index_dir} has format {manifest.get('format')}, this version reads {FORMAT_VERSION}"
        raise IndexMismatchError(f"{what}; {fix}.", what)
    check_settings(manifest, config, index_dir)
    for name in dict.fromkeys((*FILES, *manifest.get("files", {}))):
        path = gen / name
        if not path.exists():
            raise IndexCorruptError(f"{path} is missing; {fix}.")
        if file_sha256(path) != manifest.get("files", {}).get(name):
            raise IndexCorruptError(f"{path} does not match its checksum in the manifest (damaged or edited); {fix}.")
    try:
        chunks = [Chunk(**row) for row in _read_jsonl(gen / "chunks.jsonl")]
        sentences = [Sentence(**row) for row in _read_jsonl(gen / "sentences.jsonl")]
        # Memory-mapped: only the rows a question touches become resident (a million passages' vectors
        # are 1.5 GB, and the vector store already holds its own copy). Files of a generation never change.
        vectors = np.load(gen / "vectors.npy", mmap_mode="r")
        sentence_vectors = np.load(gen / "sentence_vectors.npy", mmap_mode="r")
        bm25 = BM25.load(gen)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexCorruptError(f"the index in {gen} cannot be read ({type(exc).__name__}: {exc}); {fix}.") from None
    if manifest.get("dim") != (vectors.shape[1] if vectors.ndim == 2 else None) and len(vectors):
        raise IndexCorruptError(f"the vectors in {gen} have the wrong dimension; {fix}.")
    kind = manifest.get("settings", {}).get("vector_store")
    try:
        dense = load_store(kind, gen, int(manifest.get("dim", 0)), config.index_type, config.milvus_uri)
    except IndexLockedError:
        raise
    except Exception as exc:  # each engine raises its own types (RuntimeError, MilvusException...)
        raise IndexCorruptError(f"the {kind} vector store in {gen} cannot be read "
                                f"({type(exc).__name__}: {exc}); {fix}.") from None
    counts = {"chunks": len(chunks), "vectors": len(vectors), kind: dense.count(),
              "bm25": bm25.n_docs, "manifest": manifest.get("counts", {}).get("chunks")}
    if len(set(counts.values())) != 1 or len(sentences) != len(sentence_vectors):
        dense.close()
        raise IndexCorruptError(f"the files of {gen} disagree on how many passages there are ({counts}); {fix}.")
    if dense.kind == "milvus":  # its files cannot be checksummed (embedded or on a server): ask it instead
        _check_store(dense, vectors, gen, fix)
    return Index(manifest=manifest, chunks=chunks, vectors=vectors, dense=dense, bm25=bm25,
                 sentences=sentences, sentence_vectors=sentence_vectors)


def _check_store(dense: VectorStore, vectors: np.ndarray, gen: Path, fix: str) -> None:
    """Search a few stored vectors back: each must find its own row first with cosine 1. Catches a store
    holding other vectors, or keyed in another order, than the checksummed vectors.npy."""
    n = len(vectors)
    for row in sorted({0, n // 2, n - 1})[:PROBES] if n else []:
        found = dense.search(vectors[row], 10)  # not 1: identical passages tie, HNSW/IVF are approximate
        if not any(key == row and abs(score - 1.0) < 1e-3 for key, score in found):
            dense.close()
            raise IndexCorruptError(f"the {dense.kind} vector store in {gen} does not hold passage {row}'s vector "
                                    f"(searching it found {found[:2]}); {fix}.")


@contextmanager
def writer_lock(index_dir: Path, wait_s: float = 120.0,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the index directory; wait up to `wait_s` for another writer to finish.

    filelock's lock is an flock() on index/.lock: the kernel releases it when its holder dies."""
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(index_dir / ".lock", thread_local=False, is_singleton=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait:
            on_wait(Progress(f"another process is writing {index_dir}; waiting for it to finish...", "waiting"))
        try:
            lock.acquire(timeout=wait_s)
        except Timeout:
            raise IndexLockedError(f"another process is writing the index in {index_dir} "
                                   f"(waited {wait_s:.0f} s); try again when it has finished.") from None
    try:
        yield
    finally:
        lock.release()
