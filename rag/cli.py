"""The `rag` command: index, ask, eval. Errors become one line on stderr and a non-zero exit.

Only this module (and ui.py) parses arguments: each command turns its flags into a call of the library.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from rag.config import ANSWERERS, BUNDLED_CORPUS, DEFAULT_INDEX_DIR, MODES, VECTOR_STORES, Config
from rag.errors import InputError, RagError
from rag.evaluation.evaluate import DEFAULT_DATASET, DEFAULT_OUT
from rag.messages import answer_in_words, describe_add
from rag.serialize import answer_to_json


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class IndexProgress:
    """Indexing progress on the terminal: a tqdm bar per counted stage, other events as lines. Where stderr
    is not a terminal (logs, pipes) every event is one line, as before."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}
        self.tty = sys.stderr.isatty()

    def __call__(self, event: str) -> None:
        from rag.progress import as_progress

        event = as_progress(event)
        if not self.tty:
            _progress(event)
            return
        from tqdm import tqdm

        bar = self.bars.get(event.stage)
        if event.stage in ("passages", "sentences") and event.total:
            if bar is None:
                tqdm.write(str(event), file=sys.stderr)
                self.bars[event.stage] = tqdm(total=event.total, desc=event.stage, unit=" texts",
                                              file=sys.stderr, leave=True)
                return
            bar.update(event.done - bar.n)
            if event.done >= event.total:
                bar.close()
            return
        tqdm.write(str(event), file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Ask questions about your documents, offline.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_index = sub.add_parser("index", help="add files to the index (default: the bundled article)")
    p_index.add_argument("paths", nargs="*", type=Path, help="files or folders (.txt .md .html .pdf .docx)")
    p_index.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX_DIR)
    p_index.add_argument("--rebuild", action="store_true", help="start from an empty index")
    p_index.add_argument("--index-type", choices=("flat", "hnsw", "ivf"), default=None)
    p_index.add_argument("--chunk-size", type=int, default=None)
    p_index.add_argument("--model", default=None, help="sentence-transformers id or path")
    p_index.add_argument("--store", dest="vector_store", choices=VECTOR_STORES, default=None,
                         help="vector store (default: $RAG_VECTOR_STORE or faiss; milvus = milvus-lite in the "
                              "index folder, or the server at $RAG_MILVUS_URI)")

    p_ask = sub.add_parser("ask", help="answer a question with cited passages")
    p_ask.add_argument("question", nargs="?", help="the question (omit with --batch or to chat interactively)")
    p_ask.add_argument("--k", type=int, default=None, help="passages to retrieve (default 5)")
    p_ask.add_argument("--mode", choices=MODES, default=None)
    p_ask.add_argument("--answerer", choices=ANSWERERS, default=None,
                       help=f"who writes the answer (default: $RAG_ANSWERER or {Config.answerer})")
    p_ask.add_argument("--json", action="store_true", help="print one JSON object per answer")
    p_ask.add_argument("--batch", type=Path, help="JSONL file with {id, question[, history]} per line")
    p_ask.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX_DIR)

    p_bench = sub.add_parser("bench", help="measure build and query cost at a corpus size (see rag/evaluation/bench.py)")
    p_bench.add_argument("--chunks", type=int, default=1000, help="corpus size in chunks (default 1000)")
    p_bench.add_argument("--synthetic", action="store_true",
                         help="random vectors and texts of real sentences (index and BM25 scaling only)")
    p_bench.add_argument("--store", dest="vector_store", choices=VECTOR_STORES, default=None)
    p_bench.add_argument("--index-type", choices=("flat", "hnsw", "ivf"), default=None)
    p_bench.add_argument("--json", action="store_true", help="print one JSON object")
    p_bench.add_argument("--queries", type=int, default=200, help="timed queries per retrieval mode (default 200)")
    p_bench.add_argument("--sweep", default=None, help="sizes to run one after another, e.g. 1000,10000,100000 "
                         "(each --store of --stores in its own process); writes --out")
    p_bench.add_argument("--stores", default="faiss,milvus", help="stores for --sweep (default faiss,milvus)")
    p_bench.add_argument("--index-types", action="store_true",
                         help="compare FAISS flat/HNSW/IVF on --chunks synthetic vectors (recall@10 vs flat)")
    p_bench.add_argument("--out", type=Path, default=Path("eval/out/bench"),
                         help="where --sweep writes summary.json and bench.png")

    p_eval = sub.add_parser("eval", help="run the evaluation suite")
    p_eval.add_argument("--dataset", type=Path, default=DEFAULT_DATASET,
                        help="our JSONL QA set (default: eval/qa_article.jsonl) or a SQuAD-format .json (CMRC 2018)")
    p_eval.add_argument("--index-dir", type=Path, default=None,
                        help="index to use (default: a private index/eval-article, or index/eval-<name> for SQuAD files)")
    p_eval.add_argument("--k", type=int, default=5)
    p_eval.add_argument("--mode", choices=MODES, default="hybrid")
    p_eval.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p_eval.add_argument("--limit", type=int, default=None, help="only the first N questions (quick run)")
    p_eval.add_argument("--answerer", default=None,
                        help="answerer(s) to evaluate, comma-separated to put them side by side, e.g. "
                             f"auto,extractive (default: $RAG_ANSWERER or {Config.answerer})")
    p_eval.add_argument("--split", default="test", choices=("dev", "test", "all"),
                        help="which split of our JSONL QA set to run (default: test; SQuAD files have none)")
    p_eval.add_argument("--absent", type=float, default=0.0,
                        help="SQuAD files: leave this share of contexts out of the index; their questions "
                             "must be refused (e.g. 0.5)")
    p_eval.add_argument("--compare", action="store_true",
                        help="dense vs bm25 vs hybrid, two chunk sizes, and the plain tutorial pipeline")
    return parser


