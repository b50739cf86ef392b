"""Indexing progress: structured events that still read as the lines callers printed before."""

from __future__ import annotations

import io

from rag.progress import Progress, as_progress


def test_a_progress_event_is_its_line_and_carries_counts():
    event = Progress("  passages: 29/116 (25%, ~3 s left)", "passages", 29, 116)
    assert event == "  passages: 29/116 (25%, ~3 s left)" and event.strip().startswith("passages")
    assert (event.stage, event.done, event.total, event.fraction) == ("passages", 29, 116, 0.25)
    plain = as_progress("loading embedding model")
    assert (plain.stage, plain.total, plain.fraction) == ("", 0, None)
    assert as_progress(event) is event


def test_indexing_emits_counted_events_for_each_stage(tmp_path, fake_embedder, fake_config):
    from rag.chat import Engine
    from rag.indexer import empty_index
    from tests.conftest import ARTICLE

    events: list[Progress] = []
    Engine(fake_config, tmp_path / "i", fake_embedder, empty_index(fake_embedder)).add_files([ARTICLE], events.append)
    assert [(e.stage, e.done, e.total) for e in events] == [
        ("passages", 0, 23), ("sentences", 0, 115), ("sentences", 115, 115), ("store", 0, 23)]
    assert events[0] == "embedding 23 passages from 1 document(s)"  # 23 < 64: too few for counts
    assert events[2].startswith("  sentences: 115/115 done in")  # the fake embeds in one go
    assert events[-1] == "building BM25 and the faiss vector store"


def test_cli_progress_prints_lines_where_stderr_is_not_a_terminal(monkeypatch):
    from rag import cli

    err = io.StringIO()
    monkeypatch.setattr(cli.sys, "stderr", err)
    show = cli.IndexProgress()
    show(Progress("embedding 200 passages from 1 document(s)", "passages", 0, 200))
    show(Progress("  passages: 100/200 (50%, ~1 s left)", "passages", 100, 200))
    show("plain line")
    assert err.getvalue().splitlines() == ["embedding 200 passages from 1 document(s)",
                                           "  passages: 100/200 (50%, ~1 s left)", "plain line"]


def test_cli_progress_draws_a_bar_on_a_terminal(monkeypatch):
    from rag import cli

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr(cli.sys, "stderr", err)
    show = cli.IndexProgress()
    show(Progress("embedding 200 passages from 1 document(s)", "passages", 0, 200))
    show(Progress("  passages: 100/200 (50%, ~1 s left)", "passages", 100, 200))
    assert show.bars["passages"].n == 100
    show(Progress("  passages: 200/200 done in 2.0 s", "passages", 200, 200))
    out = err.getvalue()
    assert out.startswith("embedding 200 passages from 1 document(s)\n")
    assert "200/200" in out and "passages: 100/200 (50%" not in out  # counts go to the bar, not lines


def test_the_ui_words_for_the_new_progress_lines():
    from rag.messages import progress_in_words

    assert progress_in_words("building BM25 and the milvus vector store") == (
        "建立关键词与向量索引（milvus） / building BM25 and the milvus vector store", None)
    assert progress_in_words("resuming: 12 document(s) were embedded by an interrupted run") == (
        "继续上次中断的索引：12 个文档已向量化 / resuming: 12 document(s) were embedded by an interrupted run", None)
