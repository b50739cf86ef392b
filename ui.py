"""The Gradio app: chat with cited answers, upload documents, inspect what retrieval found.

    python ui.py [--host 127.0.0.1] [--port 7860] [--index-dir DIR] [--uploads-dir DIR] [--auth user:password]

Thin on purpose: it calls rag.chat.Engine (ask, add_files, documents) and formats what comes back with
rag.ui_format. Retrieval and answering live in rag/. The model and index load once, before launch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from rag.answering.generation import Control
from rag.chat import Engine
from rag.config import BUNDLED_EXAMPLES, DEFAULT_INDEX_DIR, PROJECT_ROOT, Config
from rag.conversation import ChatTurn, Conversation, Turn, conversation_markdown, question_html, status_text
from rag.documents import format_size
from rag.errors import InputError, RagError
from rag.messages import READING_FILES, answer_in_words, describe_add, progress_in_words
from rag.schema import Answer, DocumentRecord
from rag.serving import Requests
from rag.ui_format import (
    answer_html,
    answer_sources_html,
    document_rows,
    hits_html,
    reply_html,
    sources_html,
    stream_prefixes,
)
from rag.uploads import add_uploads

UPLOADS_DIR = PROJECT_ROOT / "data" / "uploads"
EXAMPLES = tuple(json.loads(BUNDLED_EXAMPLES.read_text(encoding="utf-8")))  # questions about the bundled article
MODE_CHOICES = [("混合 / hybrid", "hybrid"), ("向量 / dense", "dense"), ("关键词 / keyword (BM25)", "bm25")]
DOC_HEADERS = ["文件 / File", "段落 / Passages", "字符 / Characters"]
# Answers are extractive and ready at once; streaming them a few characters at a time still reads as a reply.
STREAM_STEP = 3
STREAM_DELAY_S = 0.015
# Asking is a ~20 ms embedding plus a short stream; 4 at once keeps 2 cores busy without queueing behind a slow one.
ASK_CONCURRENCY = 4
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

# With a model answerer, questions wait in the model's own queue (rag/serving.py), where each sees its
# place and RAG_LLM_QUEUE_S applies; Gradio's limit must not hold them back before they get there.
MODEL_ASK_CONCURRENCY = 64
# Gradio keeps each tab's server-side state (the chat state, its components' values: about 1 MB with a
# 10-turn chat) for an hour after the tab closes, up to this many tabs, dropping the oldest beyond it. Its
# default, 10,000, would let a day of visitors fill the memory; a tab whose state was dropped still has its
# chat in the browser (BrowserState) and gets it back on reload.
SESSION_CAPACITY = 200
EXPORTS_KEPT_S = 3600  # exported Markdown files (in Gradio's cache) are deleted after an hour
STATIC = Path(__file__).resolve().parent  # ui.css and ui.js sit beside this file
PAGE_CSS_FILE = STATIC / "ui.css"
PAGE_JS = (STATIC / "ui.js").read_text(encoding="utf-8")  # citation clicks and plain-text copy


async def ask_stream(engine: Engine, question: Any, k: Any, mode: Any, conv: Conversation,
                     answerer: Any = None, control: Control | None = None) -> AsyncIterator[Turn]:
    """Ask the engine and yield the turn in flight (rag.conversation.Turn) at every step: searching,
    queued (with the number ahead), writing (the tokens so far), the checked answer appearing, done.

    The engine runs in a worker thread and reports through `control`; its reports wake this coroutine
    (no thread of Gradio's pool waits here, however long the model queue is). When the page goes away
    Gradio closes this generator and `control.stop` is set, so a queued request leaves the queue and a
    running one frees the model. A RagError (empty question, bad k ...) becomes a failed turn with a
    warning, never a traceback.
    """
    question = question if isinstance(question, str) else ""
    control = control or Control()
    if control.asked is None:  # the model queue's limit counts from here, the search included
        control.asked = time.monotonic()
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def report(kind: str, value: Any) -> None:  # called from the worker thread
        try:
            loop.call_soon_threadsafe(events.put_nowait, (kind, value))
        except RuntimeError:  # the loop is gone (server shutting down): nobody is listening
            pass

    control.on_token = lambda piece: report("token", piece)
    control.on_queue = lambda ahead: report("queue", ahead)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["answer"] = engine.ask(question, history=conv.history(), k=int(k) if k else None,
                                           mode=mode or None, answerer=answerer or None, control=control)
        except Exception as exc:  # reported below, in the request's own coroutine
            outcome["error"] = exc
        finally:
            report("end", None)

    turn = Turn(conv, question)
    yield turn
    threading.Thread(target=work, daemon=True, name="rag-ask").start()
    try:
        while (event := await events.get())[0] != "end":
            kind, value = event
            if kind == "queue":
                turn = turn.step(phase="queued" if value else "writing", ahead=value)
            else:
                turn = turn.step(phase="writing", draft=turn.draft + value)
            yield turn
    finally:
        control.stop.set()  # a no-op once the answer is in; frees the model when the page went away
    async for step in finish(turn, outcome.get("answer"), outcome.get("error")):
        yield step


async def finish(turn: Turn, answer: Answer | None, error: BaseException | None) -> AsyncIterator[Turn]:
    """The end of a turn: the answer appears (a few characters at a time when the answerer did not
    stream it already) and joins the conversation, or the failure does."""
    conv = turn.conversation
    if error is not None or answer is None:
        if isinstance(error, RagError):
            failure = f"无法回答 / Cannot answer: {error}"
        else:  # a bug, not the user's fault: log it, keep the page usable
            traceback.print_exception(error)
            failure = "内部错误，详情见服务器日志 / Internal error; see the server log."
        gr.Warning(failure)
        failed = ChatTurn(question=turn.question, reply_html=f"⚠️ {escape(failure)}", notice=failure)
        yield turn.step(phase="failed", conversation=conv.add(failed), finished=failed)
        return
    number = conv.answers + 1
    done = ChatTurn(question=turn.question, answer=answer.text, reply_html=answer_html(answer, number),
                    sources_html=answer_sources_html(answer, number), words=answer_in_words(answer, True),
                    answerer=answer.answerer, notice=answer.notice, number=number)
    cited = [c.n for c in answer.citations]
    steps = [] if turn.draft else list(stream_prefixes(answer.text, STREAM_STEP))[:-1]  # streamed already
    for i, prefix in enumerate(steps):
        yield turn.step(phase="answer", finished=done, shown=reply_html(prefix, number, cited, answer.notice),
                        changed_sources=i == 0)
        await asyncio.sleep(STREAM_DELAY_S)
    yield turn.step(phase="done", conversation=conv.add(done, hits_html(answer)), finished=done,
                    changed_sources=True)


def turn_outputs(turn: Turn) -> tuple:
    """The turn in flight -> (chat, sources panel, passages table, question box, conversation state)."""
    conv = turn.conversation
    if turn.phase in ("done", "failed"):
        box = turn.question if turn.phase == "failed" else ""  # a failed question stays, to be edited
        return (conv.messages(), sources_html(conv.sources()), conv.passages_html or hits_html(None), box, conv)
    chat = conv.messages()
    if turn.question.strip():
        chat.append({"role": "user", "content": question_html(turn.question)})
    if turn.phase == "answer" and turn.finished is not None:
        chat.append({"role": "assistant", "content": turn.shown})
        sources = sources_html(conv.sources() + [turn.finished.sources_html]) if turn.changed_sources else gr.skip()
        return chat, sources, gr.skip(), "", gr.skip()
    chat.append({"role": "assistant", "content": f'<span class="rag-status">{status_text(turn)}</span>'})
    return chat, gr.skip(), gr.skip(), "", gr.skip()


def answerer_choices(config: Config) -> list[tuple[str, str]]:
    """(label, value) of each answerer a user may pick in the settings."""
    choices = [("模型作答，逐句核对（默认）/ Model, every sentence checked (default)", "auto"),
               ("仅模型 / Model only", "model"),
               ("抽取式（即时）/ Extractive (instant)", "extractive"),
               ("单句基线 / One-sentence baseline", "sentence")]
    if config.llm_base_url and config.llm_model:  # an OpenAI-compatible endpoint is configured
        choices.append(("大模型生成，引用经过核对 / LLM, citations checked", "llm"))
    return choices


def document_records(engine: Engine) -> list[DocumentRecord]:
    """The indexed documents. Engine.documents() gives the manifest's dicts until the store hands out
    DocumentRecords itself; then this is `engine.documents()`."""
    return [d if isinstance(d, DocumentRecord) else DocumentRecord.from_json(d) for d in engine.documents()]


def progress_reporter(progress: Any) -> Callable[[str], None]:
    """Engine progress lines -> the server log (as they are) and a gr.Progress bar (in both languages).

    Lines that count work done ("sentences: 32/116") move the bar; other lines replace the text and keep
    the bar where it was (gr.Progress hides the text too when given no amount).
    """
    done = 0.0

    def say(message: str) -> None:
        nonlocal done
        print(message, flush=True)
        if progress is None:
            return
        words, share = progress_in_words(message)
        if share is not None:
            done = share
        progress(done, desc=words)
    return say


def session_key(request: gr.Request | None) -> str:
    """The browser tab a request came from (Gradio's session hash; the same across a tab's events)."""
    return getattr(request, "session_hash", None) or "no-session"


def export_file(conv: Conversation, folder: Path) -> str | None:
    """The chat as a Markdown file for the Export button (None while the chat is empty)."""
    if not conv.turns:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "conversation.md"
    path.write_text(conversation_markdown(conv), encoding="utf-8")
    return str(path)


def build_app(engine: Engine, uploads_dir: Path = UPLOADS_DIR) -> gr.Blocks:
    """The whole UI over one loaded engine. Launch it with `launch(demo, ...)` (adds page CSS)."""
    config = engine.config
    running = Requests()  # each tab's requests in flight, for Stop, New chat and closed tabs
    exports = Path(tempfile.mkdtemp(prefix="rag-exports-"))

    def documents_table() -> list[list]:
        return document_rows(document_records(engine))

    async def run_turn(question: Any, k: float, mode: str, answerer: str, conv: Conversation,
                       request: gr.Request | None) -> AsyncIterator[tuple]:
        key, control = session_key(request), Control()
        running.add(key, control)
        try:
            async for turn in ask_stream(engine, question, k, mode, conv, answerer, control):
                yield turn_outputs(turn)
        finally:
            running.remove(key, control)

    async def on_ask(question: str, k: float, mode: str, answerer: str, conv: Conversation,
                     request: gr.Request) -> AsyncIterator[tuple]:
        async for outputs in run_turn(question, k, mode, answerer, conv, request):
            yield outputs

    def example_handler(text: str) -> Callable[..., AsyncIterator[tuple]]:
        async def on_example(k: float, mode: str, answerer: str, conv: Conversation,
                             request: gr.Request) -> AsyncIterator[tuple]:
            async for outputs in run_turn(text, k, mode, answerer, conv, request):
                yield outputs
        return on_example

    def on_stop(request: gr.Request) -> None:
        running.stop(session_key(request))

    def on_upload(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        progress(0, desc=READING_FILES)
        try:
            report = add_uploads(engine, uploads_dir, files or [], progress_reporter(progress))
        except (RagError, OSError) as exc:  # OSError: the upload could not be copied (disk full ...)
            gr.Warning(str(exc))
            return f"未添加 / Not added: {exc}\n索引没有变化 / The index is unchanged.", documents_table(), None
        return describe_add(report, bilingual=True), documents_table(), None

    def shown(conv: Conversation, request: gr.Request | None) -> tuple:
        """(chat, sources, passages, conversation, export) of a whole conversation."""
        return (conv.messages(), sources_html(conv.sources()), conv.passages_html or hits_html(None), conv,
                export_file(conv, exports / session_key(request)))

    def on_new(request: gr.Request) -> tuple:
        running.stop(session_key(request))
        return (*shown(Conversation(), request), Conversation().to_json())  # stored too (None is not written)

    def on_saved(conv: Conversation, request: gr.Request) -> tuple:
        return conv.to_json(), export_file(conv, exports / session_key(request))

    def on_load(saved: Any, request: gr.Request) -> tuple:
        return shown(Conversation.from_json(saved), request)

    with gr.Blocks(title="文档问答 / Document Q&A", analytics_enabled=False,
                   delete_cache=(EXPORTS_KEPT_S, EXPORTS_KEPT_S)) as demo:
        conv = gr.State(Conversation())
        # The chat kept in this browser (localStorage, encrypted with a key of this server process), so a
        # reload keeps it; nothing of it is kept on the server or shared with other browsers.
        saved = gr.BrowserState(None, storage_key="rag-chat")
        gr.Markdown("## 文档问答 · Document Q&A\n"
                    "答案只来自已索引的文档，并标注来源；点击答案中的 [n] 查看原文段落。  \n"
                    "Answers come only from the indexed documents; click a [n] marker to see the passage.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chatbot = gr.Chatbot(label="对话 / Chat", elem_id="rag-chat", height=480, render_markdown=False,
                                     latex_delimiters=[], buttons=["copy"], feedback_options=None,
                                     placeholder="问一个关于文档的问题 / Ask a question about the documents")
                with gr.Row():
                    question = gr.Textbox(label="提问 / Ask", elem_id="rag-question", scale=5, max_lines=4,
                                          placeholder="例如 / e.g. 美图2023年的总收入是多少？")
                    send = gr.Button("发送 / Send", variant="primary", scale=1, elem_id="rag-send")
                    stop = gr.Button("停止 / Stop", variant="stop", scale=1, elem_id="rag-stop")
                gr.Markdown("示例问题 / Example questions")
                with gr.Row():
                    examples = [gr.Button(text, size="sm", elem_classes="rag-example") for text in EXAMPLES]
                with gr.Row():
                    new_chat = gr.Button("新对话 / New chat", size="sm", variant="secondary", elem_id="rag-new")
                    export = gr.DownloadButton("导出 Markdown / Export", size="sm", elem_id="rag-export",
                                               value=None)
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(sources_html(), label="来源 / Sources", show_label=True,
                                  elem_id="rag-sources", max_height=620, container=True, padding=True,
                                  js_on_load=PAGE_JS)
        with gr.Accordion("全部检索段落与分数 / All retrieved passages and scores", open=False,
                          elem_id="rag-hits-accordion"):
            passages = gr.HTML(hits_html(None), elem_id="rag-passages", js_on_load=None)
        with gr.Accordion("设置 / Settings", open=False, elem_id="rag-settings"):
            with gr.Row():
                k = gr.Slider(1, 50, value=config.k, step=1, label="检索段落数 / Passages to retrieve (top-k)")
                mode = gr.Radio(MODE_CHOICES, value=config.mode, label="检索方式 / Retrieval mode")
                answerer = gr.Radio(answerer_choices(config), value=config.answerer, elem_id="rag-answerer",
                                    label="回答方式 / Answerer")
        with gr.Accordion("文档 / Documents", open=True, elem_id="rag-documents"):
            with gr.Row():
                upload = gr.File(label=f"上传 / Upload (.txt .md .html .pdf .docx, ≤ {format_size(config.max_file_bytes)})",
                                 file_count="multiple", type="filepath", elem_id="rag-upload")
                status = gr.Textbox(label="上传结果 / Upload result", interactive=False, lines=4,
                                    elem_id="rag-upload-status")
            docs = gr.Dataframe(documents_table(), headers=DOC_HEADERS, datatype=["str", "number", "number"],
                                interactive=False, label="索引中的文档 / Documents in the index",
                                elem_id="rag-docs")

        ask_outputs = [chatbot, sources, passages, question, conv]
        ask_options = {"show_progress": "minimal", "concurrency_id": "ask",
                       "concurrency_limit": ask_concurrency(config)}
        asked = [send.click(on_ask, [question, k, mode, answerer, conv], ask_outputs, api_name="ask", **ask_options),
                 question.submit(on_ask, [question, k, mode, answerer, conv], ask_outputs, api_visibility="private",
                                 **ask_options)]
        for button, text in zip(examples, EXAMPLES, strict=True):
            asked.append(button.click(example_handler(text), [k, mode, answerer, conv], ask_outputs,
                                      api_visibility="private", **ask_options))
        for event in asked:  # the finished turn is kept in the browser and offered for export
            event.then(on_saved, [conv], [saved, export], api_visibility="private", show_progress="hidden")
        # Stop never waits behind questions: it only sets this tab's stop flags.
        stop.click(on_stop, None, None, api_visibility="private", concurrency_limit=None, show_progress="hidden")
        new_outputs = [chatbot, sources, passages, conv, export, saved]
        new_chat.click(on_new, None, new_outputs, api_visibility="private", cancels=asked)
        chatbot.clear(on_new, None, new_outputs, api_visibility="private", cancels=asked)
        # One writer at a time: adding embeds passages and writes a new index generation.
        upload.upload(on_upload, [upload], [status, docs, upload], api_name="add_files",
                      concurrency_limit=1, concurrency_id="index-writer")
        demo.load(documents_table, None, docs, api_name="documents")
        demo.load(on_load, [saved], [chatbot, sources, passages, conv, export], api_visibility="private")
        demo.unload(on_stop)  # a closed tab stops its queued and running requests
    return demo


def ask_concurrency(config: Config) -> int:
    """Questions Gradio lets run at once. With a model answerer they wait in its queue instead."""
    return MODEL_ASK_CONCURRENCY if config.llm_base_url or config.answerer in ("auto", "model") else ASK_CONCURRENCY


def open_engine(index_dir: Path, say: Callable[[str], None]) -> Engine:
    """Load the index, the embedding model and the language model (warmed now, so the first question does
    not pay for it); an index dir with no index yet gets the bundled article."""
    engine = Engine.open(index_dir=index_dir, progress=say, seed=True)
    engine.warm(say)
    return engine


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not (sep and user and password):  # never echo the value: it may hold a password
        raise InputError("--auth / RAG_AUTH must look like user:password, with both parts non-empty.")
    return user, password


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           max_file_bytes: int | None = None) -> None:
    demo.queue(default_concurrency_limit=ASK_CONCURRENCY)
    demo.launch(server_name=host, server_port=port, auth=auth, share=False, max_file_size=max_file_bytes,
                css_paths=[PAGE_CSS_FILE], ssr_mode=False, show_error=False, footer_links=["api", "settings"],
                state_session_capacity=SESSION_CAPACITY)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chat with your documents in the browser, offline.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX_DIR)
    parser.add_argument("--uploads-dir", type=Path, default=UPLOADS_DIR, help="where uploaded files are kept")
    parser.add_argument("--auth", default=os.environ.get("RAG_AUTH"), metavar="USER:PASSWORD",
                        help="require a login (default: $RAG_AUTH)")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    started = time.perf_counter()
    try:
        auth = parse_auth(args.auth)
        engine = open_engine(args.index_dir, say)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:  # the first question pays for lazy set-up (tokenizer dictionary, first inference): pay it now
        engine.ask(EXAMPLES[0])
    except RagError:
        pass
    documents = document_records(engine)
    say(f"loaded in {time.perf_counter() - started:.1f} s: {len(documents)} document(s), "
        f"{sum(d.chunks for d in documents)} passages from {args.index_dir}")
    if args.host not in LOCAL_HOSTS and auth is None:
        say(f"warning: listening on {args.host} without --auth; anyone who reaches this port can read "
            "and add documents.")
    launch(build_app(engine, args.uploads_dir), args.host, args.port, auth, engine.config.max_file_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
