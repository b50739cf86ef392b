"""What the engine did, in words for people: the CLI prints English, the UI Chinese / English.

One home for each sentence, so the command line and the web page never tell different stories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the type: importing the indexer would load FAISS into pure callers (ui_format)
    from rag.indexer import AddReport

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
