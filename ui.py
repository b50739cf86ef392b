"""The Gradio app: chat with cited answers, upload documents, inspect what retrieval found.

    python ui.py [--host 127.0.0.1] [--port 7860] [--index-dir DIR] [--uploads-dir DIR] [--auth user:password]

Thin on purpose: it calls rag.chat.Engine (ask, add_files, documents) and formats what comes back with
rag.ui_format. Retrieval and answering live in rag/. The model and index load once, before launch.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from rag.chat import Engine
from rag.config import BUNDLED_EXAMPLES, DEFAULT_INDEX_DIR, PROJECT_ROOT, Config
from rag.documents import format_size
from rag.errors import InputError, RagError
from rag.messages import READING_FILES, describe_add, progress_in_words
from rag.schema import DocumentRecord
from rag.store import config_for_index
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

SOURCES_CSS = """
.rag-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  margin: 0 0 10px; scroll-margin: 12px; transition: box-shadow .3s, background-color .3s; }
.rag-source.rag-active { box-shadow: 0 0 0 3px #f59e0b; background-color: rgba(245, 158, 11, .10); }
.rag-source-head { font-weight: 600; }
.rag-n { color: var(--color-accent); margin-right: 4px; }
.rag-source-meta { font-size: .85em; opacity: .75; margin: 2px 0 6px; }
.rag-passage { line-height: 1.65; white-space: pre-wrap; overflow-wrap: anywhere; }
mark { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.rag-empty { opacity: .7; padding: 6px 2px; }
.rag-answer-head { font-size: .85em; opacity: .75; margin: 0 0 6px; }
.rag-answer-sources:not(:last-child) { display: none; }
.rag-picked > .rag-answer-sources { display: none; }
.rag-picked > .rag-answer-sources.rag-shown { display: block; }
"""
HITS_CSS = """
table.rag-hits { border-collapse: collapse; width: 100%; font-size: .9em; }
.rag-hits th, .rag-hits td { border: 1px solid var(--border-color-primary); padding: 4px 6px; vertical-align: top; }
.rag-hits th { text-align: left; white-space: nowrap; }
.rag-hits caption { text-align: left; padding: 4px 0; opacity: .8; }
.rag-hits .rag-passage { white-space: pre-wrap; overflow-wrap: anywhere; min-width: 18em; }
.rag-title { font-size: .85em; opacity: .75; }
.rag-query { margin: 2px 0 8px; }
.rag-empty { opacity: .7; }
"""
# Markers in the chat are <a href="#cite-A-N"> links. The page has <base href="./">, so following such a
# link natively can reload the page when the URL has a query string; intercept it and scroll instead.
# The sources panel holds every answer's sources, the latest shown: a marker of an older answer shows
# that answer's sources. The chat's copy buttons (the only per-message buttons enabled) would copy a
# message's HTML; copy the answer as plain text with its sources instead (kept hidden in the panel).
CITE_JS = """
if (!window.__ragClicks) {
  window.__ragClicks = true;
  const copied = "已复制 / Copied";
  async function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const area = document.createElement("textarea");  // plain http on a LAN: no Clipboard API
    area.value = text;
    area.style.position = "fixed";
    area.style.left = "-9999px";
    document.body.append(area);
    area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
  }
  function plainText(row) {
    const reply = row ? row.querySelector(".rag-reply") : null;
    const answer = reply ? /rag-answer-(\\d+)/.exec(reply.className) : null;
    const stored = answer ? document.querySelector(`#rag-sources .rag-answer-${answer[1]} .rag-copy-text`) : null;
    if (stored) return stored.textContent;
    const content = row ? row.querySelector(".message-content") : null;  // questions, error messages
    return content ? content.innerText.trim() : "";
  }
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const copy = target ? target.closest("#rag-chat .message-buttons button") : null;
    if (copy) {
      event.preventDefault();
      event.stopImmediatePropagation();
      const buttons = copy.closest(".message-buttons");
      writeClipboard(plainText(buttons ? buttons.previousElementSibling : null)).then(() => {
        const label = copy.getAttribute("aria-label");
        copy.classList.add("rag-copied");
        copy.setAttribute("aria-label", copied);
        copy.title = copied;
        setTimeout(() => { copy.classList.remove("rag-copied"); copy.setAttribute("aria-label", label); copy.title = label; }, 2000);
      });
      return;
    }
    const link = target ? target.closest('a[href^="#cite-"]') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(link.getAttribute("href").slice(1));
    if (!card) return;
    const part = card.closest(".rag-answer-sources");
    if (part && part.parentElement) {
      part.parentElement.classList.add("rag-picked");
      for (const other of part.parentElement.children) other.classList.toggle("rag-shown", other === part);
    }
    document.querySelectorAll(".rag-source.rag-active").forEach((el) => el.classList.remove("rag-active"));
    card.classList.add("rag-active");
    card.scrollIntoView({behavior: "smooth", block: "nearest"});
  }, true);
}
"""
PAGE_CSS = """
#rag-chat a.rag-cite { color: var(--color-accent); font-weight: 600; text-decoration: none; padding: 0 1px; }
#rag-chat .message-buttons button.rag-copied { color: var(--color-accent) !important; }
#rag-chat .rag-notice { font-size: .85em; opacity: .75; }
#rag-chat .rag-unsupported { text-decoration: underline wavy #c60; color: #8a5a00; }
#rag-chat b.rag-span { font-weight: 700; }
"""


@dataclass
class Conversation:
    """One browser session's chat: the plain turns the engine reads and the messages the Chatbot shows."""

    turns: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    answers: int = 0  # numbers each answer, so its citation anchors are unique on the page
    sources: list[str] = field(default_factory=list)  # each answer's part of the sources panel, in order


