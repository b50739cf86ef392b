"""Answerers: question + hits -> Answer (see base.Answerer). `make_answerer` builds the one Config names;
each implementation is imported only when chosen, so an optional one never costs the default anything.

Shared stages every answerer plugs into: text (scripts, sentence and clause ends, type patterns, n-grams,
markers), decide (every refusal rule and its reason), compose (the only place an Answer is built)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from rag.config import ANSWERERS
from rag.errors import InputError

if TYPE_CHECKING:
    from rag.answering.base import Answerer
    from rag.answering.generation import Generator
    from rag.config import Config

# "auto" and "model": a language model reads the best sentences and its sentences are checked (model.py); the
# bundled GGUF in-process, or the endpoint RAG_LLM_BASE_URL names when it is set.
_GENERATORS: dict[tuple, Generator] = {}  # one model instance per process, whichever answerers use it
__all__ = ["ANSWERERS", "make_answerer", "make_generator"]


def make_answerer(config: Config, name: str | None = None) -> Answerer:
    name = name or config.answerer
    if name == "sentence":
        from rag.answering.sentence import RefusalPolicy, SentenceAnswerer

        return SentenceAnswerer(config.max_answer_chars, RefusalPolicy(
            config.refuse_min_coverage, config.refuse_min_cosine, config.refuse_min_z))
    if name == "extractive":
        return extractive_answerer(config, check_anchors=config.extractive_anchors)
    if name == "llm":
        from rag.answering.llm import LlmAnswerer

        return LlmAnswerer(config, fallback=make_answerer(config, "extractive"))
    if name in ("auto", "model"):
        from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer

        policy = AUTO_POLICY if name == "auto" else DEFAULT_POLICY
        if config.fused_excerpts:  # README step 53
            policy = replace(policy, fused_excerpts=True)
        if config.extractive_anchors:  # README step 55: the fallback when the model gives no answer
            policy = replace(policy, fallback_anchors=True)
        # its fallback's: the anchors are checked through the policy (fallback_anchors), not by the answerer itself
        extractive = extractive_answerer(config, check_anchors=False)
        return ModelAnswerer(make_generator(config), extractive, policy, name)
    raise InputError(f"answerer={name!r} is unknown; choose one of {', '.join(ANSWERERS)}.")


def extractive_answerer(config: Config, check_anchors: bool):  # noqa: ANN201 - an ExtractiveAnswerer, imported here
    """The extractive answerer as `config` sets it up: alone ("extractive") or as "auto"'s and "model"'s fallback,
    which differ only in whether it checks the question's anchors itself."""
    from rag.answering.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(config.max_answer_chars, check_anchors=check_anchors,
                              meaning_cut=own_meaning_cut(config), claim_cut=own_claim_cut(config),
                              latin_scale=config.latin_answer_scale)


def own_meaning_cut(config: Config):  # noqa: ANN201 - a MeaningCut or None, imported only when asked for
    """The meaning cut the extractive answerer's anchor check adds (README step 61): routes.json's, where
    Config.extractive_anchors and Config.extractive_meaning are both on; else None."""
    if not (config.extractive_anchors and config.extractive_meaning):
        return None
    from rag.answering.own_meaning import load_own_meaning_cut

    return load_own_meaning_cut()


def own_claim_cut(config: Config) -> float | None:
    """The claim cut the extractive answerer's anchor check adds (README step 72): routes.json's, where
    Config.extractive_anchors and Config.extractive_claim are both on; else None."""
    if not (config.extractive_anchors and config.extractive_claim):
        return None
    from rag.answering.own_meaning import load_own_claim_cut

    return load_own_claim_cut()


def make_generator(config: Config) -> Generator:
    """The process's one language model behind its queue: the endpoint RAG_LLM_BASE_URL names, else the
    bundled GGUF. Built once per process and setting, whichever answerers use it."""
    if config.llm_base_url:
        key: tuple = ("endpoint", config.llm_base_url, config.llm_model, config.llm_timeout_s)
    else:
        key = ("gguf", config.llm_model_path, config.llm_threads, config.llm_reply_cache, config.llm_timeout_s,
               config.llm_reply_file)
    key += (config.llm_queue_s,)
    if key not in _GENERATORS:
        from rag.serving import PRIOR_SERVICE_S, ModelQueue

        if config.llm_base_url:
            from rag.answering.llm import endpoint_generator

            inner: Generator = endpoint_generator(config)
        else:
            from pathlib import Path

            from rag.answering.bundled import LlamaCppGenerator
            from rag.gguf_build import QWEN_1_5B

            path = Path(config.llm_model_path)
            name = QWEN_1_5B.name if path.name == QWEN_1_5B.file_name else path.stem
            inner = LlamaCppGenerator(path, name, config.llm_threads, config.llm_timeout_s,
                                      reply_cache=config.llm_reply_cache,
                                      reply_file=Path(config.llm_reply_file) if config.llm_reply_file else None)
        # one fair queue in front of the one model (rag/serving.py): arrival order, places told, RAG_LLM_QUEUE_S
        _GENERATORS[key] = ModelQueue(inner, config.llm_queue_s,
                                      prior_s=None if config.llm_base_url else PRIOR_SERVICE_S)
    return _GENERATORS[key]
