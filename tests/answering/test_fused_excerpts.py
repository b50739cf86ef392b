"""Step 53: a question whose search is fused with its earlier question's (step 52) gets its model excerpts chosen as
for the question read after that earlier one (`ModelAnswerer.read_after_earlier`, `Policy.fused_excerpts`,
`Config.fused_excerpts`); the answer's own checks still read the question as asked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answering import make_answerer
from rag.answering.base import Evidence
from rag.answering.context import select_excerpts
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.generation import Control
from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer
from rag.answering.question import Question
from rag.config import Config
from rag.retrieval import retrieve_fused
from rag.tokenize import tokenize
from tests.answering.test_model_answerer import Scripted

PHONE = [{"role": "user", "content": "美图哪一年开始做手机？"}, {"role": "assistant", "content": "2013年"}]
CLOSED = "最终在2018年关闭手机业务"


def fused(engine, question="后来是哪一年关掉的？", history=PHONE):
    q = Question.make(question, history).fused_with_earlier()
    texts = [*q.search_queries]
    vectors = engine.embedder.embed_queries([*texts, q.answer_query])
    hits = retrieve_fused(engine.index, list(vectors[:-1]), [tokenize(t) for t in texts], 5)
    return q, hits, Evidence(engine.index, vectors[-1], engine.embedder)


def excerpts_shown(engine, policy, q, hits, evidence) -> str:
    generator = Scripted("2018年[1]。")
    ModelAnswerer(generator, ExtractiveAnswerer(), policy, "model").run(q, hits, evidence, Control())
    return generator.messages[-1][-1]["content"]


def shown_texts(analysis, policy) -> list[str]:
    order = analysis.excerpt_order or analysis.order
    return [" ".join(e.hit.chunk.text.split()) for e in select_excerpts(analysis.candidates, order, policy.top_sentences,
                                                             policy.max_excerpt_chars, fill=policy.excerpt_fill)]


def test_a_fused_follow_ups_excerpts_are_chosen_with_its_earlier_question(fake_engine):
    q, hits, evidence = fused(fake_engine)
    on = replace(DEFAULT_POLICY, fused_excerpts=True)
    answerer = ModelAnswerer(Scripted("2018年[1]。"), ExtractiveAnswerer(), on, "model")
    leaned = answerer.read_after_earlier(q, hits, evidence)
    own = ExtractiveAnswerer().analyse(q, hits, evidence)
    assert leaned is not None and shown_texts(leaned, on) != shown_texts(own, on)
    # the prompt shows the excerpts of the question read after the earlier one; without the setting, its own
    prompt_on = excerpts_shown(fake_engine, on, q, hits, evidence)
    prompt_off = excerpts_shown(fake_engine, DEFAULT_POLICY, q, hits, evidence)
    assert all(t in prompt_on for t in shown_texts(leaned, on))
    assert all(t in prompt_off for t in shown_texts(own, on))
    # the answer's own analysis (its checks, the hand-over) still reads the question as asked
    assert answerer.run(q, hits, evidence, Control()).analysis.excerpt_order == own.excerpt_order


def test_nothing_is_read_again_for_a_question_not_fused_or_without_an_embedder(fake_engine):
    q, hits, evidence = fused(fake_engine)
    answerer = ModelAnswerer(Scripted("x"), ExtractiveAnswerer(), replace(DEFAULT_POLICY, fused_excerpts=True), "model")
    assert answerer.read_after_earlier(replace(q, fused_after=""), hits, evidence) is None
    assert answerer.read_after_earlier(q, hits, replace(evidence, embedder=None)) is None
    alone = Question.make("后来是哪一年关掉的？")  # no earlier question: the excerpts are the question's own
    assert excerpts_shown(fake_engine, replace(DEFAULT_POLICY, fused_excerpts=True), alone, hits, evidence) == \
        excerpts_shown(fake_engine, DEFAULT_POLICY, alone, hits, evidence)


def test_the_setting_reaches_the_model_answerers(monkeypatch):
    assert make_answerer(Config(), "auto").policy.fused_excerpts is AUTO_POLICY.fused_excerpts
    monkeypatch.setenv("RAG_FUSED_EXCERPTS", "1")
    config = Config.from_env()
    assert config.fused_excerpts is True
    assert make_answerer(config, "auto").policy.fused_excerpts is True
    assert make_answerer(config, "model").policy.fused_excerpts is True


@pytest.mark.integration
def test_on_the_article_the_phone_follow_up_is_shown_the_phone_sentence(real_engine):
    """`后来是哪一年关掉的？` after `美图哪一年开始做手机？`, fused (step 52): read as asked, its excerpts are the 美妆 and
    domain-name sentences (the model answered `2017年` from them); read after its earlier question, the sentence that
    says the phone business closed in 2018. No model call (a scripted generator records the prompt)."""
    q, hits, evidence = fused(real_engine)
    assert CLOSED not in excerpts_shown(real_engine, AUTO_POLICY, q, hits, evidence)
    assert CLOSED in excerpts_shown(real_engine, replace(AUTO_POLICY, fused_excerpts=True), q, hits, evidence)
