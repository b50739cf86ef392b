"""The Answerer protocol: question + retrieved hits -> Answer. Every answerer (the extractive default, the
one-sentence baseline, an LLM) implements this one method, and nothing outside rag/answering/ knows which
one runs. `Evidence` is what an answerer may read besides the hits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.answering.compose import REFUSAL, refuse
from rag.answering.generation import Control
from rag.answering.question import Question
from rag.schema import Answer, Hit

if TYPE_CHECKING:  # types only: answering never loads a model or an index itself
    from rag.embedding import Embedder
    from rag.store import Index

__all__ = ["REFUSAL", "Answerer", "Evidence", "refuse"]  # REFUSAL and refuse live in compose.py


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
        `on_token` (or `control.on_token`) with each piece as it arrives, report their place in the serving
        queue to `control.on_queue` and stop early when `control.stop` is set; extractive ones ignore both."""
        ...

