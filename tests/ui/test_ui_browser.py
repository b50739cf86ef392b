"""The real app in Debian's headless Chromium: cited answers, clickable markers, follow-ups, uploads, XSS.

Screenshots go to artifacts/screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.ui_process import RunningApp
from tests.ui.ui_app import SCREENSHOTS, ui_app_fixture  # noqa: F401  (provides the `ui_app` fixture)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
BOT = '#rag-chat [data-testid="bot"]'
XSS_TEXT = ('安全测试文件：<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
            "这段文字用于网页安全测试。")


@pytest.fixture(scope="module")
def page(ui_app: RunningApp) -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed; run `make browser`")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(ui_app.url, wait_until="domcontentloaded")
        page.wait_for_selector("#rag-question textarea")
        yield page
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def wait_reply(page, replies_before: int, timeout_s: float = 60) -> str:
    """Wait for a new bot message to be final (it names its answerer, or is an error message); return
    its text."""
    page.wait_for_function(
        "([sel, n]) => { const bots = document.querySelectorAll(sel); if (bots.length <= n) return false;"
        " const last = bots[bots.length - 1];"
        " return !!last.querySelector('.rag-by') || last.innerText.trim().startsWith('⚠️'); }",
        arg=[BOT, replies_before], timeout=timeout_s * 1000)
    return page.locator(BOT).last.inner_text()


def clear_chat(page) -> None:
    page.click("#rag-new")
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 0", arg=BOT)


def ask(page, question: str) -> str:
    before = page.locator(BOT).count()
    page.fill("#rag-question textarea", question)
    page.click("#rag-send")
    return wait_reply(page, before)


def upload(page, path: Path, expect: str, timeout_s: float = 60) -> str:
    """Upload one file and wait until the upload result box mentions `expect`; return the box's text."""
    before = page.input_value("#rag-upload-status textarea")  # an earlier upload's message must not count
    page.set_input_files("#rag-upload input[type=file]", str(path))
    deadline, status = time.monotonic() + timeout_s, ""
    while time.monotonic() < deadline:
        status = page.input_value("#rag-upload-status textarea")
        if status != before and expect in status:
            return status
        time.sleep(0.2)
    raise AssertionError(f"uploading {path.name}: no {expect!r} within {timeout_s} s; the box says {status!r}")


def open_passages(page) -> None:
    """Open the retrieved-passages accordion (Gradio renders its content only once it is open)."""
    if not page.locator("#rag-passages").is_visible():
        page.click("#rag-hits-accordion button.label-wrap")
    page.wait_for_selector("#rag-passages", state="visible")


def documents_text(page) -> str:
    return page.inner_text("#rag-docs")


def test_answer_with_sources_and_clickable_marker(page, ui_app: RunningApp) -> None:
    answer = ask(page, "美图2023年的总收入是多少？")
    assert "27亿" in compact(answer) and "[1]" in answer
    link = page.locator(BOT).last.locator("a.rag-cite", has_text="[1]")
    card_id = link.get_attribute("href").removeprefix("#")
    card = page.locator(f"#rag-sources #{card_id}")
    assert "meitu_ai_article.txt" in card.inner_text()
    marked = card.locator("mark").inner_text()
    assert "27" in marked and compact(marked) in compact(card.locator(".rag-passage").inner_text())
    shot(page, "01_answer_with_sources")

    # Narrow window: the sources panel sits below the chat, out of view, until the marker is clicked.
    page.set_viewport_size({"width": 520, "height": 720})
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    in_view = "id => { const el = document.getElementById(id); if (!el) return false;" \
              " const r = el.getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight; }"
    assert page.locator(f"#{card_id}").count() == 1  # the passage is there ...
    assert not page.evaluate(in_view, card_id), "the test needs the passage out of view before the click"
    url = page.url
    link.click()
    page.wait_for_function(in_view, arg=card_id, timeout=5000)
    assert "rag-active" in card.get_attribute("class")
    assert page.url == url and len(page.context.pages) == 1  # no navigation, no new tab
    shot(page, "02_marker_clicked_narrow")
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_follow_up_question_uses_the_chat_history(page) -> None:
    clear_chat(page)
    assert "颜劲良" in ask(page, "美图的CFO是谁？")
    assert "70%-75%" in ask(page, "他对毛利率说了什么？")
    open_passages(page)
    query = page.locator("#rag-passages .rag-query").inner_text()
    assert "美图的CFO是谁？" in query and "他对毛利率说了什么？" in query
    shot(page, "03_follow_up")


