"""What the engine did, in words for people: the CLI prints English, the UI Chinese / English.

Answers as plain text with their sources, the report of adding files, and indexing progress.

One home for each sentence, so the command line and the web page never tell different stories.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag.schema import Answer

if TYPE_CHECKING:  # only the type: importing the indexer would load numpy and jieba into pure callers (ui_format)
    from rag.indexer import AddReport

def answer_in_words(answer: Answer, bilingual: bool = False) -> str:
    """An answer as plain text, [n] markers kept, followed by its sources: file, character offsets, section
    title and the cited sentence. The UI's copy button copies it (bilingual labels)."""
    text = answer.text  # plain text: the factoid span is offsets (Answer.span_parts), never markup
    lines = [f"({answer.notice})", text] if answer.notice else [text]
    unsupported = "没有段落支持 / not supported by the passages" if bilingual else "not supported by the passages"
    lines += [f"  ({unsupported}: {s.text})" for s in answer.sentences if s.unsupported]
    if answer.citations:  # a refusal's one citation is its closest sentence (compose.refuse_with_closest)
        heading = (("最接近的一句（不是回答）/ Closest sentence (not an answer):" if bilingual
                    else "Closest sentence (not an answer):") if answer.refused
                   else ("来源 / Sources:" if bilingual else "Sources:"))
        lines += ["", heading]
        for c in answer.citations:
            chunk = c.hit.chunk
            where = f"{chunk.source}, {'字符 / characters' if bilingual else 'characters'} {c.sentence.start}-{c.sentence.end}"
            lines.append(f"[{c.n}] {where}" + (f" — {chunk.title}" if chunk.title else ""))
            lines.append(f"    “{c.sentence.text}”")
    return "\n".join(lines)


# (AddReport field, Chinese, English) for each outcome of adding a file
ADD_OUTCOMES = (("added", "已添加", "added"),
                ("replaced", "已更新（内容有变化）", "replaced (content changed)"),
                ("unchanged", "未变化，已跳过", "unchanged, skipped"))


def describe_add(report: AddReport, bilingual: bool = False) -> str:
    """One line per file and what happened to it, then the number of new passages."""
    lines = []
    for field, chinese, english in ADD_OUTCOMES:
        label = f"{chinese} / {english[0].upper()}{english[1:]}" if bilingual else english
        lines += [f"{label}: {name}" for name in getattr(report, field)]
    lines.append(f"{'新增段落 / New passages' if bilingual else 'new passages'}: {report.chunks_added}")
    return "\n".join(lines)


# Progress lines of indexing (rag/indexer.py), for the UI in its two languages. The indexer reports in
# English lines; they are matched here, and a line that matches nothing is shown as it is.
PROGRESS_LINES = (
    (re.compile(r"embedding (\d+) passages from (\d+) document\(s\)"),
     "向量化 {0} 个段落（{1} 个文档） / embedding {0} passages from {1} document(s)"),
    (re.compile(r"embedding (\d+) sentences for answer extraction"),
     "向量化 {0} 个句子（用于抽取答案） / embedding {0} sentences for answer extraction"),
    (re.compile(r"building BM25 and the (\w+) vector store"),
     "建立关键词与向量索引（{0}） / building BM25 and the {0} vector store"),
    (re.compile(r"resuming: (\d+) document\(s\) were embedded by an interrupted run"),
     "继续上次中断的索引：{0} 个文档已向量化 / resuming: {0} document(s) were embedded by an interrupted run"),
)
# "  sentences: 32/116 (20%, ~3 s left)": the only lines that carry how much is done
PROGRESS_COUNTER = re.compile(r"(passages|sentences): (\d+)/(\d+)(?= |$)")
COUNTED = {"passages": "段落", "sentences": "句子"}
READING_FILES = "读取文件 / reading files"


def progress_in_words(line: str) -> tuple[str, float | None]:
    """One indexing progress line -> (Chinese / English text, share of the stage done or None)."""
    line = line.strip()
    counter = PROGRESS_COUNTER.match(line)
    if counter:
        what, done, total = counter[1], int(counter[2]), int(counter[3])
        return f"{COUNTED[what]} / {what}: {done}/{total}", done / total if total else None
    for pattern, words in PROGRESS_LINES:
        m = pattern.fullmatch(line)
        if m:
            return words.format(*m.groups()), None
    return line, None
