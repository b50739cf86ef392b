"""Serving a slow model, in Debian's headless Chromium: tokens stream, Stop frees the model, a reload keeps
the chat, a second browser sees its place in the queue.

The app's answerer is `llm` (and, for the closest-sentence refusal, the default `auto`), pointed at
tests/llm_server.py in this process: a scripted model whose replies each test sets (pieces `gap_s` apart), so
every wait here is one the script decides.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.ui_process import RunningApp, start_app, stop_app
from tests.llm_server import Reply, ScriptedLLM
from tests.ui.test_ui_browser import BOT, CHROMIUM, CHROMIUM_ARGS
from tests.ui.ui_app import SCREENSHOTS

pytestmark = pytest.mark.browser

REVENUE = "美图2023年总收入27亿元，同比增长29.3%[1]。"  # supported by the article's revenue sentence
FILLER = "此外，美图还在持续投入人工智能相关的研发工作，" * 40  # a long answer, to be stopped


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(Reply(pieces=(REVENUE,))) as server:
        yield server


@pytest.fixture(scope="module")
def app(llm: ScriptedLLM, real_index_dir: Path) -> Iterator[RunningApp]:
    workdir = Path(tempfile.mkdtemp(prefix="rag-serving-test-"))
    shutil.copytree(real_index_dir, workdir / "index")
    running = start_app(workdir, workdir / "index", extra_env={
        "RAG_LLM_BASE_URL": llm.base_url, "RAG_LLM_MODEL": "scripted", "RAG_ANSWERER": "llm",
        "RAG_LLM_QUEUE_S": "30"})
    yield running
    stop_app(running)


@pytest.fixture(scope="module")
def browser(app: RunningApp) -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed; run `make browser`")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, app: RunningApp):
    """A page in a context of its own: its own localStorage and Gradio session, as another person's."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(app.url, wait_until="domcontentloaded")
    page.wait_for_selector("#rag-question textarea")
    return page


def script(llm: ScriptedLLM, *pieces: str, gap_s: float = 0.0, hang_s: float = 0.0) -> None:
    llm.replies = [Reply(pieces=pieces, gap_s=gap_s, hang_s=hang_s)]


def send(page, question: str) -> int:
    """Ask; return the index the reply's bot message will have."""
    before = page.locator(BOT).count()
    page.fill("#rag-question textarea", question)
    page.click("#rag-send")
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length > n", arg=[BOT, before])
    return before


def wait_answer(page, index: int, timeout_s: float = 30) -> str:
    """The finished answer of bot message `index` (it names its answerer once it is final)."""
    page.locator(BOT).nth(index).locator(".rag-by").wait_for(timeout=timeout_s * 1000)
    return page.locator(BOT).nth(index).inner_text()


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_tokens_appear_before_the_answer_is_complete(browser, app: RunningApp, llm: ScriptedLLM) -> None:
    page = open_page(browser, app)
    script(llm, *REVENUE, gap_s=0.08)  # one character every 80 ms: about 2 s in all
    index = send(page, "美图2023年的总收入是多少？")
    reply = page.locator(BOT).nth(index)
    # a draft with some of the reply, still marked as in progress (the status span, the trailing …)
    # the chat is redrawn while it streams: the message may be missing for a moment, which is "not yet"
    page.wait_for_function("([sel, i]) => { const m = document.querySelectorAll(sel)[i];"
                           " const s = m && m.querySelector('.rag-status');"
                           " return !!s && s.innerText.includes('美图2023') && s.innerText.endsWith('…'); }",
                           arg=[BOT, index], timeout=15000)
    draft = compact(reply.inner_text())
    assert "29.3%" not in draft  # not yet complete
    page.screenshot(path=str(SCREENSHOTS / "10_streaming_draft.png"))
    answer = wait_answer(page, index)
    assert "27亿" in compact(answer) and "[1]" in answer and "大模型 / LLM" in answer
    page.context.close()


def test_stop_ends_a_long_answer_and_the_next_question_is_answered(browser, app: RunningApp,
                                                                   llm: ScriptedLLM) -> None:
    page = open_page(browser, app)
    script(llm, REVENUE, *FILLER, gap_s=0.05)  # the whole reply would take about a minute
    index = send(page, "美图2023年的总收入是多少？")
    page.locator(BOT).nth(index).locator(".rag-status", has_text="此外").wait_for(timeout=15000)
    stopped_at = time.monotonic()
    page.click("#rag-stop")
    answer = wait_answer(page, index, timeout_s=10)
    assert time.monotonic() - stopped_at < 5  # the partial answer is checked and shown at once
    assert "27亿" in compact(answer) and "Stopped" in answer  # the part written before Stop, checked
    page.screenshot(path=str(SCREENSHOTS / "11_stopped.png"))
    script(llm, REVENUE)
    index = send(page, "美图2023年的总收入是多少？")  # the model is free for the next question
    assert "27亿" in compact(wait_answer(page, index, timeout_s=15))
    assert "Stopped" not in page.locator(BOT).nth(index).inner_text()
    page.context.close()


