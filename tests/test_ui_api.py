"""The running app's /ask endpoint through gradio_client: answers with citations, errors as messages."""

from __future__ import annotations

import re

import pytest
from gradio_client import Client

from tests.ui_app import RunningApp, ui_app_fixture  # noqa: F401  (provides the `ui_app` fixture)

pytestmark = pytest.mark.browser


def last_reply(chat: list[dict]) -> str:
    """The last assistant message's content (HTML), whichever message format the client returns."""
    content = [m for m in chat if m["role"] == "assistant"][-1]["content"]
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def reply_text(chat: list[dict]) -> str:
    """The last reply as text with tags and spaces removed (27 亿 -> 27亿)."""
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", last_reply(chat)))


@pytest.fixture(scope="module")
def client(ui_app: RunningApp) -> Client:
    return Client(ui_app.url, verbose=False, analytics_enabled=False, download_files=False)


def test_ask_answers_with_a_citation(client: Client) -> None:
    chat, sources, passages, question_box = client.predict("美图2023年的总收入是多少？", api_name="/ask")
    answer = reply_text(chat)
    assert "27亿" in answer
    assert "[1]" in answer
    assert 'href="#cite-1-1"' in last_reply(chat)
    assert 'id="cite-1-1"' in sources and "meitu_ai_article.txt" in sources and "<mark>" in sources
    assert "<table" in passages and question_box == ""


def test_empty_question_is_a_message_not_an_error(client: Client) -> None:
    chat, *_ = client.predict("   ", api_name="/ask")
    message = last_reply(chat)
    assert message.startswith("⚠️") and "question is empty" in message
    assert "Traceback" not in message


def test_follow_up_uses_the_conversation(ui_app: RunningApp) -> None:
    session = Client(ui_app.url, verbose=False, analytics_enabled=False, download_files=False)
    chat, *_ = session.predict("美图的CFO是谁？", api_name="/ask")
    assert "颜劲良" in reply_text(chat)
    chat, _, passages, _ = session.predict("他对毛利率说了什么？", api_name="/ask")
    assert "70%-75%" in reply_text(chat)
    # the retrieval query shown above the passages carries the earlier question
    assert re.search(r"Search query: <q>美图的CFO是谁？\s*他对毛利率说了什么？</q>", passages)
