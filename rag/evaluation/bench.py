"""`rag bench`: what indexing and asking cost as the corpus grows, for each vector store.

Two corpora:
- real (default): CMRC 2018 dev, then DRCD dev/test contexts (../shared/datasets), chunked and embedded
  with the configured model, questions from the same files. Measures embedding throughput, retrieval and
  full-answer latency, and the plain tutorial pipeline on the same documents as a ratio row.
- synthetic (--synthetic): random unit vectors, and texts made of real sentences drawn at random (their
  jieba tokens computed once). Only index and BM25 scaling mean anything there: no answers, labelled so.

Latencies are measured in a fresh process that loads the saved index, as `rag ask` or the UI would, so
`rss_mb` is the serving process' peak resident memory; `build_rss_mb` is the building process' peak.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import PROJECT_ROOT, Config
from rag.errors import InputError

DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
REAL_FILES = ("cmrc2018_dev.json", "drcd_dev.json", "drcd_test.json")
DIM = 384  # multilingual-e5-small's dimension, for synthetic vectors
QUERIES = 200  # timed queries per run (after WARMUP untimed ones)
WARMUP = 5
SEED = 0
NOISE = 0.02  # per dimension: |noise| ~ 0.4 in 384 dimensions


@dataclass
class BenchResult:
    chunks: int
    store: str
    index_type: str
    synthetic: bool
    build_s: float  # BM25 + vector store (+ embedding for a real corpus), excluding the save
    save_s: float
    index_mb: float  # the generation on disk
    build_rss_mb: float
    rss_mb: float = 0.0  # serving process: load + queries
    load_s: float = 0.0
    retrieval_ms_p50: float = 0.0  # hybrid: dense + BM25 + fusion, the query already embedded
    retrieval_ms_p95: float = 0.0
    dense_ms_p50: float = 0.0
    dense_ms_p95: float = 0.0
    bm25_ms_p50: float = 0.0
    bm25_ms_p95: float = 0.0
    answer_ms_p50: float | None = None  # real corpus only: embed + retrieve + answer, as Engine.ask times it
    answer_ms_p95: float | None = None
    embed_chunks_per_s: float | None = None  # real corpus only
    tutorial: dict[str, float] | None = None  # real corpus only: the tutorial pipeline on the same documents
    queries: int = 0
    machine: dict[str, Any] = field(default_factory=dict)


def peak_rss_mb() -> float:
    """This process' peak resident memory. VmHWM, not getrusage: ru_maxrss survives fork + exec, so a
    child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentiles(ms: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(ms, 50)), 3), round(float(np.percentile(ms, 95)), 3)


