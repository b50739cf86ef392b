"""Answerers: question + hits -> Answer (see base.Answerer). `make_answerer` builds the one Config names;
each implementation is imported only when chosen, so an optional one never costs the default anything.

Shared stages every answerer plugs into: text (scripts, sentence and clause ends, type patterns, n-grams,
markers), decide (every refusal rule and its reason), compose (the only place an Answer is built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.config import ANSWERERS
from rag.errors import InputError

if TYPE_CHECKING:
    from rag.answering.base import Answerer
    from rag.config import Config

__all__ = ["ANSWERERS", "make_answerer"]


def make_answerer(config: Config, name: str | None = None) -> Answerer:
    name = name or config.answerer
    if name == "sentence":
        from rag.answering.sentence import RefusalPolicy, SentenceAnswerer

        return SentenceAnswerer(config.max_answer_chars, RefusalPolicy(
            config.refuse_min_coverage, config.refuse_min_cosine, config.refuse_min_z))
    if name == "extractive":
        from rag.answering.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(config.max_answer_chars)
    if name == "llm":
        from rag.answering.llm import LlmAnswerer

        return LlmAnswerer(config, fallback=make_answerer(config, "extractive"))
    raise InputError(f"answerer={name!r} is unknown; choose one of {', '.join(ANSWERERS)}.")