def ask_stream(engine: Engine, question: Any, k: Any, mode: Any, conv: Conversation,
               answerer: Any = None) -> Iterator[tuple]:
    """Ask the engine and yield (chat messages, sources, passages, question box, conversation) as it streams.

    A RagError (empty question, bad k ...) becomes an assistant message and a warning, never a traceback.
    """
    question = question if isinstance(question, str) else ""
    messages = list(conv.messages)
    if question.strip():
        messages.append({"role": "user", "content": escape(question.strip()).replace("\n", "<br>")})
    yield (messages + [{"role": "assistant", "content": "检索中… / Searching…"}],
           gr.skip(), gr.skip(), "", gr.skip())
    # The engine runs in a worker thread so that a generating answerer's tokens (on_token) reach the page
    # as they arrive; this generator only relays them.
    pieces: queue.SimpleQueue[str] = queue.SimpleQueue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["answer"] = engine.ask(question, history=conv.turns, k=int(k) if k else None,
                                           mode=mode or None, answerer=answerer or None, on_token=pieces.put)
        except Exception as exc:  # reported below, in the request's own thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    draft = ""
    while worker.is_alive() or not pieces.empty():
        try:
            draft += pieces.get(timeout=0.1)
        except queue.Empty:
            continue
        shown = {"role": "assistant", "content": escape(draft).replace("\n", "<br>") + " …"}
        yield messages + [shown], gr.skip(), gr.skip(), "", gr.skip()
    worker.join()
    error = outcome.get("error")
    if isinstance(error, RagError):
        failure = f"无法回答 / Cannot answer: {error}"
    elif error is not None:  # a bug, not the user's fault: log it, keep the page usable
        traceback.print_exception(error)
        failure = "内部错误，详情见服务器日志 / Internal error; see the server log."
    else:
        answer, failure = outcome["answer"], ""
    if failure:
        gr.Warning(failure)
        messages.append({"role": "assistant", "content": f"⚠️ {escape(failure)}"})
        yield messages, gr.skip(), gr.skip(), question, Conversation(conv.turns, messages, conv.answers, conv.sources)
        return

    answer_no = conv.answers + 1
    cited = [c.n for c in answer.citations]
    sources = conv.sources + [answer_sources_html(answer, answer_no)]
    first = True
    for shown in ([answer.text] if draft else stream_prefixes(answer.text, STREAM_STEP)):  # streamed already
        whole = shown == answer.text  # the last step shows the answer as it stays (marks included)
        reply = {"role": "assistant", "content": answer_html(answer, answer_no) if whole
                 else reply_html(shown, answer_no, cited, answer.notice)}
        if first:
            yield messages + [reply], sources_html(sources), hits_html(answer), "", gr.skip()
            first = False
        else:
            yield messages + [reply], gr.skip(), gr.skip(), "", gr.skip()
        time.sleep(STREAM_DELAY_S)
    messages.append({"role": "assistant", "content": answer_html(answer, answer_no)})
    turns = conv.turns + [{"role": "user", "content": question},
                          {"role": "assistant", "content": answer.text}]
    yield (messages, sources_html(sources), hits_html(answer), "",
           Conversation(turns, messages, answer_no, sources))