@pytest.mark.parametrize(("first", "first_shows", "follow_up", "read_as", "reply_shows", "name"), [
    # README step 117: `2022年呢？` after 2023's revenue is read as the question about 2022, which the article does not
    # answer: the reply says how the question was read, and refuses
    ("美图2023年的总收入是多少？", "27亿", "2022年呢？", "Read as the earlier question about that year: “美图2022年的总收入是多少？”.",
     "没有找到", "03b_year_follow_up"),
    # README step 118 (the real embedder picks what 比特币 replaces): `比特币呢？` after the ether count is read as the
    # question about bitcoin: the reply says how it was read and gives the bitcoin count
    ("美图买了多少枚以太币？", "1.5万", "比特币呢？", "Read as the earlier question about “比特币”: “美图买了多少枚比特币？”.",
     "379.1214", "03c_term_follow_up"),
])
def test_a_follow_up_of_a_year_or_a_term_is_read_as_the_earlier_question_about_it(
        page, first, first_shows, follow_up, read_as, reply_shows, name) -> None:
    if page.locator(BOT).count():  # New chat on a page with no message has nothing to wait for: not clicked then
        clear_chat(page)
    assert first_shows in compact(ask(page, first))
    reply = ask(page, follow_up)
    assert read_as in reply
    assert reply_shows in reply
    shot(page, name)


def test_markers_of_an_older_answer_show_that_answers_sources(page) -> None:
    clear_chat(page)
    assert "27亿" in compact(ask(page, "美图2023年的总收入是多少？"))
    assert "颜劲良" in ask(page, "美图的CFO是谁？")
    first, latest = page.locator(BOT).first, page.locator(BOT).last
    old_card = first.locator("a.rag-cite").first.get_attribute("href").removeprefix("#")
    new_card = latest.locator("a.rag-cite").first.get_attribute("href").removeprefix("#")
    # the panel is redrawn with the answer's last step: wait for it rather than race it
    page.wait_for_function("id => { const el = document.getElementById(id); return el && el.offsetParent !== null; }",
                           arg=new_card, timeout=5000)
    assert not page.locator(f"#{old_card}").is_visible()
    first.locator("a.rag-cite").first.click()
    page.wait_for_function("id => { const el = document.getElementById(id); return !!el && el.offsetParent !== null; }", arg=old_card, timeout=5000)
    assert not page.locator(f"#{new_card}").is_visible()
    old_part = page.locator(f"#rag-sources .rag-answer-sources:has(#{old_card})")
    assert old_part.locator(".rag-answer-head").inner_text().endswith(f"Sources of answer {old_card.split('-')[1]}")
    assert "27" in page.locator(f"#{old_card} mark").inner_text()
    assert "rag-active" in page.locator(f"#{old_card}").get_attribute("class")
    shot(page, "07_older_marker_clicked")
    latest.locator("a.rag-cite").first.click()  # and back to the latest answer
    page.wait_for_function("id => { const el = document.getElementById(id); return !!el && el.offsetParent !== null; }", arg=new_card, timeout=5000)
    assert not page.locator(f"#{old_card}").is_visible()