def is_default_index(index_dir: Path) -> bool:
    """Whether index_dir is the project's index/, however it was written (`index`, `./index/`, absolute):
    only there does `rag ask` index the bundled article when no index exists yet."""
    return Path(index_dir).resolve() == DEFAULT_INDEX_DIR.resolve()


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The settings chosen on the command line (None = not given); Engine resolves the rest from the index."""
    return {k: getattr(args, k, None)
            for k in ("k", "mode", "index_type", "chunk_size", "model", "answerer", "vector_store")}


def cmd_index(args: argparse.Namespace) -> int:
    from rag.chat import Engine
    from rag.documents import read_documents
    from rag.embedding import load_embedder
    from rag.indexer import empty_index

    config = Engine.config_for(args.index_dir, settings_from(args), rebuild=args.rebuild)
    paths = args.paths or [BUNDLED_CORPUS]
    documents = read_documents(paths, config.max_file_bytes)  # a bad file fails before the model loads
    embedder = load_embedder(config, progress=_progress)
    engine = Engine(config, args.index_dir, embedder, empty_index(embedder, config))
    progress = IndexProgress()
    if args.rebuild:
        report = engine.rebuild(documents, progress=progress)
    else:  # loads what is on disk under the writer lock; a mismatched index raises there
        report = engine.add_documents(documents, progress=progress)
    print(describe_add(report))
    print(f"index: {args.index_dir}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.chat import Engine, clean_question

    if args.batch and args.question is not None:
        raise InputError("give either a QUESTION or --batch FILE, not both.")
    settings = settings_from(args)
    if args.question is not None:  # an unusable question (or setting) fails before anything loads
        clean_question(args.question, Config.from_env(**settings).max_question_chars)
    engine = Engine.open(index_dir=args.index_dir, settings=settings, progress=_progress,
                         seed=is_default_index(args.index_dir))
    if args.batch:
        return _ask_batch(engine, args)
    if args.question is None:
        return _interactive(engine, args)
    # a generated answer streams to a terminal's stderr as it arrives; the checked answer follows on stdout
    on_token = _StderrDraft() if not args.json and sys.stderr.isatty() else None
    answer = engine.ask(args.question, k=args.k, mode=args.mode, on_token=on_token)
    print(json.dumps(answer_to_json(answer), ensure_ascii=False) if args.json else answer_in_words(answer))
    return 0


def _ask_batch(engine: Any, args: argparse.Namespace) -> int:
    from rag.answering.question import check_history

    if not args.batch.is_file():
        raise InputError(f"{args.batch} does not exist or is not a file; give a JSONL file of questions.")
    failures = 0
    with open(args.batch, "rb") as f:  # decoded line by line, so one bad line fails alone
        for lineno, raw in enumerate(f, start=1):
            case = None
            if not raw.strip():
                continue
            try:
                case = json.loads(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
                if not isinstance(case, dict) or "question" not in case:
                    raise InputError(f"{args.batch}:{lineno} needs an object with \"id\" and \"question\".")
                try:
                    history = check_history(case.get("history") or [])
                except InputError as exc:
                    raise InputError(f"{args.batch}:{lineno}: {exc}") from None
                answer = engine.ask(case["question"], history=history, k=args.k, mode=args.mode)
                out = {"id": case.get("id"), **answer_to_json(answer)}
            except (ValueError, RagError) as exc:
                failures += 1
                out = {"id": case.get("id") if isinstance(case, dict) else None, "error": f"line {lineno}: {exc}"}
            print(json.dumps(out, ensure_ascii=False) if args.json else _plain_batch(out), flush=True)
    return 1 if failures else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluation.report import format_summary_table
    from rag.evaluation.runs import EvalRequest, run_evaluation

    request = EvalRequest(dataset=args.dataset, index_dir=args.index_dir, k=args.k, mode=args.mode,
                          limit=args.limit, compare=args.compare, out=args.out, split=args.split,
                          absent=args.absent,
                          answerers=tuple(a.strip() for a in (args.answerer or "").split(",") if a.strip()))
    command = "rag eval " + shlex.join(sys.argv[2:]) if len(sys.argv) > 1 else "rag eval"
    result = run_evaluation(request, command, progress=_progress)
    print(format_summary_table(result.summaries))
    print("\nwrote " + ", ".join(str(p) for p in result.paths.values()))
    return 0


def _plain_batch(out: dict[str, Any]) -> str:
    return f"{out.get('id')}\t{out.get('error') or out.get('answer')}"


class _StderrDraft:
    """on_token for answerers that generate text: the raw reply, piece by piece, as a draft on stderr."""

    def __init__(self) -> None:
        self.streamed = False

    def __call__(self, piece: str) -> None:
        print(piece, end="", file=sys.stderr, flush=True)
        self.streamed = True


def _interactive(engine: Any, args: argparse.Namespace) -> int:
    history: list[dict] = []
    print("Ask about the indexed documents (empty line or Ctrl-D to quit).", file=sys.stderr)
    while True:
        try:
            question = input("? ")
        except EOFError:
            return 0
        if not question.strip():
            return 0
        on_token = _StderrDraft()
        try:
            answer = engine.ask(question, history=history, k=args.k, mode=args.mode, on_token=on_token)
        except RagError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        if on_token.streamed:  # the draft ends; the checked answer (citations renumbered) follows
            print("\n", file=sys.stderr, flush=True)
        print(answer_in_words(answer) + "\n")
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


def cmd_bench(args: argparse.Namespace) -> int:
    from rag.evaluation import bench

    if args.index_types:
        rows = bench.compare_index_types(args.chunks)
        for row in rows:
            print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()))
        return 0
    if args.sweep:
        return _bench_sweep(args)
    config = Config.from_env(vector_store=args.vector_store, index_type=args.index_type)
    result = bench.run_bench(args.chunks, config, args.synthetic, queries=args.queries)
    if args.json:
        print(bench.result_json(result))
    else:
        for key, value in json.loads(bench.result_json(result)).items():
            print(f"{key:>20}: {value}")
    return 0


def _bench_sweep(args: argparse.Namespace) -> int:
    """Each size and store in a fresh process, so one run's memory never counts in the next one's peak."""
    import subprocess

    from rag.evaluation import bench

    try:
        sizes = [int(s) for s in args.sweep.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--sweep {args.sweep!r} must be sizes separated by commas, e.g. 1000,10000.") from None
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if bad := [s for s in stores if s not in VECTOR_STORES]:
        raise InputError(f"--stores names {bad}; choose from {', '.join(VECTOR_STORES)}.")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for size in sizes:
        for store in stores:
            command = [sys.executable, "-m", "rag.cli", "bench", "--chunks", str(size), "--store", store, "--json"]
            command += ["--synthetic"] if args.synthetic else []
            command += ["--index-type", args.index_type] if args.index_type else []
            command += ["--queries", str(args.queries)]
            _progress(f"bench: {size} chunks on {store}")
            child = subprocess.run(command, capture_output=True, text=True)
            if child.returncode:
                _progress(f"bench: {size} chunks on {store} failed: {child.stderr.strip()[-500:]}")
                continue
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
            (args.out / "summary.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    if results:
        bench.plot(results, args.out / "bench.png")
        _progress(f"bench: wrote {args.out / 'summary.json'} and {args.out / 'bench.png'}")
    return 0 if len(results) == len(sizes) * len(stores) else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "index":
            return cmd_index(args)
        if args.command == "ask":
            return cmd_ask(args)
        if args.command == "bench":
            return cmd_bench(args)
        return cmd_eval(args)
    except RagError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable index folder, full disk...: the system's words are clear enough
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
