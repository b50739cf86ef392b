"""A web chat as the UI keeps it: finished turns, the turn in flight, the JSON the browser stores, and the
Markdown export. Pure data and functions: no Gradio, no engine.

A finished turn keeps what was shown (the reply's and the sources' HTML, made once by rag/ui_format.py
when the answer came) next to what the engine reads back as history (the question and the answer's
plain text), so a reloaded page shows the same chat, with `[n]` still pointing at their passages, without
asking anything again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from html import escape
from typing import Any

from rag.ui_format import ANSWERER_LABELS

STORE_VERSION = 1  # bump when the stored shape changes: older stored chats are then dropped, not misread


@dataclass(frozen=True)
class ChatTurn:
    """One question and what came back: an answer (number > 0) or an error message (number == 0)."""

    question: str
    answer: str = ""  # the answer's plain text with [n], what follow-ups read; empty for an error
    reply_html: str = ""  # the chat message as shown (escaped, [n] linked to this answer's sources)
    sources_html: str = ""  # this answer's part of the sources panel
    words: str = ""  # the answer with its sources in plain text (rag.messages.answer_in_words)
    answerer: str = ""  # which answerer wrote it (Answer.answerer): the model, or the extractive answerer (a fallback or hand-over)
    notice: str = ""
    number: int = 0  # the answer's number in this chat (its citation anchors are cite-<number>-<n>)

    @property
    def failed(self) -> bool:
        return self.number == 0


@dataclass(frozen=True)
class Conversation:
    """One browser's chat. `passages_html` is the retrieved-passages table of the latest answer."""

    turns: tuple[ChatTurn, ...] = ()
    passages_html: str = ""

    @property
    def answers(self) -> int:
        return max((t.number for t in self.turns), default=0)

    def history(self) -> list[dict[str, str]]:
        """The turns the engine reads for follow-ups (errors left out)."""
        out: list[dict[str, str]] = []
        for t in self.turns:
            if not t.failed:
                out += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer}]
        return out

    def messages(self) -> list[dict[str, str]]:
        """The chat messages as the Chatbot shows them (the user's words escaped)."""
        out: list[dict[str, str]] = []
        for t in self.turns:
            if t.question.strip():
                out.append({"role": "user", "content": question_html(t.question)})
            out.append({"role": "assistant", "content": t.reply_html})
        return out

    def sources(self) -> list[str]:
        return [t.sources_html for t in self.turns if not t.failed]

    def add(self, turn: ChatTurn, passages_html: str | None = None) -> Conversation:
        return Conversation(self.turns + (turn,),
                            self.passages_html if passages_html is None else passages_html)

    def to_json(self) -> dict[str, Any]:
        """What the browser keeps (gr.BrowserState): plain JSON."""
        return {"version": STORE_VERSION, "turns": [asdict(t) for t in self.turns],
                "passages_html": self.passages_html}

    @classmethod
    def from_json(cls, data: Any) -> Conversation:
        """The stored chat, or an empty one when nothing (or something of another shape) is stored."""
        if not isinstance(data, dict) or data.get("version") != STORE_VERSION:
            return cls()
        names = {f.name: f.type for f in fields(ChatTurn)}
        turns = []
        for raw in data.get("turns") or ():
            if not isinstance(raw, dict):
                return cls()
            values = {k: v for k, v in raw.items() if k in names}
            if not all(isinstance(v, int if names[k] == "int" else str) for k, v in values.items()):
                return cls()
            turns.append(ChatTurn(**values))
        passages = data.get("passages_html")
        return cls(tuple(turns), passages if isinstance(passages, str) else "")


def question_html(question: str) -> str:
    return escape(question.strip()).replace("\n", "<br>")


@dataclass(frozen=True)
class Turn:
    """The turn in flight, as one object: every step of asking yields one, and the UI shows it.

    phase: "searching" (retrieval), "queued" (waiting for the model, `ahead` before it), "writing" (tokens
    arriving in `draft`), "answer" (the checked answer appearing, `shown` of its HTML), "done" or "failed"
    (`conversation` then holds the finished turn).
    """

    conversation: Conversation  # the chat before this turn, or with it once done / failed
    question: str
    phase: str = "searching"
    ahead: int = 0
    draft: str = ""
    shown: str = ""  # the reply's HTML while the finished answer appears
    finished: ChatTurn | None = None
    changed_sources: bool = False  # the sources panel needs redrawing (the answer's part just arrived)

    def step(self, **changes: Any) -> Turn:
        return replace(self, **changes)


def status_text(turn: Turn) -> str:
    """What the reply bubble says before the answer: searching, the queue position, or the draft."""
    if turn.phase == "queued":
        return f"排队中，前面还有 {turn.ahead} 个问题 / queued: {turn.ahead} ahead"
    if turn.phase == "writing" and not turn.draft:
        return "生成中… / Writing…"
    if turn.phase == "writing":
        return escape(turn.draft).replace("\n", "<br>") + " …"
    return "检索中… / Searching…"


def conversation_markdown(conversation: Conversation, title: str = "对话 / Conversation") -> str:
    """The chat as Markdown: each question, its answer with the answerer and any notice, and the answer's
    sources (file, characters, cited sentence) as rag.messages.answer_in_words gives them."""
    lines = [f"# {title}", ""]
    for i, t in enumerate(conversation.turns, 1):
        heading = " ".join(t.question.split()) or "(空问题 / empty question)"  # one line, whatever was typed
        lines += [f"## {i}. {heading}", ""]
        if t.failed:
            lines += [f"> {t.notice or 'error'}", ""]
            continue
        lines += [f"*回答者 / Answered by: {ANSWERER_LABELS.get(t.answerer, t.answerer) or 'unknown'}*", ""]
        body, _, sources = t.words.partition("\n\n")
        lines += [body, ""]
        if sources:
            lines += ["```text", sources, "```", ""]
    return "\n".join(lines).rstrip() + "\n"

