"""A question prepared for answering: its language, what shape of answer it wants, and the earlier turn
it leans on.

Follow-ups are resolved before retrieval: when a question leans on the conversation (a pronoun such as
他/它/其/this/he, or it is very short), the previous user question is put in front of it for retrieval, so
"他对毛利率说了什么？" after "美图的CFO是谁？" searches for both. The answer still answers the question as asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.errors import InputError
from rag.tokenize import tokenize

# Words that lean on an earlier turn: personal pronouns, and 这/那/此 used on their own or before a
# measure word (这个, 那家, 此事), but not 这段文字 or 那时候 style phrases that name what they mean.
FOLLOWUP = re.compile(r"他|她|它|其|该|上述|前者|后者|[这那此](?:[个些家项款种位次样]|$|[？?，,呢])|"
                      r"\b(he|she|it|its|his|her|they|their|them|this|that|these|those)\b", re.I)
# A question this short ("净利润呢？") is read as a follow-up even without a pronoun.
SHORT_FOLLOWUP_CHARS = 6


def question_language(question: str) -> str:
    """"zh" when the question is mostly Chinese characters, else "en"."""
    cjk = sum(1 for c in question if "\u3400" <= c <= "\u9fff")
    latin = sum(1 for c in question if c.isascii() and c.isalpha())
    return "zh" if cjk * 3 >= latin or cjk >= 4 else "en"


def check_history(history: object) -> list[dict]:
    """The conversation as a list of {"role", "content"} turns; raises InputError naming what is wrong."""
    if history is None:
        return []
    if not (isinstance(history, list | tuple) and all(
            isinstance(t, dict) and isinstance(t.get("content", ""), str) for t in history)):
        raise InputError("history must be a list of {\"role\": \"user\"|\"assistant\", \"content\": text} turns.")
    return list(history)


def followup_context(question: str, history: Sequence[dict] | None) -> str:
    """The earlier user question that `question` leans on, or "" when it stands on its own."""
    previous = [t.get("content", "") for t in check_history(history) if t.get("role") == "user" and t.get("content")]
    if previous and (FOLLOWUP.search(question) or len(question) <= SHORT_FOLLOWUP_CHARS):
        return previous[-1]
    return ""


@dataclass(frozen=True)
class Question:
    """What every answerer receives: the question as asked, and the conversation it was asked in."""

    text: str
    previous: str = ""  # the earlier user question this one leans on ("" when it stands alone)
    history: tuple[dict, ...] = ()  # the whole conversation, oldest first (the LLM answerer sends it)

    @classmethod
    def make(cls, question: str, history: Sequence[dict] | None = None) -> Question:
        turns = check_history(history)
        return cls(question, followup_context(question, turns), tuple(turns))

    @property
    def retrieval_query(self) -> str:
        """What retrieval searches for: the question, preceded by the earlier question it leans on."""
        return f"{self.previous} {self.text}" if self.previous else self.text

    @property
    def language(self) -> str:
        return question_language(self.text)

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(tokenize(self.text))

    @property
    def previous_tokens(self) -> tuple[str, ...]:
        """Words of the earlier question that the question itself does not use."""
        own = set(self.tokens)
        return tuple(t for t in tokenize(self.previous) if t not in own) if self.previous else ()
