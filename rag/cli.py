"""The `rag` command: index, ask, eval. Errors become one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rag.answering import ANSWERERS
from rag.config import BUNDLED_CORPUS, DEFAULT_INDEX_DIR, MODES, Config
from rag.errors import InputError, RagError
from rag.schema import Answer
from rag.serialize import answer_to_json


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def format_answer(answer: Answer) -> str:
    lines = []
    if answer.notice:
        lines.append(f"({answer.notice})")
    lines.append(answer.text)
    lines += [f"  (not supported by the passages: {s.text})" for s in answer.sentences if s.unsupported]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            ch = c.hit.chunk
            where = f"{ch.source}, characters {c.sentence.start}-{c.sentence.end}"
            lines.append(f"[{c.n}] {where}" + (f" — {ch.title}" if ch.title else ""))
            lines.append(f"    “{c.sentence.text}”")
    return "\n".join(lines)


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

    p_ask = sub.add_parser("ask", help="answer a question with cited passages")
    p_ask.add_argument("question", nargs="?", help="the question (omit with --batch or to chat interactively)")
    p_ask.add_argument("--k", type=int, default=None, help="passages to retrieve (default 5)")
    p_ask.add_argument("--mode", choices=MODES, default=None)
    p_ask.add_argument("--answerer", choices=ANSWERERS, default=None,
                       help="who writes the answer (default: $RAG_ANSWERER or extractive)")
    p_ask.add_argument("--json", action="store_true", help="print one JSON object per answer")
    p_ask.add_argument("--batch", type=Path, help="JSONL file with {id, question[, history]} per line")
    p_ask.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX_DIR)

    p_eval = sub.add_parser("eval", help="run the evaluation suite")
    from rag.evaluate import add_eval_arguments

    add_eval_arguments(p_eval)
    return parser


def config_from(args: argparse.Namespace, index_dir: Path) -> Config:
    from rag.store import config_for_index

    return config_for_index(index_dir, rebuild=getattr(args, "rebuild", False),
                            **{k: getattr(args, k, None) for k in ("k", "mode", "index_type", "chunk_size", "model", "answerer")})


def cmd_index(args: argparse.Namespace) -> int:
    from rag.chat import Engine
    from rag.documents import read_documents
    from rag.embedding import load_embedder
    from rag.indexer import empty_index

    config = config_from(args, args.index_dir)
    paths = args.paths or [BUNDLED_CORPUS]
    documents = read_documents(paths, config.max_file_bytes)  # a bad file fails before the model loads
    embedder = load_embedder(config, progress=_progress)
    engine = Engine(config, args.index_dir, embedder, empty_index(embedder))
    if args.rebuild:
        report = engine.rebuild(documents, progress=_progress)
    else:  # loads what is on disk under the writer lock; a mismatched index raises there
        report = engine.add_documents(documents, progress=_progress)
    for name in report.added:
        print(f"added: {name}")
    for name in report.replaced:
        print(f"replaced (content changed): {name}")
    for name in report.unchanged:
        print(f"unchanged, skipped: {name}")
    print(f"{report.chunks_added} new passages; index in {args.index_dir}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.chat import Engine, clean_question

    if args.batch and args.question is not None:
        raise InputError("give either a QUESTION or --batch FILE, not both.")
    config = config_from(args, args.index_dir)
    if args.question is not None:
        clean_question(args.question, config.max_question_chars)  # an unusable question fails before loading
    engine = Engine.open(config, args.index_dir, progress=_progress, seed=args.index_dir == DEFAULT_INDEX_DIR)
    if args.batch:
        return _ask_batch(engine, args)
    if args.question is None:
        return _interactive(engine, args)
    # a generated answer streams to a terminal's stderr as it arrives; the checked answer follows on stdout
    on_token = _StderrDraft() if not args.json and sys.stderr.isatty() else None
    answer = engine.ask(args.question, k=args.k, mode=args.mode, on_token=on_token)
    print(json.dumps(answer_to_json(answer), ensure_ascii=False) if args.json else format_answer(answer))
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
        print(format_answer(answer) + "\n")
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "index":
            return cmd_index(args)
        if args.command == "ask":
            return cmd_ask(args)
        from rag.evaluate import cmd_eval

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
