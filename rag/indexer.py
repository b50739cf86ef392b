"""Documents -> a new Index: chunk, embed only what is new, rebuild BM25 and the vector store from stored vectors."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import __version__
from rag.bm25 import BM25
from rag.chunking import chunk_document, document_sentences
from rag.config import Config
from rag.embedding import Embedder
from rag.progress import OnProgress, Progress
from rag.resume import ResumeCache
from rag.schema import Chunk, Document, Sentence
from rag.store import Index
from rag.stores import VectorStore, new_store
from rag.tokenize import tokenize

BATCH_CHUNKS = 512  # passages embedded (and then checkpointed) per batch of documents
EVERY_S = 2.0  # a progress event at least this often on long builds, besides every tenth of the work


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)  # sources newly indexed
    replaced: list[str] = field(default_factory=list)  # sources whose content changed
    unchanged: list[str] = field(default_factory=list)  # same content already indexed: nothing done
    chunks_added: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)


def passage_text(chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its section title gives it context."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def empty_index(embedder: Embedder, config: Config | None = None) -> Index:
    """An index with nothing in it, on the configured vector store (FAISS flat without a config)."""
    dim = embedder.dim
    return Index(manifest={"documents": [], "dim": dim}, chunks=[], vectors=np.zeros((0, dim), np.float32),
                 dense=build_store(np.zeros((0, dim), np.float32), [], config or Config(model=embedder.name)),
                 bm25=BM25.build([]), sentences=[], sentence_vectors=np.zeros((0, dim), np.float32))


def build_store(vectors: np.ndarray, chunks: Sequence[Chunk], config: Config) -> VectorStore:
    """A new vector store holding `vectors`, keyed by row, each tagged with its chunk's document."""
    store = new_store(config.vector_store, vectors.shape[1], config.index_type, config.milvus_uri)
    store.add(range(len(chunks)), [c.doc_id for c in chunks], vectors)
    return store


def identity(record: dict | Document) -> str:
    """What makes two documents "the same document" across indexing runs: the resolved path of the
    file, or the source name where there is no file (QA sets, and indexes built before paths were kept).
    Two different readme.md files are two documents; a changed one replaces only itself."""
    if isinstance(record, Document):
        return record.path or record.source
    return record.get("path") or record["source"]


def plan_additions(index: Index, documents: Sequence[Document]) -> tuple[list[Document], AddReport]:
    """Which documents need embedding: new content only. The same document (see `identity`) with new
    content replaces the old."""
    report = AddReport()
    by_hash = {d["doc_id"] for d in index.documents}
    known = {identity(d) for d in index.documents}
    todo: list[Document] = []
    for doc in documents:
        if doc.doc_id in by_hash or any(doc.doc_id == t.doc_id for t in todo):
            report.unchanged.append(doc.source)
        elif identity(doc) in known:
            report.replaced.append(doc.source)
            todo.append(doc)
        else:
            report.added.append(doc.source)
            todo.append(doc)
    return todo, report


def add_documents(index: Index, documents: Sequence[Document], embedder: Embedder, config: Config,
                  progress: OnProgress | None = None, resume_dir: Path | None = None) -> tuple[Index, AddReport]:
    """Return a new Index with `documents` added (the input index is not modified).

    Documents are embedded in batches of about BATCH_CHUNKS passages; with `resume_dir`, each finished
    document's vectors are kept there, and documents already there are not embedded again."""
    say = progress or (lambda _msg: None)
    todo, report = plan_additions(index, documents)
    if not todo:
        return index, report
    replacing = {identity(d) for d in todo}
    dropped = {d["doc_id"] for d in index.documents if identity(d) in replacing}
    keep_rows = [i for i, c in enumerate(index.chunks) if c.doc_id not in dropped]
    keep_sent = [i for i, s in enumerate(index.sentences) if s.doc_id not in dropped]

    per_doc = [(chunk_document(doc, config.chunk_size, config.chunk_overlap, config.latin_chunk_scale),
                document_sentences(doc))
               for doc in todo]
    new_chunks = [c for doc_chunks, _ in per_doc for c in doc_chunks]
    new_sentences = [s for _, doc_sentences in per_doc for s in doc_sentences]
    cache = ResumeCache(resume_dir, {"model": embedder.name, "fingerprint": embedder.fingerprint,
                                     "dim": embedder.dim, "chunk_size": config.chunk_size,
                                     "chunk_overlap": config.chunk_overlap,
                                     "latin_chunk_scale": config.latin_chunk_scale})
    chunk_vecs, sent_vecs = _embed(todo, per_doc, embedder, cache, say)

    chunks = [index.chunks[i] for i in keep_rows] + new_chunks
    vectors = np.vstack([index.vectors[keep_rows], chunk_vecs]).astype(np.float32)
    sentences = [index.sentences[i] for i in keep_sent] + new_sentences
    sentence_vectors = np.vstack([index.sentence_vectors[keep_sent], sent_vecs]).astype(np.float32)
    say(Progress(f"building BM25 and the {config.vector_store} vector store", "store", 0, len(chunks)))
    bm25 = BM25.build([tokenize(passage_text(c)) for c in chunks])
    dense = build_store(vectors, chunks, config)

    counts: dict[str, int] = {}
    for c in chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    docs = [d for d in index.documents if d["doc_id"] not in dropped]
    docs += [{"source": d.source, "doc_id": d.doc_id, "chars": len(d.text), **({"path": d.path} if d.path else {})}
             for d in todo]
    for d in docs:
        d["chunks"] = counts.get(d["doc_id"], 0)
    manifest = {"documents": docs, "model": embedder.name, "model_fingerprint": embedder.fingerprint,
                "dim": embedder.dim, "versions": _versions()}
    report.chunks_added = len(new_chunks)
    return Index(manifest=manifest, chunks=chunks, vectors=vectors, dense=dense, bm25=bm25,
                 sentences=sentences, sentence_vectors=sentence_vectors), report


