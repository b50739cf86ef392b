"""The running app's /ask endpoint through gradio_client: answers with citations, errors as messages."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from gradio_client import Client

from rag.ui_process import RunningApp, start_app, stop_app
from tests.ui.ui_app import ui_app_fixture  # noqa: F401  (provides `ui_app`)

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


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a socket listening on `port`, read from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
            found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found


def test_loopback_only_and_login_when_auth_is_set(real_index_dir: Path) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="rag-ui-auth-"))
    shutil.copytree(real_index_dir, workdir / "index")
    app = start_app(workdir, workdir / "index", extra_env={"RAG_AUTH": "ann:s3cret"})
    try:
        port = int(app.url.rstrip("/").rsplit(":", 1)[1])
        assert listening_addresses(port) == {"127.0.0.1"}
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises different types per version
            Client(app.url, verbose=False, analytics_enabled=False).predict("美图的CFO是谁？", api_name="/ask")
        with pytest.raises(Exception):  # noqa: B017
            Client(app.url, auth=("ann", "wrong"), verbose=False, analytics_enabled=False)
        client = Client(app.url, auth=("ann", "s3cret"), verbose=False, analytics_enabled=False)
        chat, *_ = client.predict("美图的CFO是谁？", api_name="/ask")
        assert "颜劲良" in reply_text(chat)
    finally:
        stop_app(app)