def test_copy_button_copies_the_answer_as_plain_text_with_its_sources(page, ui_app: RunningApp) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_app.url.rstrip("/"))
    clear_chat(page)
    answer = ask(page, "美图的CFO是谁？")
    bot_row = page.locator("#rag-chat .message-row.bot-row").last
    bot_row.hover()
    copy = bot_row.locator("xpath=following-sibling::*[contains(@class, 'message-buttons')][1]//button")
    copy.click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.includes('Sources'))", timeout=5000)
    text = page.evaluate("navigator.clipboard.readText()")
    lines = text.split("\n")
    shown = answer.split("回答者 / answered by")[0]  # the line naming the answerer is not copied
    assert compact(lines[0]) == compact(shown) and "<" not in text  # the answer with [1], no markup
    assert lines[2] == "来源 / Sources:" and lines[3].startswith("[1] meitu_ai_article.txt, 字符 / characters ")
    assert lines[4].startswith("    “") and lines[4].endswith("”") and "颜劲良" in lines[4]
    assert copy.get_attribute("aria-label") == "已复制 / Copied"
    user_row = page.locator("#rag-chat .message-row.user-row").last
    user_row.hover()
    user_row.locator("xpath=following-sibling::*[contains(@class, 'message-buttons')][1]//button").click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t === '美图的CFO是谁？')", timeout=5000)


def test_upload_then_ask_about_it(page, ui_app: RunningApp, tmp_path: Path) -> None:
    doc = tmp_path / "星火 report (2025).txt"
    doc.write_text("星火公司2025年的研发投入为8.8亿元。\n星火公司的总部位于合肥。\n", encoding="utf-8")
    status = upload(page, doc, "已添加")
    stored = doc.name  # stored, listed and cited under the name it was uploaded with
    assert stored in status
    assert (ui_app.uploads_dir / stored).read_text(encoding="utf-8") == doc.read_text(encoding="utf-8")
    assert sorted(p.name for p in ui_app.uploads_dir.iterdir()) == [stored]  # no staging folder left
    page.wait_for_function("([sel, want]) => { const el = document.querySelector(sel); return !!el && el.innerText.includes(want); }",
                           arg=["#rag-docs", stored])
    answer = ask(page, "星火公司2025年的研发投入是多少？")
    assert "8.8亿" in compact(answer)
    assert stored in page.locator("#rag-sources .rag-answer-sources").last.locator(".rag-file").all_inner_texts()
    shot(page, "04_uploaded_and_asked")


def test_document_markup_is_shown_as_text_and_never_runs(page, tmp_path: Path) -> None:
    doc = tmp_path / "xss<img src=x onerror=window.__pwned=3>.txt"
    doc.write_text(XSS_TEXT + "\n", encoding="utf-8")
    upload(page, doc, "已添加")
    clear_chat(page)
    answer = ask(page, "网页安全测试文件写了什么？")
    open_passages(page)
    page.wait_for_timeout(500)
    for shown in (answer, page.inner_text("#rag-sources"), page.inner_text("#rag-passages")):
        assert '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">' in shown
    shot(page, "05_markup_shown_literally")
    typed = '<img src=x onerror="window.__pwned=4">美图的CFO是谁？'
    ask(page, typed)  # whatever the answer, the question itself must show as typed
    assert page.locator('#rag-chat [data-testid="user"]').last.inner_text().strip() == typed
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    rendered = "#rag-chat .message-content, #rag-sources, #rag-passages"
    assert page.locator(f":is({rendered}) :is(img, script)").count() == 0


def test_unsupported_files_are_refused_and_change_nothing(page, ui_app: RunningApp, tmp_path: Path) -> None:
    before = documents_text(page)
    stored_before = sorted(p.name for p in ui_app.uploads_dir.iterdir())
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)))
    assert "not supported" in upload(page, exe, "未添加")
    binary = tmp_path / "data.txt"
    binary.write_bytes(b"\x00\x01\x02binary\x00" * 50)
    assert "looks binary" in upload(page, binary, "data.txt")
    page.wait_for_timeout(300)
    assert documents_text(page) == before
    assert sorted(p.name for p in ui_app.uploads_dir.iterdir()) == stored_before
    shot(page, "06_unsupported_refused")
