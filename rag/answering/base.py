"""The Answerer protocol: question + retrieved hits -> Answer. Every answerer (the extractive default, the
one-sentence baseline, an LLM) implements this one method, and nothing outside rag/answering/ knows which
one runs. `Evidence` is what an answerer may read besides the hits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.answering.generation import Control
from rag.answering.question import Question, question_language
from rag.schema import Answer, Hit

if TYPE_CHECKING:  # types only: answering never loads a model or an index itself
    from rag.embedding import Embedder
    from rag.store import Index

REFUSAL = {
    "zh": "抱歉，文档中没有找到这个问题的答案。",
    "en": "Sorry, the documents do not contain the answer to this question.",
}


@dataclass(frozen=True)
class Evidence:
    """The index the hits came from (sentences, sentence vectors, BM25 statistics), the question's vector,
    and the embedder, for answerers that compare new text (a generated sentence) with passages."""

    index: Index
    query_vector: np.ndarray
    embedder: Embedder | None = None


class Answerer(Protocol):
    name: str  # recorded in Answer.answerer, chosen by Config.answerer / --answerer / RAG_ANSWERER

    def answer(self, question: Question, hits: Sequence[Hit], evidence: Evidence,
               on_token: Callable[[str], None] | None = None, control: Control | None = None) -> Answer:
        """The answer to `question` from `hits`, or a refusal. Answerers that generate text call
        `on_token` with each piece as it arrives, tell `control` their queue position, and stop early
        when `control.stop` is set; extractive ones may ignore both."""
        ...


def refuse(question: str, hits: Sequence[Hit] = (), answerer: str = "", kind: str = "") -> Answer:
    """The fixed "not in the documents" answer, in the question's language."""
    return Answer(question=question, text=REFUSAL[question_language(question)], refused=True, hits=tuple(hits),
                  answerer=answerer, kind=kind)
