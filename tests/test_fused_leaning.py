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


def brief(hits):
    return [(h.chunk.start, round(h.score, 6), round(h.dense, 4), None if h.bm25 is None else round(h.bm25, 4))
            for h in hits]


def test_one_search_is_the_plain_search_as_it_was(fake_engine):
    """The hits as `retrieve` gave them before step 52 split it (checked against a6a8121's retrieve in every mode when
    these values were written): one search through `retrieve_fused` gives the same."""
    index = fake_engine.index
    question = "美图的CFO是谁？"
    vector = fake_engine.embedder.embed_queries([question])[0]
    plain = retrieve(index, vector, tokenize(question), 5)
    assert brief(plain) == [(1381, 0.032522, 0.1358, 3.0462), (2235, 0.030579, 0.063, 0.117),
                            (285, 0.030478, 0.1484, 0.1046), (3172, 0.030303, 0.0859, 0.1127),
                            (444, 0.02879, 0.0477, 0.108)]
    assert retrieve_fused(index, [vector], [tokenize(question)], 5) == plain
    with pytest.raises(ValueError, match="one token list per query vector and at least one search; got 0 vectors"):
        retrieve_fused(index, [], [], 5)
    with pytest.raises(ValueError, match="got 1 vectors and 2 token lists"):
        retrieve_fused(index, [vector], [tokenize(question), []], 5)


def test_two_searches_fused_by_their_ranks_each_hit_scored_by_its_best_search(fake_engine):
    index = fake_engine.index
    a, b = "美图的CFO是谁？", "美图哪一年开始做手机？"
    va, vb = fake_engine.embedder.embed_queries([a, b])
    fused = retrieve_fused(index, [va, vb], [tokenize(a), tokenize(b)], 5)
    # each search alone ranks first the chunk at 1381 (a) and 2634 (b); both rank 285, 3172 and 444 in their top 5,
    # so those come first fused, then the two searches' own firsts
    assert brief(fused) == [(285, 0.032002, 0.3003, 3.2237), (3172, 0.031498, 0.2862, 1.9695),
                            (2634, 0.031099, 0.3372, 10.5738), (444, 0.03101, 0.1905, 3.384),
                            (1381, 0.030282, 0.1358, 3.0462)]
    hits_a = {h.chunk.id: h for h in retrieve(index, va, tokenize(a), len(index.chunks), depth=len(index.chunks))}
    hits_b = {h.chunk.id: h for h in retrieve(index, vb, tokenize(b), len(index.chunks), depth=len(index.chunks))}
    for h in fused:  # the best cosine and the best BM25 score of the two searches
        assert h.dense == pytest.approx(max(hits_a[h.chunk.id].dense, hits_b[h.chunk.id].dense), abs=1e-6)
        scores = [x.bm25 for x in (hits_a.get(h.chunk.id), hits_b.get(h.chunk.id)) if x is not None and x.bm25 is not None]
        assert h.bm25 == (max(scores) if scores else None)
    assert [h.rank for h in fused] == [1, 2, 3, 4, 5]


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
    expected = retrieve_fused(index, [va, vb], [tokenize(question), tokenize(f"美图哪一年开始做手机？ {question}")],
                              fake_engine.config.k)
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in expected]
    # an English question is searched as before (the fit was on Chinese conversations)
    english = fake_engine.ask("When was the phone business shut down?", PHONE)
    assert english.retrieval_query == "When was the phone business shut down?"


def test_a_pronouns_search_fused_instead_of_replaced(fake_engine):
    question = "它后来是哪一年关掉的？"
    joined = f"美图哪一年开始做手机？ {question}"
    va, vb = fake_engine.embedder.embed_queries([question, joined])
    answer = fake_engine.ask(question, PHONE)  # step 36: searched after the earlier question only
    assert answer.retrieval_query == joined
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in retrieve(fake_engine.index, vb, tokenize(joined), 5)]
    fake_engine.config = fake_engine.config.with_(pronoun_fused=True)
    answer = fake_engine.ask(question, PHONE)
    assert answer.retrieval_query == f"{question} | {joined}"
    fused = retrieve_fused(fake_engine.index, [va, vb], [tokenize(question), tokenize(joined)], 5)
    assert [h.chunk.id for h in answer.hits] == [h.chunk.id for h in fused]


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


def test_choose_leaning_takes_one_choice_at_a_time(tmp_path):
    with pytest.raises(SystemExit):
        cl.main([str(tmp_path / "rows.jsonl"), "--fused", "--pronoun"])
