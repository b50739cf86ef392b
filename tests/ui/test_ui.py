"""ui.py and rag.ui_format without a browser: escaping, markers, streaming, history, uploads."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

import ui
from rag.answering.generation import Control
from rag.config import Config
from rag.conversation import ChatTurn, Conversation, conversation_markdown
from rag.errors import InputError, UnsupportedFileError
from rag.indexer import AddReport
from rag.messages import answer_in_words, describe_add
from rag.schema import Answer, Chunk, Citation, DocumentRecord, Hit, Sentence
from rag.serving import Requests
from rag.ui_format import (
    answer_html,
    answer_sources_html,
    document_rows,
    hits_html,
    passage_with_mark,
    reply_html,
    sources_html,
    stream_prefixes,
)
from rag.uploads import add_uploads, storable_name

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


def chunk(text: str = "甲乙。<丙>丁。戊。", start: int = 100, source: str = "a.txt", title: str = "",
          doc_id: str = "d1") -> Chunk:
    return Chunk(id=f"c{start}", doc_id=doc_id, source=source, start=start, end=start + len(text), title=title,
                 text=text)


def canned_answer(text: str = "答案是乙。[1]", notice: str = "") -> Answer:
    c = chunk(source=f"{SCRIPT}.txt", title=f"<b>{IMG}</b>", text=f"开头。{SCRIPT}答案是乙。结尾。")
    hits = (Hit(c, score=0.032787, rank=1, dense=0.91234, bm25=None),
            Hit(chunk("别的段落。", 500), score=0.016129, rank=2, dense=None, bm25=3.14159))
    sentence = Sentence("d1", 103, 103 + len(SCRIPT) + 5, f"{SCRIPT}答案是乙。")
    return Answer(question="问？", text=text, refused=False, citations=(Citation(1, hits[0], sentence),),
                  hits=hits, timings_ms={"total": 12.4}, retrieval_query="上一个问题 问？", notice=notice)


class CannedEngine:
    """Answers every question with the same Answer and records what it was asked."""

    def __init__(self, answer: Answer) -> None:
        self.config = Config(model="fake-bigram")
        self.answer = answer
        self.calls: list[dict] = []

    def ask(self, question, history=None, k=None, mode=None, answerer=None, on_token=None, control=None) -> Answer:
        self.calls.append({"question": question, "history": [dict(t) for t in history or []], "k": k, "mode": mode})
        return self.answer

    def documents(self) -> list[dict]:
        return [{"source": "a.txt", "doc_id": "d1", "chunks": 3, "chars": 120}]


# --------------------------------------------------------------------------- formatting


def test_reply_links_only_cited_markers_and_escapes_the_rest() -> None:
    html = reply_html("收入<b>27亿</b>[1]，另见[2]\n完", 3, cited=[1])
    assert html == ('<span class="rag-reply rag-answer-3">收入&lt;b&gt;27亿&lt;/b&gt;<a class="rag-cite" '
                    'href="#cite-3-1" title="查看来源 / show source [1]">[1]</a>，另见[2]<br>完</span>')


def test_reply_shows_the_notice_escaped() -> None:
    html = reply_html("好。", 1, notice="cut <b>here</b>")
    assert html.startswith('<span class="rag-reply rag-answer-1"><span class="rag-notice">（提示 / Note: cut &lt;b&gt;here&lt;/b&gt;）</span><br>')


def test_stream_prefixes_grow_and_never_split_a_marker() -> None:
    assert list(stream_prefixes("ab[12]cde", 2)) == ["ab", "ab[12]", "ab[12]cd", "ab[12]cde"]
    assert list(stream_prefixes("[1][2]", 3)) == ["[1]", "[1][2]"]
    assert list(stream_prefixes("", 3)) == [""]


def test_passage_marks_the_sentence_by_offsets() -> None:
    c = chunk("甲乙。<丙>丁。戊。", 100)
    assert passage_with_mark(c, Sentence("d1", 103, 108, "<丙>丁。")) == "甲乙。<mark>&lt;丙&gt;丁。</mark>戊。"
    # a sentence that starts before the passage is marked where it overlaps
    assert passage_with_mark(c, Sentence("d1", 98, 102, "前文甲乙")) == "<mark>甲乙</mark>。&lt;丙&gt;丁。戊。"


def test_passage_falls_back_to_the_sentence_text_when_offsets_disagree() -> None:
    c = chunk("甲乙。丙丁。", 100)
    assert passage_with_mark(c, Sentence("other", 0, 3, "丙丁。")) == "甲乙。<mark>丙丁。</mark>"
    assert passage_with_mark(c, Sentence("other", 0, 3, "<无>")) == "甲乙。丙丁。\n<mark>&lt;无&gt;</mark>"


def test_passage_shows_runs_of_blank_lines_as_one_break() -> None:
    c = chunk("一。\n\n \n二。", 0)
    assert passage_with_mark(c, Sentence("d1", 6, 8, "二。")) == "一。\n<mark>二。</mark>"


def test_sources_escape_file_name_title_and_text() -> None:
    html = answer_sources_html(canned_answer(), 2)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert html.startswith('<div class="rag-answer-sources rag-answer-2" data-answer="2">'
                           '<div class="rag-answer-head">回答 2 的来源 / Sources of answer 2</div>')
    assert 'id="cite-2-1"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in html
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt;答案是乙。</mark>结尾。" in html
    assert "字符 / chars 103–133（段落 / passage 100–136）" in html


def test_sources_for_a_refusal_and_before_any_question() -> None:
    refused = Answer(question="q", text="抱歉，文档中没有找到这个问题的答案。", refused=True)
    part = answer_sources_html(refused, 1)
    assert "rag-source" not in part and "nothing is cited" in part
    assert part.endswith('<pre class="rag-copy-text" hidden>抱歉，文档中没有找到这个问题的答案。</pre></div>')
    assert "rag-source" not in sources_html() and "Cited passages appear here" in sources_html()


def test_a_refusal_quoting_its_closest_sentence_shows_that_sentence_said_not_to_answer() -> None:
    from rag.answering.compose import refuse, refuse_with_closest

    cited = canned_answer().citations[0]
    refused = refuse_with_closest(refuse("美图有多少员工？", canned_answer().hits, reason="the claim cut"), cited.hit,
                                  cited.sentence)
    assert refused.refused and refused.text == (f"抱歉，文档中没有找到这个问题的答案。最接近的一句（不是对这个问题的回答）："
                                                f"“{SCRIPT}答案是乙。”[1]")
    part = answer_sources_html(refused, 3)
    assert "below is the closest sentence, not an answer" in part and 'id="cite-3-1"' in part
    assert part.index("not an answer") < part.index('class="rag-source"') and "nothing is cited" not in part
    assert '<a class="rag-cite" href="#cite-3-1"' in answer_html(refused, 3)
    assert "Not used: these passages do not answer the question" in hits_html(refused)
    from rag.messages import answer_in_words

    assert "\n\nClosest sentence (not an answer):\n[1] " in answer_in_words(refused) and "Sources" not in answer_in_words(refused)
    assert "\n\n来源 / Sources:\n[1] " in answer_in_words(canned_answer(), bilingual=True)


def test_the_panel_keeps_every_answers_sources_in_order() -> None:
    parts = [answer_sources_html(canned_answer(), 1), answer_sources_html(canned_answer("乙。[1]"), 2)]
    assert sources_html(parts) == '<div class="rag-sources-all">' + parts[0] + parts[1] + "</div>"


def test_copy_text_is_the_answer_with_its_sources_in_plain_text() -> None:
    html = answer_sources_html(canned_answer(notice="问题被截断"), 1)
    copy = re.search(r'<pre class="rag-copy-text" hidden>(.*?)</pre>', html, re.S)[1]
    assert copy == (
        "(问题被截断)\n答案是乙。[1]\n\n来源 / Sources:\n"
        "[1] &lt;script&gt;alert(1)&lt;/script&gt;.txt, 字符 / characters 103-133 — "
        "&lt;b&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;&lt;/b&gt;\n"
        "    “&lt;script&gt;alert(1)&lt;/script&gt;答案是乙。”")  # escaped once: the page shows the text
    assert answer_in_words(canned_answer()).split("\n")[2:4] == ["Sources:", f"[1] {SCRIPT}.txt, characters 103-133"
                                                                 f" — <b>{IMG}</b>"]


def test_hits_table_shows_every_score_and_the_search_query() -> None:
    html = hits_html(canned_answer())
    assert "<script" not in html and "<img" not in html
    assert "Search query: <q>上一个问题 问？</q> · 用时 / took 12 ms" in html
    rows = re.findall(r"<tr><td>.*?</tr>", html)
    assert len(rows) == 2
    assert "<td>1<br><b>[1]</b></td>" in rows[0] and "<td>0.0328</td><td>0.912</td><td>—</td>" in rows[0]
    assert "<td>0.0161</td><td>—</td><td>3.14</td>" in rows[1]
    assert "<caption>" not in html  # the passages were used


def test_documents_table_rows() -> None:
    records = ui.document_records(CannedEngine(canned_answer()))
    assert records == [DocumentRecord(source="a.txt", doc_id="d1", chars=120, chunks=3)]
    assert document_rows(records) == [["a.txt", 3, 120]]
    assert DocumentRecord.from_json(records[0].to_json()) == records[0]


def test_add_report_in_words_for_the_ui_and_the_cli() -> None:
    report = AddReport(added=["a.txt", "c.md"], replaced=["d.txt"], unchanged=["b.txt"], chunks_added=4)
    assert describe_add(report, bilingual=True).split("\n") == [
        "已添加 / Added: a.txt", "已添加 / Added: c.md", "已更新（内容有变化） / Replaced (content changed): d.txt",
        "未变化，已跳过 / Unchanged, skipped: b.txt", "新增段落 / New passages: 4"]
    assert describe_add(report).split("\n") == [
        "added: a.txt", "added: c.md", "replaced (content changed): d.txt", "unchanged, skipped: b.txt",
        "new passages: 4"]


@pytest.mark.parametrize(("name", "stored"), [
    ("report.txt", "report.txt"),
    ("星火 report (2025).txt", "星火 report (2025).txt"),  # spaces, brackets and CJK stay as uploaded
    ("ｒｅｐｏｒｔ．ｔｘｔ", "ｒｅｐｏｒｔ．ｔｘｔ"),  # full-width letters too: only the file system decides
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\evil.TXT", "evil.TXT"),
    ("<script>alert(1)</script>.html", "script_.html"),  # "/" ends a path component
    ("<img src=x onerror=alert(1)>.txt", "_img src=x onerror=alert(1)_.txt"),
    ('a\x00b\n|c?.txt', "a_b__c_.txt"),
    (".bashrc", "bashrc"),
    ("name. .txt", "name.txt"),
    ("....", "upload"),
    ("", "upload"),
    ("a" * 300 + ".txt", "a" * 196 + ".txt"),  # 200 bytes in all
    ("年" * 100 + ".md", "年" * 65 + ".md"),  # 3 bytes a character: 195 + 3
])
def test_storable_name(name: str, stored: str) -> None:
    assert storable_name(name) == stored


# --------------------------------------------------------------------------- ui.py handlers


def turns(engine, question, conv=None, control=None, **kw) -> list:
    """Every Turn ask_stream yields (it is an async generator)."""
    async def collect() -> list:
        return [t async for t in ui.ask_stream(engine, question, kw.get("k", 5), kw.get("mode", "hybrid"),
                                               conv or Conversation(), None, control)]
    return asyncio.run(collect())


def test_ask_streams_the_reply_then_remembers_the_turn() -> None:
    engine = CannedEngine(canned_answer("答案是乙。[1]"))
    steps = turns(engine, "问<b>？", k=7, mode="bm25")
    chat, sources, passages, box, conv = ui.turn_outputs(steps[0])
    assert chat == [{"role": "user", "content": "问&lt;b&gt;？"},
                    {"role": "assistant", "content": '<span class="rag-status">检索中… / Searching…</span>'}]
    assert box == ""
    outputs = [ui.turn_outputs(t) for t in steps]
    replies = [o[0][-1]["content"] for o in outputs[1:]]
    assert replies[0] == '<span class="rag-reply rag-answer-1">答案是</span>' and len(replies) > 2
    final = answer_html(engine.answer, 1)
    assert replies[-1] == final and 'href="#cite-1-1"' in final
    assert 'id="cite-1-1"' in outputs[1][1]  # the sources arrive with the first words
    conv = outputs[-1][4]
    assert conv.answers == 1 and conv.sources() == [answer_sources_html(engine.answer, 1)]
    assert conv.history() == [{"role": "user", "content": "问<b>？"}, {"role": "assistant", "content": "答案是乙。[1]"}]
    assert engine.calls == [{"question": "问<b>？", "history": [], "k": 7, "mode": "bm25"}]

    conv2 = turns(engine, "他呢？", conv)[-1].conversation
    assert engine.calls[1]["history"] == conv.history()  # follow-ups see the conversation so far
    assert conv2.answers == 2 and len(conv2.messages()) == 4
    assert 'href="#cite-2-1"' in conv2.messages()[-1]["content"]  # anchors stay unique per answer
    assert len(conv2.sources()) == 2 and 'id="cite-1-1"' in conv2.sources()[0] and 'id="cite-2-1"' in conv2.sources()[1]


class ScriptedEngine(CannedEngine):
    """Reports queue positions and tokens through the control, as a queued model answerer does."""

    def __init__(self, answer: Answer, positions=(2, 1, 0), pieces=("答案", "是乙。[1]")) -> None:
        super().__init__(answer)
        self.positions, self.pieces = positions, pieces
        self.stopped_seen: list[bool] = []

    def ask(self, question, history=None, k=None, mode=None, answerer=None, on_token=None, control=None):
        for ahead in self.positions:
            control.queued(ahead)
        for piece in self.pieces:
            control.token(piece)
        self.stopped_seen.append(control.stopped)
        return self.answer


def test_the_queue_position_shows_then_the_tokens_then_the_checked_answer() -> None:
    engine = ScriptedEngine(replace(canned_answer("答案是乙。[1]"), answerer="llm"))
    steps = turns(engine, "问？")
    assert [t.phase for t in steps] == ["searching", "queued", "queued", "writing", "writing", "writing", "done"]
    shown = [ui.turn_outputs(t)[0][-1]["content"] for t in steps]
    assert shown[1] == '<span class="rag-status">排队中，前面还有 2 个问题 / queued: 2 ahead</span>'
    assert shown[2] == '<span class="rag-status">排队中，前面还有 1 个问题 / queued: 1 ahead</span>'
    assert shown[3] == '<span class="rag-status">生成中… / Writing…</span>'
    assert shown[4:6] == ['<span class="rag-status">答案 …</span>', '<span class="rag-status">答案是乙。[1] …</span>']
    assert shown[6] == answer_html(engine.answer, 1)  # streamed already: the checked answer replaces the draft
    assert 'data-answerer="llm"' in shown[6] and "回答者 / answered by: 大模型 / LLM" in shown[6]
    assert engine.stopped_seen == [False]


def test_closing_the_stream_early_stops_the_request() -> None:
    engine = ScriptedEngine(canned_answer())
    control = Control()

    async def first_two() -> None:
        stream = ui.ask_stream(engine, "问？", 5, "hybrid", Conversation(), None, control)
        await stream.__anext__()
        await stream.__anext__()
        await stream.aclose()  # what Gradio does when the tab goes away

    asyncio.run(first_two())
    assert control.stopped


def test_ask_turns_rag_errors_into_a_chat_message(fake_engine) -> None:
    with pytest.warns(UserWarning, match="question is empty"):
        chat, _, _, box, conv = ui.turn_outputs(turns(fake_engine, "   ")[-1])
    assert chat == [{"role": "assistant", "content": "⚠️ 无法回答 / Cannot answer: the question is empty; "
                                                     "type a question about the documents."}]
    assert conv.history() == [] and conv.answers == 0 and box == "   "
    with pytest.warns(UserWarning, match="k=99 is out of range"):
        chat, *_rest = ui.turn_outputs(turns(fake_engine, "美图的CFO是谁？", k=99)[-1])
    assert chat[0] == {"role": "user", "content": "美图的CFO是谁？"} and "k=99" in chat[1]["content"]


def test_a_conversation_survives_its_json_round_trip_and_bad_stored_data_is_an_empty_chat() -> None:
    engine = CannedEngine(canned_answer("答案是乙。[1]"))
    conv = turns(engine, "问？")[-1].conversation
    conv = turns(engine, "再问？", conv)[-1].conversation
    stored = json.loads(json.dumps(conv.to_json()))  # what localStorage holds
    assert Conversation.from_json(stored) == conv
    restored = Conversation.from_json(stored)
    assert restored.messages() == conv.messages() and restored.sources() == conv.sources()
    assert restored.passages_html == hits_html(engine.answer) and restored.answers == 2
    for bad in (None, "x", {"version": 99, "turns": []}, {"version": 1, "turns": ["x"]},
                {"version": 1, "turns": [{"question": 5}]}):
        assert Conversation.from_json(bad) == Conversation()


def test_export_is_markdown_with_every_answers_sources() -> None:
    engine = CannedEngine(replace(canned_answer("答案是乙。[1]", notice="问题被截断"), answerer="extractive"))
    conv = turns(engine, "问？")[-1].conversation
    conv = conv.add(ChatTurn(question="坏问题", reply_html="⚠️ x", notice="无法回答 / Cannot answer: k=99"))
    conv = turns(engine, "再问？", conv)[-1].conversation
    md = conversation_markdown(conv)
    assert md.startswith("# 对话 / Conversation\n\n## 1. 问？\n\n*回答者 / Answered by: 抽取式 / extractive*\n\n"
                         "(问题被截断)\n答案是乙。[1]\n\n```text\n来源 / Sources:\n"
                         f"[1] {SCRIPT}.txt, 字符 / characters 103-133 — <b>{IMG}</b>\n"
                         f"    “{SCRIPT}答案是乙。”\n```\n\n## 2. 坏问题\n\n> 无法回答 / Cannot answer: k=99\n\n## 3. 再问？")
    assert md.count("来源 / Sources:") == 2
    path = ui.export_file(conv, Path(tempfile.mkdtemp()) / "tab")
    assert Path(path).read_text(encoding="utf-8") == md and ui.export_file(Conversation(), Path("unused")) is None


def test_requests_of_a_tab_are_stopped_together_and_only_them() -> None:
    running = Requests()
    a1, a2, b = Control(), Control(), Control()
    running.add("a", a1)
    running.add("a", a2)
    running.add("b", b)
    assert running.stop("a") == 2 and a1.stopped and a2.stopped and not b.stopped
    running.remove("a", a1)
    running.remove("a", a2)
    running.remove("b", b)
    assert len(running) == 0 and running.stop("a") == 0


def test_upload_is_stored_and_cited_under_the_name_given(fake_engine, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    doc = incoming / "星火 report (1).txt"
    doc.write_text("星火公司2025年的研发投入为8.8亿元。\n", encoding="utf-8")
    uploads = tmp_path / "uploads"
    messages: list[str] = []
    report = add_uploads(fake_engine, uploads, [doc], progress=messages.append)
    assert report.added == ["星火 report (1).txt"] and report.chunks_added == 1
    assert [p.name for p in uploads.iterdir()] == ["星火 report (1).txt"]  # staging folder removed
    assert (uploads / "星火 report (1).txt").read_bytes() == doc.read_bytes()
    assert "星火 report (1).txt" in [d.source for d in ui.document_records(fake_engine)]
    answer = fake_engine.ask("星火公司2025年的研发投入是多少？")
    assert [c.hit.chunk.source for c in answer.citations] == ["星火 report (1).txt"]
    assert messages  # progress reached the callback
    again = add_uploads(fake_engine, uploads, [doc])
    assert again.unchanged == ["星火 report (1).txt"] and again.chunks_added == 0


def test_two_uploads_with_one_name_are_both_kept(fake_engine, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "notes", tmp_path / "b" / "notes"
    first.write_text("甲公司的总部位于杭州。\n", encoding="utf-8")
    second.write_text("乙公司的总部位于成都。\n", encoding="utf-8")
    first, second = first.rename(first.with_suffix(".txt")), second.rename(second.with_suffix(".txt"))
    report = add_uploads(fake_engine, tmp_path / "uploads", [first, second])
    assert report.added == ["notes.txt", "notes-2.txt"]
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["notes-2.txt", "notes.txt"]


def test_upload_with_a_bad_file_changes_nothing(fake_engine, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "tool.exe"
    good.write_text("新的文档内容。\n", encoding="utf-8")
    bad.write_bytes(b"MZ\x90\x00" * 64)
    before = fake_engine.documents()
    current = (fake_engine.index_dir / "CURRENT").read_text()
    uploads = tmp_path / "uploads"
    with pytest.raises(UnsupportedFileError, match=r"tool\.exe: files of type '\.exe' are not supported"):
        add_uploads(fake_engine, uploads, [good, bad])
    assert fake_engine.documents() == before
    assert (fake_engine.index_dir / "CURRENT").read_text() == current
    assert list(uploads.iterdir()) == []


def test_upload_over_the_size_limit_is_refused_before_copying(fake_engine, tmp_path: Path) -> None:
    fake_engine.config = fake_engine.config.with_(max_file_bytes=10)
    big = tmp_path / "big.txt"
    big.write_text("一" * 20, encoding="utf-8")
    with pytest.raises(InputError, match="big.txt is 60 bytes, over the 10 bytes limit"):
        add_uploads(fake_engine, tmp_path / "uploads", [big])
    assert not (tmp_path / "uploads").exists()
    with pytest.raises(InputError, match="no file was chosen"):
        add_uploads(fake_engine, tmp_path / "uploads", [])


def test_progress_lines_move_the_bar_and_keep_it_for_plain_lines() -> None:
    calls: list[tuple] = []
    say = ui.progress_reporter(lambda amount, desc: calls.append((amount, desc)))
    for line in ("embedding 22 passages from 1 document(s)", "  sentences: 29/116 (25%, ~3 s left)",
                 "reading 2024/05/notes.txt", "building BM25 and the faiss vector store"):
        say(line)
    assert calls == [(0.0, "向量化 22 个段落（1 个文档） / embedding 22 passages from 1 document(s)"),
                     (0.25, "句子 / sentences: 29/116"),
                     (0.25, "reading 2024/05/notes.txt"),  # a path's digits do not move the bar
                     (0.25, "建立关键词与向量索引（faiss） / building BM25 and the faiss vector store")]


def test_build_app_exposes_the_api() -> None:
    demo = ui.build_app(CannedEngine(canned_answer()), Path("unused-uploads"))
    public = sorted(f.api_name for f in demo.fns.values() if f.api_visibility == "public")
    assert public == ["add_files", "ask", "documents"]


def test_parse_auth() -> None:
    assert ui.parse_auth("ann:s3cr:et") == ("ann", "s3cr:et")
    assert ui.parse_auth(None) is None and ui.parse_auth("") is None
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(InputError) as err:
            ui.parse_auth(bad)
        assert str(err.value) == "--auth / RAG_AUTH must look like user:password, with both parts non-empty."


def test_ui_helpers_load_no_index_or_ui_library() -> None:
    import subprocess
    import sys

    code = ("import sys, rag.ui_format, rag.messages, rag.uploads; "
            "print(sorted(m for m in ('faiss', 'gradio', 'torch', 'rag.indexer', 'rag.store') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_example_questions_come_with_the_bundled_corpus() -> None:
    assert ui.EXAMPLES == ("美图2023年的总收入是多少？", "美图的CFO是谁？", "What was Meitu's net profit in 2023?",
                           "美图总部在哪里？")  # the last one is not in the article: it shows a refusal


def test_bold_span_is_rendered_and_escaped() -> None:
    from rag.ui_format import bold_spans, reply_html

    html = reply_html("美图CFO**颜劲良**表示<b>x</b>[1]", 1, cited=[1])
    assert '<b class="rag-span">颜劲良</b>' in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html  # document text stays escaped
    assert bold_spans("no span here") == "no span here"