def answerer_choices(config: Config) -> list[tuple[str, str]]:
    """(label, value) of each answerer a user may pick in the settings."""
    choices = [("抽取式（默认）/ Extractive (default)", "extractive"),
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


def build_app(engine: Engine, uploads_dir: Path = UPLOADS_DIR) -> gr.Blocks:
    """The whole UI over one loaded engine. Launch it with `launch(demo, ...)` (adds page CSS)."""
    config = engine.config

    def documents_table() -> list[list]:
        return document_rows(document_records(engine))

    def on_ask(question: str, k: float, mode: str, answerer: str, conv: Conversation) -> Iterator[tuple]:
        yield from ask_stream(engine, question, k, mode, conv, answerer)

    def example_handler(text: str) -> Callable[..., Iterator[tuple]]:
        def on_example(k: float, mode: str, answerer: str, conv: Conversation) -> Iterator[tuple]:
            yield from ask_stream(engine, text, k, mode, conv, answerer)
        return on_example

    def on_upload(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        progress(0, desc=READING_FILES)
        try:
            report = add_uploads(engine, uploads_dir, files or [], progress_reporter(progress))
        except (RagError, OSError) as exc:  # OSError: the upload could not be copied (disk full ...)
            gr.Warning(str(exc))
            return f"未添加 / Not added: {exc}\n索引没有变化 / The index is unchanged.", documents_table(), None
        return describe_add(report, bilingual=True), documents_table(), None

    def on_clear() -> tuple:
        return [], sources_html(), hits_html(None), Conversation()

    with gr.Blocks(title="文档问答 / Document Q&A", analytics_enabled=False) as demo:
        conv = gr.State(Conversation())
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
                gr.Markdown("示例问题 / Example questions")
                with gr.Row():
                    examples = [gr.Button(text, size="sm", elem_classes="rag-example") for text in EXAMPLES]
                clear = gr.Button("清空对话 / Clear chat", size="sm", variant="secondary", elem_id="rag-clear")
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(sources_html(), label="来源 / Sources", show_label=True,
                                  elem_id="rag-sources", max_height=620, container=True, padding=True,
                                  css_template=SOURCES_CSS, js_on_load=CITE_JS)
        with gr.Accordion("全部检索段落与分数 / All retrieved passages and scores", open=False,
                          elem_id="rag-hits-accordion"):
            passages = gr.HTML(hits_html(None), elem_id="rag-passages", css_template=HITS_CSS, js_on_load=None)
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
        # An LLM answer mostly waits on the endpoint, not the CPU: with one configured, more questions may
        # run at once, so a slow model streaming to one user does not queue everyone else's questions.
        limit = ASK_CONCURRENCY * 4 if config.llm_base_url else ASK_CONCURRENCY
        ask_options = {"show_progress": "minimal", "concurrency_id": "ask", "concurrency_limit": limit}
        send.click(on_ask, [question, k, mode, answerer, conv], ask_outputs, api_name="ask", **ask_options)
        question.submit(on_ask, [question, k, mode, answerer, conv], ask_outputs, api_visibility="private",
                        **ask_options)
        for button, text in zip(examples, EXAMPLES, strict=True):
            button.click(example_handler(text), [k, mode, answerer, conv], ask_outputs, api_visibility="private",
                         **ask_options)
        clear.click(on_clear, None, [chatbot, sources, passages, conv], api_visibility="private")
        chatbot.clear(on_clear, None, [chatbot, sources, passages, conv], api_visibility="private")
        # One writer at a time: adding embeds passages and writes a new index generation.
        upload.upload(on_upload, [upload], [status, docs, upload], api_name="add_files",
                      concurrency_limit=1, concurrency_id="index-writer")
        demo.load(documents_table, None, docs, api_name="documents")
    return demo


def open_engine(index_dir: Path, say: Callable[[str], None]) -> Engine:
    """Load the index and the model; an index dir with no index yet gets the bundled article."""
    return Engine.open(config_for_index(index_dir), index_dir, progress=say, seed=True)


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
                css=PAGE_CSS, ssr_mode=False, show_error=False, footer_links=["api", "settings"])


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
