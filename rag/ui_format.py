"""Answers, passages and file names -> what the Gradio UI shows. Pure functions, no Gradio import.

Document text is data, never markup: a passage holding `<script>` or `<img onerror=...>` must show
literally. So every string that comes from a document, a file name or the user goes through
`html.escape` on its own, and only the tags written here are put around the escaped pieces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from html import escape

from rag.messages import answer_in_words
from rag.schema import CITATION_MARKER, Answer, Chunk, Citation, DocumentRecord, Hit, Sentence

BLANK_LINES = re.compile(r"\n[ \t\u3000]*(?:\n[ \t\u3000]*)+")
NO_SCORE = "—"


def cite_anchor(answer_no: int, n: int) -> str:
    """The element id of citation [n] of the answer_no-th answer; unique across the conversation."""
    return f"cite-{answer_no}-{n}"


def answer_class(answer_no: int) -> str:
    """The class that ties the answer_no-th reply to its sources."""
    return f"rag-answer-{answer_no}"


def reply_html(text: str, answer_no: int, cited: Sequence[int] = (), notice: str = "") -> str:
    """A chat reply: escaped text whose [n] markers link to the cited passages in the sources panel.

    The reply is wrapped in a span classed `rag-answer-<answer_no>`, so the page can find the answer's
    sources (and their plain text, for the copy button) from any message, even one without markers.
    """
    parts: list[str] = [f'<span class="rag-reply {answer_class(answer_no)}">']
    if notice:
        parts.append(f'<span class="rag-notice">（提示 / Note: {escape(notice)}）</span><br>')
    last = 0
    for m in CITATION_MARKER.finditer(text):
        parts.append(_escape_lines(text[last:m.start()]))
        n = int(m.group(1))
        if n in cited:
            parts.append(f'<a class="rag-cite" href="#{cite_anchor(answer_no, n)}" '
                         f'title="查看来源 / show source [{n}]">[{n}]</a>')
        else:
            parts.append(escape(m.group(0)))
        last = m.end()
    parts.append(_escape_lines(text[last:]))
    parts.append("</span>")
    return bold_spans("".join(parts))


def answer_html(answer: Answer, answer_no: int) -> str:
    """The final chat reply, followed by which answerer wrote it. A generated answer's unsupported
    sentences carry a visible mark."""
    cited = [c.n for c in answer.citations]
    if not any(s.unsupported for s in answer.sentences):
        return reply_html(answer.text, answer_no, cited, answer.notice) + answered_by_html(answer.answerer)
    from rag.answering.support import with_markers

    parts = [reply_html("", answer_no, cited, answer.notice)]
    for s in answer.sentences:
        if s.unsupported:
            parts.append('<span class="rag-unsupported" title="没有段落支持这句话 / No passage supports this '
                         f'sentence">⚠ {_escape_lines(s.text)}</span>')
        else:
            parts.append(reply_html(with_markers(s), answer_no, cited))
    return "".join(parts) + answered_by_html(answer.answerer)


ANSWERER_LABELS = {"extractive": "抽取式 / extractive", "sentence": "单句基线 / one-sentence baseline",
                   "llm": "大模型 / LLM"}


def answered_by_html(answerer: str) -> str:
    """A small line under an answer naming the answerer that wrote it (the model, or the extractive
    fallback); `data-answerer` carries the plain name for scripts (the load test counts them)."""
    if not answerer:
        return ""
    label = ANSWERER_LABELS.get(answerer, answerer)
    return (f'<br><span class="rag-by" data-answerer="{escape(answerer)}">'
            f"回答者 / answered by: {escape(label)}</span>")


BOLD = re.compile(r"\*\*(.+?)\*\*")


def bold_spans(html: str) -> str:
    """**span** (the exact answer of a factoid, marked by the answerer) -> <b class="rag-span">span</b>.
    Runs on already-escaped HTML, so only the bold tag itself is added."""
    return BOLD.sub(r'<b class="rag-span">\1</b>', html)


def _escape_lines(text: str) -> str:
    return escape(text).replace("\n", "<br>")


def stream_prefixes(text: str, step: int = 3) -> Iterator[str]:
    """Growing prefixes of text for streaming, `step` characters at a time; a [n] marker is never split."""
    pieces: list[str] = []
    for i, part in enumerate(CITATION_MARKER.split(text)):  # text, number, text, number, ..., text
        if i % 2:
            pieces.append(f"[{part}]")
        else:
            pieces.extend(part[j:j + step] for j in range(0, len(part), step))
    shown = ""
    for piece in pieces:
        shown += piece
        yield shown
    if not pieces:
        yield ""


def _passage_text(text: str) -> str:
    """Escaped passage text for display; runs of blank lines shown as one line break."""
    return escape(BLANK_LINES.sub("\n", text))


def passage_with_mark(chunk: Chunk, sentence: Sentence) -> str:
    """The escaped passage with the supporting sentence wrapped in <mark>.

    Both carry offsets into the same document text, so the sentence is cut out by position; a sentence
    that only overlaps the passage is marked where it overlaps. Should the offsets ever disagree, the
    sentence is found by its text, or shown after the passage.
    """
    text = chunk.text
    start, end = max(sentence.start, chunk.start) - chunk.start, min(sentence.end, chunk.end) - chunk.start
    if sentence.doc_id != chunk.doc_id or start >= end:
        found = text.find(sentence.text) if sentence.text else -1
        if found < 0:
            return f"{_passage_text(text)}\n<mark>{escape(sentence.text)}</mark>"
        start, end = found, found + len(sentence.text)
    return (f"{_passage_text(text[:start])}<mark>{_passage_text(text[start:end])}</mark>"
            f"{_passage_text(text[end:])}")


def _source_card(citation: Citation, answer_no: int) -> str:
    chunk, sentence = citation.hit.chunk, citation.sentence
    title = f'<span class="rag-title">章节 / Section: {escape(chunk.title)}</span> · ' if chunk.title else ""
    return (f'<div class="rag-source" id="{cite_anchor(answer_no, citation.n)}">'
            f'<div class="rag-source-head"><span class="rag-n">[{citation.n}]</span> '
            f'<span class="rag-file">{escape(chunk.source)}</span></div>'
            f'<div class="rag-source-meta">{title}'
            f'<span class="rag-pos">字符 / chars {sentence.start}–{sentence.end}'
            f'（段落 / passage {chunk.start}–{chunk.end}）</span></div>'
            f'<div class="rag-passage">{passage_with_mark(chunk, sentence)}</div></div>')


NO_SOURCES_YET = '<div class="rag-empty">提问后，这里显示答案引用的段落。<br>Cited passages appear here.</div>'
NOTHING_CITED = ('<div class="rag-empty">文档中没有找到答案，因此没有引用来源。<br>'
                 'No answer was found in the documents, so nothing is cited.</div>')

# a refusal that quotes the sentence its withheld answer stood on (rag/answering/compose.refuse_with_closest)
CLOSEST_ONLY = ('<div class="rag-empty">文档中没有找到答案；下面是最接近的一句，不是回答。<br>'
                'No answer was found in the documents; below is the closest sentence, not an answer.</div>')


def answer_sources_html(answer: Answer, answer_no: int) -> str:
    """One answer's part of the sources panel: its cited passages with the sentences highlighted (or why
    nothing is cited; for a refusal quoting its closest sentence, that sentence headed "not an answer"), and,
    hidden, the answer as plain text with its sources for the copy button."""
    head = f'<div class="rag-answer-head">回答 {answer_no} 的来源 / Sources of answer {answer_no}</div>'
    cards = (NOTHING_CITED if not answer.citations
             else (CLOSEST_ONLY if answer.refused else "") + "".join(_source_card(c, answer_no) for c in answer.citations))
    plain = f'<pre class="rag-copy-text" hidden>{escape(answer_in_words(answer, bilingual=True))}</pre>'
    return (f'<div class="rag-answer-sources {answer_class(answer_no)}" data-answer="{answer_no}">'
            f"{head}{cards}{plain}</div>")


def sources_html(answer_parts: Sequence[str] = ()) -> str:
    """The sources panel: every answer's part (from answer_sources_html), oldest first. The page shows the
    latest and, when a [n] marker of an older answer is clicked, that answer's part instead."""
    if not answer_parts:
        return NO_SOURCES_YET
    return '<div class="rag-sources-all">' + "".join(answer_parts) + "</div>"