def machine() -> dict[str, Any]:
    return {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "python": platform.python_version(),
            "omp_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


# --------------------------------------------------------------------------- corpora

def real_documents(n_chunks: int, config: Config) -> tuple[list, list]:
    """Whole contexts, in file order, until they make at least `n_chunks` chunks; their questions."""
    from rag.chunking import chunk_document
    from rag.evaluation.datasets import load_squad

    documents, cases, total = [], [], 0
    for name in REAL_FILES:
        if total >= n_chunks:
            break
        if not (DATASETS / name).is_file():
            continue
        docs, qs = load_squad(DATASETS / name)
        by_source = {}
        for q in qs:
            by_source.setdefault(q.source, []).append(q)
        for doc in docs:
            if total >= n_chunks:
                break
            documents.append(doc)
            cases.extend(by_source.get(doc.source, [])[:1])  # one question per context
            total += len(chunk_document(doc, config.chunk_size, config.chunk_overlap, config.latin_chunk_scale))
    if total < n_chunks:
        raise InputError(f"the real corpora in {DATASETS} give only {total} chunks, fewer than --chunks "
                         f"{n_chunks}; ask for fewer, or add --synthetic.")
    return documents, cases


def sentence_pool(limit_chars: int = 400_000) -> list[tuple[str, list[str]]]:
    """(sentence, its tokens) from the real contexts: the material synthetic texts are drawn from."""
    import re

    from rag.tokenize import tokenize

    text = ""
    for name in REAL_FILES:
        if (DATASETS / name).is_file():
            data = json.loads((DATASETS / name).read_text(encoding="utf-8"))["data"]
            text += "".join(p["context"] for a in data for p in a["paragraphs"])
        if len(text) >= limit_chars:
            break
    if not text:
        text = (PROJECT_ROOT / "data" / "meitu_ai_article.txt").read_text(encoding="utf-8")
    sentences = [s for s in re.findall(r"[^。！？\n]+[。！？]?", text[:limit_chars]) if len(s.strip()) >= 8]
    return [(s, tokenize(s)) for s in sentences]


def synthetic_corpus(n: int, seed: int = SEED) -> tuple[list, list[list[str]], np.ndarray]:
    """n chunks of 3-6 real sentences each (10 chunks per synthetic document) and n random unit vectors."""
    from rag.schema import Chunk

    pool = sentence_pool(min(400_000, max(50_000, n * 100)))  # ~4,000 sentences for 1M chunks, tokenized once
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 7, size=n)
    picks = rng.integers(0, len(pool), size=int(counts.sum()))
    chunks, tokens, at = [], [], 0
    for i, m in enumerate(counts):
        chosen = picks[at:at + m]
        at += m
        text = "".join(pool[j][0] for j in chosen)
        doc = f"synthetic-{i // 10:07d}"
        start = (i % 10) * 1000  # disjoint spans: retrieval must not collapse them as overlapping
        chunks.append(Chunk(id=f"s{i:08d}", doc_id=doc, source=doc, start=start, end=start + len(text), title="",
                            text=text))
        tokens.append([t for j in chosen for t in pool[j][1]])
    vectors = np.empty((n, DIM), np.float32)
    for s in range(0, n, 100_000):  # in blocks: a float64 draw of 1M x 384 alone would take 3 GB
        block = rng.standard_normal((min(n, s + 100_000) - s, DIM), dtype=np.float32)
        vectors[s:s + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return chunks, tokens, vectors


def synthetic_queries(vectors: np.ndarray, tokens: list[list[str]], count: int, seed: int = SEED) -> list[dict]:
    """A stored vector plus noise (cosine ~0.93 to it: its planted nearest neighbour), and 2-5 words of
    the same chunk."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for row in rng.integers(0, len(vectors), size=count):
        v = vectors[row] + rng.standard_normal(DIM).astype(np.float32) * NOISE
        words = tokens[row]
        picked = [words[i] for i in rng.integers(0, len(words), size=min(len(words), int(rng.integers(2, 6))))]
        out.append({"row": int(row), "vector": (v / np.linalg.norm(v)).tolist(), "tokens": picked})
    return out


# --------------------------------------------------------------------------- building

def build_synthetic(n: int, config: Config, index_dir: Path, queries: int = QUERIES) -> BenchResult:
    from rag.bm25 import BM25
    from rag.indexer import build_store
    from rag.store import Index, save_index

    chunks, tokens, vectors = synthetic_corpus(n)
    t0 = time.perf_counter()
    bm25 = BM25.build(tokens)
    dense = build_store(vectors, chunks, config)
    build_s = time.perf_counter() - t0
    docs = sorted({c.doc_id for c in chunks})
    index = Index(manifest={"documents": [{"source": d, "doc_id": d, "chars": 0, "chunks": 10} for d in docs],
                            "model": "synthetic", "model_fingerprint": "synthetic", "dim": DIM, "synthetic": True},
                  chunks=chunks, vectors=vectors, dense=dense, bm25=bm25, sentences=[],
                  sentence_vectors=np.zeros((0, DIM), np.float32))
    t1 = time.perf_counter()
    gen = save_index(index, index_dir, config.with_(model="synthetic"))
    save_s = time.perf_counter() - t1
    (index_dir / "queries.json").write_text(json.dumps(synthetic_queries(vectors, tokens, queries + WARMUP)),
                                            encoding="utf-8")
    dense.close()
    return BenchResult(chunks=n, store=config.vector_store, index_type=config.index_type, synthetic=True,
                       build_s=round(build_s, 3), save_s=round(save_s, 3), index_mb=folder_mb(gen),
                       build_rss_mb=round(peak_rss_mb(), 1))


def build_real(n: int, config: Config, index_dir: Path, queries: int = QUERIES) -> BenchResult:
    from rag.chat import Engine
    from rag.embedding import load_embedder
    from rag.evaluation.baseline import TutorialPipeline
    from rag.indexer import empty_index

    documents, cases = real_documents(n, config)
    embedder = load_embedder(config)
    engine = Engine(config, index_dir, embedder, empty_index(embedder, config))
    t0 = time.perf_counter()
    engine.rebuild(documents)
    build_s = time.perf_counter() - t0  # embedding dominates; the save is inside rebuild here
    chunks = len(engine.index.chunks)
    texts = chunks + len(engine.index.sentences)  # both are embedded
    (index_dir / "queries.json").write_text(json.dumps([{"question": c.question} for c in cases]
                                                       [:queries + WARMUP], ensure_ascii=False), encoding="utf-8")
    t1 = time.perf_counter()
    tutorial = TutorialPipeline(embedder, documents)
    tutorial_build = time.perf_counter() - t1
    times = [tutorial.ask(c.question).timings_ms["total"] for c in cases[:queries + WARMUP]][WARMUP:]
    p50, p95 = percentiles(times)
    return BenchResult(chunks=chunks, store=config.vector_store, index_type=config.index_type, synthetic=False,
                       build_s=round(build_s, 3), save_s=0.0, index_mb=folder_mb(index_dir),
                       build_rss_mb=round(peak_rss_mb(), 1),
                       embed_chunks_per_s=round(texts / build_s, 2),
                       tutorial={"chunks": len(tutorial.chunks), "build_s": round(tutorial_build, 3),
                                 "answer_ms_p50": p50, "answer_ms_p95": p95})


# --------------------------------------------------------------------------- serving

def serve(index_dir: Path, config: Config, synthetic: bool) -> dict[str, Any]:
    """Load the saved index and time queries; run in its own process (see run_bench)."""
    from rag.retrieval import retrieve
    from rag.store import load_index

    queries = json.loads((index_dir / "queries.json").read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    if synthetic:
        index = load_index(index_dir, config.with_(model="synthetic"))
        asks = [(np.asarray(q["vector"], np.float32), q["tokens"]) for q in queries]
    else:
        from rag.chat import Engine
        from rag.tokenize import tokenize

        engine = Engine.open(config, index_dir)
        index = engine.index
        asks = [(engine.embedder.embed_queries([q["question"]])[0], tokenize(q["question"])) for q in queries]
    load_s = time.perf_counter() - t0
    out: dict[str, Any] = {"load_s": round(load_s, 3), "queries": len(asks) - WARMUP}
    for mode in ("hybrid", "dense", "bm25"):
        ms = []
        for i, (vector, tokens) in enumerate(asks):
            t = time.perf_counter()
            retrieve(index, vector, tokens, config.k, mode, config.rrf_k, config.fusion_depth)
            if i >= WARMUP:
                ms.append((time.perf_counter() - t) * 1000)
        name = "retrieval" if mode == "hybrid" else mode
        out[f"{name}_ms_p50"], out[f"{name}_ms_p95"] = percentiles(ms)
    if not synthetic:
        totals = [engine.ask(q["question"]).timings_ms["total"] for q in queries][WARMUP:]
        out["answer_ms_p50"], out["answer_ms_p95"] = percentiles(totals)
    out["rss_mb"] = round(peak_rss_mb(), 1)
    return out


def run_bench(n: int, config: Config, synthetic: bool, keep: Path | None = None,
              queries: int = QUERIES) -> BenchResult:
    """Build an index of n chunks, then time it from a fresh serving process."""
    if n < 10:
        raise InputError(f"--chunks {n} is too small to time; use at least 10.")
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    index_dir = keep or work / "index"
    try:
        build = build_synthetic if synthetic else build_real
        result = build(n, config, index_dir, queries)
        child = subprocess.run(
            [sys.executable, "-m", "rag.evaluation.bench", "serve", str(index_dir), config.vector_store, config.index_type,
             "synthetic" if synthetic else "real"],
            capture_output=True, text=True, cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                            os.environ.get("PYTHONPATH")]))})
        if child.returncode:
            raise InputError(f"the serving process failed ({child.returncode}): {child.stderr.strip()[-2000:]}")
        for key, value in json.loads(child.stdout.strip().splitlines()[-1]).items():
            setattr(result, key, value)
        result.machine = machine()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def result_json(result: BenchResult) -> str:
    return json.dumps(asdict(result), ensure_ascii=False)


def compare_index_types(n: int, k: int = 10) -> list[dict[str, Any]]:
    """FAISS flat vs HNSW vs IVF on the same synthetic vectors: recall@k against flat, latency, build
    time, size of the index file (about its memory). Random vectors are the hard case for approximate
    indexes: apart from each query's planted neighbour, its top 10 are near-ties of pure noise, so
    recall@10 here is a lower bound for real embeddings; planted_found@1 is how often the one true
    neighbour comes first."""
    from rag.stores import new_store

    _chunks, tokens, vectors = synthetic_corpus(n)
    asked = synthetic_queries(vectors, tokens, QUERIES + WARMUP)
    queries = [np.asarray(q["vector"], np.float32) for q in asked]
    planted = [q["row"] for q in asked][WARMUP:]
    rows, truth = [], None
    for index_type in ("flat", "hnsw", "ivf"):
        store = new_store("faiss", DIM, index_type)
        t0 = time.perf_counter()
        store.add(range(n), ["d"] * n, vectors)
        build_s = time.perf_counter() - t0
        found, ms = [], []
        for i, q in enumerate(queries):
            t = time.perf_counter()
            keys = [key for key, _ in store.search(q, k)]
            if i >= WARMUP:
                ms.append((time.perf_counter() - t) * 1000)
                found.append(keys)
        truth = truth or found
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth, strict=True)]))
        recall1 = float(np.mean([bool(keys) and keys[0] == row for keys, row in zip(found, planted, strict=True)]))
        with tempfile.TemporaryDirectory() as tmp:
            store.save(Path(tmp))
            size = (Path(tmp) / "dense.faiss").stat().st_size / 1e6
        p50, p95 = percentiles(ms)
        rows.append({"chunks": n, "index_type": index_type, f"recall@{k}": round(recall, 4),
                     "planted_found@1": round(recall1, 4), "search_ms_p50": p50,
                     "search_ms_p95": p95, "build_s": round(build_s, 3), "index_mb": round(size, 1)})
        del store
    return rows


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Cost against corpus size: retrieval p95, build time and serving memory, one line per store and
    index type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for (key, label), ax in zip([("retrieval_ms_p95", "hybrid retrieval p95 (ms)"), ("build_s", "build (s)"),
                                 ("rss_mb", "serving peak RSS (MB)")], axes, strict=True):
        for line in sorted({(r["store"], r.get("index_type", "flat")) for r in results}):
            rows = sorted((r for r in results if (r["store"], r.get("index_type", "flat")) == line),
                          key=lambda r: r["chunks"])
            ax.plot([r["chunks"] for r in rows], [r[key] for r in rows], marker="o", label=" ".join(line))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks (synthetic)" if all(r["synthetic"] for r in results) else "chunks")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _serve_main(argv: list[str]) -> int:
    index_dir, store, index_type, kind = argv
    config = Config.from_env(vector_store=store, index_type=index_type)
    print(json.dumps(serve(Path(index_dir), config, kind == "synthetic")))
    return 0


if __name__ == "__main__":  # the serving half of run_bench
    if sys.argv[1:2] == ["serve"]:
        sys.exit(_serve_main(sys.argv[2:]))
    sys.exit("usage: python -m rag.evaluation.bench serve INDEX_DIR STORE INDEX_TYPE synthetic|real (use `rag bench`)")