def test_a_reload_keeps_the_chat_and_old_markers_open_their_passages(browser, app: RunningApp,
                                                                    llm: ScriptedLLM) -> None:
    page = open_page(browser, app)
    script(llm, REVENUE)
    wait_answer(page, send(page, "美图2023年的总收入是多少？"))
    script(llm, "美图的CFO是颜劲良[1]。")
    wait_answer(page, send(page, "美图的CFO是谁？"))
    page.wait_for_timeout(500)  # the finished turn is written to localStorage after the reply
    before = [compact(t) for t in page.locator(BOT).all_inner_texts()]
    page.reload(wait_until="domcontentloaded")
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n", arg=[BOT, 2],
                           timeout=15000)
    assert [compact(t) for t in page.locator(BOT).all_inner_texts()] == before
    old = page.locator(BOT).first.locator("a.rag-cite").first
    card_id = old.get_attribute("href").removeprefix("#")
    old.click()
    page.wait_for_function("id => { const el = document.getElementById(id); "
                           "return el && el.offsetParent !== null && el.classList.contains('rag-active'); }",
                           arg=card_id, timeout=5000)
    assert "27" in page.locator(f"#{card_id} mark").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "12_reloaded_marker_clicked.png"))
    with page.expect_download() as download:  # the export holds every answer with its sources
        page.click("#rag-export")
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert markdown.count("来源 / Sources:") == 2 and "## 2. 美图的CFO是谁？" in markdown
    # a follow-up after the reload still sees the restored conversation
    page.click("#rag-new")
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=BOT, timeout=5000)
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector("#rag-question textarea")
    page.wait_for_timeout(1000)
    assert page.locator(BOT).count() == 0  # New chat is kept too
    page.context.close()


def test_a_second_browser_sees_its_place_in_the_queue(browser, app: RunningApp, llm: ScriptedLLM) -> None:
    first, second = open_page(browser, app), open_page(browser, app)
    script(llm, REVENUE, *FILLER, gap_s=0.05)
    first_index = send(first, "美图2023年的总收入是多少？")
    first.locator(BOT).nth(first_index).locator(".rag-status", has_text="美图").wait_for(timeout=15000)
    second_index = send(second, "美图的CFO是谁？")
    queued = second.locator(BOT).nth(second_index).locator(".rag-status", has_text="排队中")
    queued.wait_for(timeout=10000)
    assert compact(queued.inner_text()) == compact("排队中，前面还有 1 个问题 / queued: 1 ahead")
    second.screenshot(path=str(SCREENSHOTS / "13_queued.png"))
    script(llm, "美图的CFO是颜劲良[1]。")
    first.context.close()  # the first person closes the tab: their answer stops, the second one runs next
    assert "颜劲良" in wait_answer(second, second_index, timeout_s=15)
    second.context.close()


@pytest.fixture(scope="module")
def auto_app(llm: ScriptedLLM, real_index_dir: Path) -> Iterator[RunningApp]:
    """The default answerer ("auto": the checked model answer and its cuts), its model the scripted server."""
    workdir = Path(tempfile.mkdtemp(prefix="rag-auto-test-"))
    shutil.copytree(real_index_dir, workdir / "index")
    running = start_app(workdir, workdir / "index", extra_env={
        "RAG_LLM_BASE_URL": llm.base_url, "RAG_LLM_MODEL": "scripted", "RAG_ANSWERER": "auto"})
    yield running
    stop_app(running)


def test_a_withheld_answer_shows_its_closest_sentence_said_not_to_answer(browser, auto_app: RunningApp,
                                                                         llm: ScriptedLLM) -> None:
    """3.7亿元 is the net profit; asked for 员工薪酬 (words the article never uses), the claim cut withholds it,
    and the refusal quotes the net-profit sentence it stood on, headed as not an answer."""
    page = open_page(browser, auto_app)
    script(llm, "3.7亿元[1]")
    answer = compact(wait_answer(page, send(page, "美图2023年的员工薪酬是多少？")))
    assert answer.startswith("（提示/Note:Themodel'sanswerwaswithheld:")
    assert "抱歉，文档中没有找到这个问题的答案。最接近的一句（不是对这个问题的回答）：“" in answer and "3.7亿元" in answer
    panel = page.locator("#rag-sources .rag-answer-sources").last
    assert "below is the closest sentence, not an answer" in panel.inner_text()
    assert "3.7亿元" in panel.locator(".rag-source mark").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "14_closest_sentence.png"))
    script(llm, "美图2023年经调整后净利润3.7亿元[1]。")  # the question it does answer keeps its answer
    answer = compact(wait_answer(page, send(page, "美图2023年的净利润是多少？")))
    assert "3.7亿元" in answer and "抱歉" not in answer and "回答者/answeredby:auto" in answer
    page.context.close()