def _score(value: float | None, digits: int) -> str:
    return NO_SCORE if value is None else f"{value:.{digits}f}"


def hits_html(answer: Answer | None) -> str:
    """Every retrieved passage with its dense (cosine), BM25 and fused (reciprocal rank fusion) scores.

    Above the table: the query retrieval actually ran, which for a follow-up includes the earlier question.
    """
    if answer is None:
        return '<div class="rag-empty">还没有检索结果。<br>No passages retrieved yet.</div>'
    took = answer.timings_ms.get("total")
    query = (f'<div class="rag-query">检索查询 / Search query: <q>{escape(answer.retrieval_query or answer.question)}'
             f'</q>{f" · 用时 / took {took:.0f} ms" if took is not None else ""}</div>')
    if not answer.hits:
        return query + '<div class="rag-empty">没有检索到段落 / No passages were retrieved.</div>'
    cited: dict[str, list[int]] = {}
    for c in answer.citations:
        cited.setdefault(c.hit.chunk.id, []).append(c.n)
    rows = [_hit_row(h, cited.get(h.chunk.id, [])) for h in answer.hits]
    caption = ("" if answer.citations and not answer.refused else
               "<caption>未采用：这些段落不足以回答问题 / Not used: these passages do not answer the question"
               "</caption>")
    return (query + '<table class="rag-hits">' + caption + '<thead><tr><th>#</th><th>来源 / Source</th>'
            "<th>位置 / Chars</th><th>融合 / Fused</th><th>向量 / Dense</th><th>BM25</th>"
            "<th>段落 / Passage</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _hit_row(hit: Hit, cited_as: list[int]) -> str:
    c = hit.chunk
    marks = " ".join(f"[{n}]" for n in cited_as)
    title = f'<div class="rag-title">{escape(c.title)}</div>' if c.title else ""
    return (f"<tr><td>{hit.rank}{'<br><b>' + marks + '</b>' if marks else ''}</td>"
            f"<td>{escape(c.source)}{title}</td><td>{c.start}–{c.end}</td>"
            f"<td>{_score(hit.score, 4)}</td><td>{_score(hit.dense, 3)}</td><td>{_score(hit.bm25, 2)}</td>"
            f'<td class="rag-passage">{_passage_text(c.text)}</td></tr>')


def document_rows(documents: Sequence[DocumentRecord]) -> list[list]:
    """Rows for the documents table: file name, passages (chunks), characters."""
    return [[d.source, d.chunks, d.chars] for d in documents]