def _embed(todo: Sequence[Document], per_doc: list[tuple[list[Chunk], list[Sentence]]], embedder: Embedder,
           cache: ResumeCache, say: OnProgress) -> tuple[np.ndarray, np.ndarray]:
    """Passage and sentence vectors of every document in `todo`, in order: from the resume cache where
    an interrupted run finished the document, else embedded in batches and then cached."""
    found = [cache.get(doc.doc_id, len(c), len(s)) for doc, (c, s) in zip(todo, per_doc, strict=True)]
    pending = [i for i, f in enumerate(found) if f is None]
    if len(pending) < len(todo):
        say(Progress(f"resuming: {len(todo) - len(pending)} document(s) were embedded by an interrupted run"))
    total_c = sum(len(per_doc[i][0]) for i in pending)
    total_s = sum(len(per_doc[i][1]) for i in pending)
    say(Progress(f"embedding {total_c} passages from {len(pending)} document(s)", "passages", 0, total_c))
    say(Progress(f"embedding {total_s} sentences for answer extraction", "sentences", 0, total_s))
    count_c, count_s = _counter(say, "passages"), _counter(say, "sentences")
    done_c = done_s = 0
    batches = _batches(pending, [len(per_doc[i][0]) for i in pending])
    keep = cache if len(batches) > 1 else ResumeCache(None, {})  # one batch: nothing to resume from
    for batch in batches:
        chunks = [c for i in batch for c in per_doc[i][0]]
        sentences = [s for i in batch for s in per_doc[i][1]]
        c_vecs = embedder.embed_passages([passage_text(c) for c in chunks],
                                         progress=lambda d, _t, at=done_c: count_c(at + d, total_c))
        s_vecs = embedder.embed_passages([s.text for s in sentences],
                                         progress=lambda d, _t, at=done_s: count_s(at + d, total_s))
        done_c, done_s = done_c + len(chunks), done_s + len(sentences)
        c_at = s_at = 0
        for i in batch:
            n_c, n_s = len(per_doc[i][0]), len(per_doc[i][1])
            found[i] = (c_vecs[c_at:c_at + n_c], s_vecs[s_at:s_at + n_s])
            keep.put(todo[i].doc_id, *found[i])
            c_at, s_at = c_at + n_c, s_at + n_s
    dim = embedder.dim
    return (np.vstack([f[0] for f in found] or [np.zeros((0, dim), np.float32)]).astype(np.float32),
            np.vstack([f[1] for f in found] or [np.zeros((0, dim), np.float32)]).astype(np.float32))


def _batches(items: list[int], sizes: list[int], limit: int = BATCH_CHUNKS) -> list[list[int]]:
    """Consecutive groups of whole documents of about `limit` passages (a bigger document goes alone)."""
    out: list[list[int]] = []
    size = limit
    for item, n in zip(items, sizes, strict=True):
        if size + n > limit and (not out or out[-1]):
            out.append([])
            size = 0
        out[-1].append(item)
        size += n
    return out


def _counter(say: OnProgress, what: str) -> Callable[[int, int], None]:
    """Progress events at every tenth of the work, and every EVERY_S seconds on long builds; short builds
    finish before one would help."""
    started = time.perf_counter()
    last = [-1, started]  # tenth, time of the last event

    def report(done: int, total: int) -> None:
        tenth = done * 10 // total if total else 10
        now = time.perf_counter()
        if total < 64 or (tenth == last[0] and now - last[1] < EVERY_S and done < total):
            return
        if tenth == last[0] and done == total:
            return
        last[:] = [tenth, now]
        elapsed = now - started
        eta = elapsed / done * (total - done) if done else float("nan")
        say(Progress(f"  {what}: {done}/{total} ({done * 100 // total}%, ~{eta:.0f} s left)" if done < total
                     else f"  {what}: {done}/{total} done in {elapsed:.1f} s", what, done, total))
    return report


def _versions() -> dict[str, str]:
    """Versions of what built the index (read from package metadata: importing them would cost seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"rag": __version__, "python": platform.python_version()}
    for package in ("faiss-cpu", "numpy", "sentence-transformers", "transformers", "torch", "jieba"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out
