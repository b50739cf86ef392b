"""Step 52: a question asked after another one searched as asked and after the earlier question, the two rankings
fused (`retrieval.retrieve_fused`, `Question.fused_with_earlier`, `Config.followup_fused` / `pronoun_fused`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rag.answering.question import Question
from rag.config import Config
from rag.errors import InputError
from rag.fusion import fuse_rankings
from rag.retrieval import retrieve, retrieve_fused
from rag.tokenize import tokenize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import choose_leaning as cl  # noqa: E402

PHONE = [{"role": "user", "content": "美图哪一年开始做手机？"}, {"role": "assistant", "content": "2013年"}]
SUMMARY = [{"role": "user", "content": "这篇文章的主要内容是什么？"}, {"role": "assistant", "content": "…"}]


def test_a_question_no_word_leans_is_fused_with_the_earlier_one():
    q = Question.make("后来是哪一年关掉的？", PHONE).fused_with_earlier()
    assert q.fused_after == "美图哪一年开始做手机？" and q.previous == "" and q.searched_after == ""
    assert q.search_queries == ("后来是哪一年关掉的？", "美图哪一年开始做手机？ 后来是哪一年关掉的？")
    assert q.retrieval_query == q.answer_query == "后来是哪一年关掉的？"  # the answer reads it as asked


def test_nothing_is_fused_without_an_earlier_question_after_a_summary_or_where_the_words_lean_already():
    assert Question.make("后来是哪一年关掉的？").fused_with_earlier().fused_after == ""
    assert Question.make("那它的净利润呢？", SUMMARY).fused_with_earlier().fused_after == ""
    short = Question.make("净利润呢？", PHONE).fused_with_earlier()  # short: leans the answer too, as before
    assert short.previous == "美图哪一年开始做手机？" and short.fused_after == ""
    pronoun = Question.make("它后来是哪一年关掉的？", PHONE, pronoun_search_only=True).fused_with_earlier()
    assert pronoun.searched_after == "美图哪一年开始做手机？" and pronoun.fused_after == ""
    assert pronoun.search_queries == ("美图哪一年开始做手机？ 它后来是哪一年关掉的？",)


def test_one_query_fused_is_the_plain_search(fake_engine):
    index = fake_engine.index
    question = "美图2023年的总收入是多少？"
    vector = fake_engine.embedder.embed_queries([question])[0]
    plain = retrieve(index, vector, tokenize(question), 5)
    assert retrieve_fused(index, [(vector, tokenize(question))], 5) == plain
    with pytest.raises(ValueError, match="at least one query"):
        retrieve_fused(index, [], 5)


def test_two_searches_fused_by_their_ranks_each_hit_scored_by_its_best_search(fake_engine):
    index = fake_engine.index
    a, b = "美图的CFO是谁？", "美图哪一年开始做手机？"
    va, vb = fake_engine.embedder.embed_queries([a, b])
    depth = len(index.chunks)
    hits_a = retrieve(index, va, tokenize(a), depth, depth=depth)
    hits_b = retrieve(index, vb, tokenize(b), depth, depth=depth)
    fused = retrieve_fused(index, [(va, tokenize(a)), (vb, tokenize(b))], 3, depth=depth)
    # the expected order: each search's own fused ranking, fused again (1/(60 + rank) summed)
    expected = fuse_rankings([[h.chunk.id for h in hits_a], [h.chunk.id for h in hits_b]])
    assert [h.chunk.id for h in fused] == [cid for cid, _ in expected[:3]]
    assert [h.score for h in fused] == pytest.approx([s for _, s in expected[:3]])
    for h in fused:
        vec = index.vectors[[c.id for c in index.chunks].index(h.chunk.id)]
        assert h.dense == pytest.approx(max(float(vec @ va), float(vec @ vb)), abs=1e-6)
        scores = [x.bm25 for x in (*hits_a, *hits_b) if x.chunk.id == h.chunk.id and x.bm25 is not None]
        assert h.bm25 == (max(scores) if scores else None)
    assert [h.rank for h in fused] == [1, 2, 3]


def test_the_engine_fuses_a_follow_up_and_reads_the_question_as_asked(fake_engine):
    question = "后来是哪一年关掉的？"
    embedded: list[list[str]] = []
    embed = fake_engine.embedder.embed_queries
    fake_engine.embedder = type("Spy", (), {"embed_queries": lambda self, texts: embedded.append(list(texts))
                                            or embed(texts), "name": "fake-hash"})()
    assert fake_engine.config.followup_fused is True  # on by default (step 52's rule took it)
    fake_engine.config = fake_engine.config.with_(followup_fused=False)
    assert fake_engine.ask(question, PHONE).retrieval_query == question  # off: searched alone
    fake_engine.config = fake_engine.config.with_(followup_fused=True)
    answer = fake_engine.ask(question, PHONE)
    assert answer.retrieval_query == f"{question} | 美图哪一年开始做手机？ {question}"
    assert embedded[-1] == [question, f"美图哪一年开始做手机？ {question}"]  # the question as asked is the answer's too
    va, vb = embed([question, f"美图哪一年开始做手机？ {question}"])
    index = fake_engine.index
    expected = retrieve_fused(index, [(va, tokenize(question)), (vb, tokenize(f"美图哪一年开始做手机？ {question}"))],
                              fake_engine.config.k)
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in expected]
    # an English question is searched as before (the fit was on Chinese conversations)
    english = fake_engine.ask("When was the phone business shut down?", PHONE)
    assert " | " not in english.retrieval_query


def test_a_pronouns_search_fused_instead_of_replaced(fake_engine):
    question = "它后来是哪一年关掉的？"
    fake_engine.config = fake_engine.config.with_(followup_fused=True)
    assert fake_engine.ask(question, PHONE).retrieval_query == f"美图哪一年开始做手机？ {question}"
    fake_engine.config = fake_engine.config.with_(pronoun_fused=True)
    assert fake_engine.ask(question, PHONE).retrieval_query == f"{question} | 美图哪一年开始做手机？ {question}"


def test_the_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_FOLLOWUP_FUSED", "1")
    monkeypatch.setenv("RAG_PRONOUN_FUSED", "no")
    config = Config.from_env()
    assert config.followup_fused is True and config.pronoun_fused is False
    monkeypatch.setenv("RAG_FOLLOWUP_FUSED", "sometimes")
    with pytest.raises(InputError, match="RAG_FOLLOWUP_FUSED='sometimes' is not a yes or no"):
        Config.from_env()


def row(kind, **right):
    out = {"kind": kind}
    for mode in ("pronoun", "fused", "fusedpron"):
        out[f"right_{mode}"] = right.get(mode, False)
        out[f"hit_{mode}"] = True
    return out


def test_choose_fused_follows_its_written_rule():
    # four kinds, one row each: fused rights the follow-up (+25 mean points) and costs nothing
    rows = [row("pronoun", pronoun=True, fused=True, fusedpron=False), row("followup", fused=True, fusedpron=True),
            row("same", pronoun=True, fused=True, fusedpron=True), row("other", pronoun=True, fused=True, fusedpron=True)]
    assert cl.mode_mean(rows, "pronoun") == 75.0 and cl.mode_mean(rows, "fused") == 100.0
    assert cl.fused_taken(rows, "fused")
    assert not cl.fused_taken(rows, "fusedpron")  # the pronoun kind loses 100 points
    # a gain that costs a kind more than 2 points is not taken, however large the mean
    rows[3]["right_fused"] = False
    assert cl.mode_mean(rows, "fused") == 75.0 and not cl.fused_taken(rows, "fused")
    assert np.isclose(cl.mode_rates(rows, "fused")["other"]["right"], 0.0)


@pytest.mark.integration
def test_on_the_article_a_fused_search_keeps_a_standalone_question_and_finds_a_follow_ups_passage(real_engine):
    """Where step 34's gain failed (README): on the bundled article every question is about Meitu, and a question that
    names what it asks (美图的CFO是谁？) after a revenue question was searched after it and lost its answer. Fused, its
    own ranking stays in the search and it keeps 颜劲良; a follow-up that leaves its subject out (`后来是哪一年关掉的？`
    after a phone question) finds the passage about the phone business first, which its words alone rank third."""
    revenue = [{"role": "user", "content": "美图2023年的总收入是多少？"}, {"role": "assistant", "content": "27亿元"}]
    saved = real_engine.config
    try:
        real_engine.config = saved.with_(followup_fused=True)
        answer = real_engine.ask("美图的CFO是谁？", revenue, answerer="extractive")
        assert answer.retrieval_query == "美图的CFO是谁？ | 美图2023年的总收入是多少？ 美图的CFO是谁？"
        assert "颜劲良" in answer.text
        question = "后来是哪一年关掉的？"
        alone = real_engine.ask(question, answerer="extractive")
        fused = real_engine.ask(question, PHONE, answerer="extractive")
        # the phone passage (最终在2018年关闭手机业务) first when fused; third when searched as asked
        assert "关闭手机业务" in fused.hits[0].chunk.text
        assert "关闭手机业务" not in alone.hits[0].chunk.text
    finally:
        real_engine.config = saved
