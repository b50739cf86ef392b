"""Step 54: unanswerable questions inside a conversation. A fused search's hits scored by the search as asked
(`retrieve_fused(..., scores_of_first=True)`, `Config.fused_scores_asked`), the study's unanswerable second turns
(`study_leaning.unanswerable`) and `choose_leaning --scores-asked`'s written rule."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import InputError
from rag.retrieval import retrieve_fused
from rag.tokenize import tokenize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import choose_leaning as cl  # noqa: E402
import study_leaning as sl  # noqa: E402

PHONE = [{"role": "user", "content": "美图哪一年开始做手机？"}, {"role": "assistant", "content": "2013年"}]


def brief(hits):
    return [(h.chunk.start, round(h.score, 6), round(h.dense, 4), None if h.bm25 is None else round(h.bm25, 4))
            for h in hits]


def test_fused_hits_keep_their_order_and_take_the_first_searchs_scores(fake_engine):
    index = fake_engine.index
    a, b = "美图的CFO是谁？", "美图哪一年开始做手机？"
    va, vb = fake_engine.embedder.embed_queries([a, b])
    best = retrieve_fused(index, [va, vb], [tokenize(a), tokenize(b)], 5)
    asked = retrieve_fused(index, [va, vb], [tokenize(a), tokenize(b)], 5, scores_of_first=True)
    # the same chunks in the same order with the same fused scores (test_fused_leaning's values) ...
    assert [x[:2] for x in brief(asked)] == [x[:2] for x in brief(best)]
    # ... but each hit's cosine is to the first question and its BM25 score the first search's: 2634 (the phone
    # passage) is 0.3372 / 10.5738 by its best search and 0.0 / 0.1136 by the first one
    assert brief(asked) == [(285, 0.032002, 0.1484, 0.1046), (3172, 0.031498, 0.0859, 0.1127),
                            (2634, 0.031099, 0.0, 0.1136), (444, 0.03101, 0.0477, 0.108),
                            (1381, 0.030282, 0.1358, 3.0462)]
    first_bm25 = dict(index.bm25.top(tokenize(a), 30))
    for h in asked:
        row = next(r for r, c in enumerate(index.chunks) if c.id == h.chunk.id)
        assert h.dense == pytest.approx(float(index.vectors[row] @ va), abs=1e-6)
        assert h.bm25 == first_bm25.get(row)
    # one search: the flag changes nothing
    assert retrieve_fused(index, [va], [tokenize(a)], 5, scores_of_first=True) == retrieve_fused(index, [va],
                                                                                                  [tokenize(a)], 5)


def test_the_engine_scores_a_fused_follow_up_as_asked_when_set(fake_engine):
    question = "后来是哪一年关掉的？"
    joined = f"美图哪一年开始做手机？ {question}"
    va, vb = fake_engine.embedder.embed_queries([question, joined])
    assert fake_engine.config.fused_scores_asked is False
    shipped = fake_engine.ask(question, PHONE)
    fake_engine.config = fake_engine.config.with_(fused_scores_asked=True)
    asked = fake_engine.ask(question, PHONE)
    assert [h.chunk.id for h in asked.hits] == [h.chunk.id for h in shipped.hits]
    expected = retrieve_fused(fake_engine.index, [va, vb], [tokenize(question), tokenize(joined)], 5,
                              scores_of_first=True)
    assert [(h.dense, h.bm25) for h in asked.hits] == [(h.dense, h.bm25) for h in expected]
    assert [(h.dense, h.bm25) for h in asked.hits] != [(h.dense, h.bm25) for h in shipped.hits]


def test_the_setting_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_FUSED_SCORES_ASKED", "yes")
    assert Config.from_env().fused_scores_asked is True
    monkeypatch.setenv("RAG_FUSED_SCORES_ASKED", "maybe")
    with pytest.raises(InputError, match="RAG_FUSED_SCORES_ASKED='maybe' is not a yes or no"):
        Config.from_env()


PARAGRAPHS = [
    ("p1", "张伟是北京大学的教授，1998年获得博士学位，研究方向是材料。", [
        {"id": "a", "question": "张伟是哪所大学的教授？", "answers": ["北京大学"]},
        {"id": "b", "question": "张伟1998年获得了什么学位？", "answers": ["博士学位"]},
        {"id": "c", "question": "张伟的研究方向是什么？", "answers": ["材料"]}]),
    ("p2", "李娜出生于武汉，是网球运动员，曾获得两次大满贯冠军。", [
        {"id": "d", "question": "李娜出生于哪里？", "answers": ["武汉"]},
        {"id": "e", "question": "李娜获得几次大满贯冠军？", "answers": ["两次"]}]),
]
ABSENT = [("x1", "长江全长约6300公里。", [{"id": "x", "question": "长江全长多少公里？", "answers": ["6300公里"]},
                                        {"id": "y", "question": "哪位是网球运动员？", "answers": ["李娜"]}])]


def test_the_studys_unanswerable_second_turns():
    rows = sl.unanswerable(PARAGRAPHS, ABSENT, random.Random(54))
    # the follow-ups without their subject (张伟 / 李娜), a year, number or name swapped for one the paragraph lacks
    # (1998 + 7; jieba takes 大满贯 for a name), the longest noun the paragraph holds for one it lacks; then one absent
    # question per conversation, never `哪位是网球运动员？`, whose gold answer (李娜) an indexed paragraph holds
    assert [(r["kind"], r["question"]) for r in rows] == [
        ("swap", "2005年获得了什么学位？"), ("noun", "1998年获得了什么武汉？"), ("noun", "研究运动员是什么？"),
        ("absent", "长江全长多少公里？"), ("swap", "获得几次张伟冠军？"), ("noun", "获得几次大满贯方向？"),
        ("absent", "长江全长多少公里？")]
    for r in rows:
        assert r["answers"] == [] and r["history"][0]["content"] in ("张伟是哪所大学的教授？", "李娜出生于哪里？")
        if r["kind"] != "absent":  # a changed follow-up keeps nothing of its subject
            assert r["subject"] not in r["question"] and r["question"] != r["original"]


def row(kind, **right):
    return {"kind": kind, **{f"right_{m}": right.get(m, False) for m in cl.ASKED_MODES},
            **{f"hit_{m}": True for m in cl.ASKED_MODES}}


def test_choose_asked_follows_its_written_rule(tmp_path, capsys):
    answerable = [row(k, pronoun=True, fused=True, fusedasked=True) for k in ("pronoun", "followup", "same", "other")]
    # the unanswerable kinds: fused refuses 1 of 3 (its scores raised), scored as asked 3 of 3, unfused 2 of 3
    unanswerable = [row("absent", pronoun=True, fusedasked=True), row("swap", fusedasked=True),
                    row("noun", pronoun=True, fused=True, fusedasked=True)]
    rows = answerable + unanswerable
    assert cl.balanced_mean(rows, "fused") == pytest.approx((100 + 100 / 3) / 2)
    assert cl.balanced_mean(rows, "fusedasked") == 100.0
    assert cl.beats(rows, "fusedasked", "fused") and not cl.beats(rows, "pronoun", "fusedasked")
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert cl.choose_asked([path], []) == "fusedasked"
    # a kind losing more than 2 points blocks it, whatever the mean; then fusion itself is judged against nothing
    # fused, which refuses the absent question the shipped way answers: +16.7 balanced, no kind lost, fusion off
    rows[2]["right_fusedasked"] = False
    assert not cl.beats(rows, "fusedasked", "fused")
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert cl.choose_asked([path], []) == "pronoun"
    assert "followup_fused = False, fused_scores_asked = False" in capsys.readouterr().out
    # unfused no better on the unanswerable kinds and a follow-up lost: fusion stays as shipped
    rows[4]["right_pronoun"], rows[1]["right_pronoun"] = False, False
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert cl.choose_asked([path], []) == "fused"
    assert "followup_fused = True, fused_scores_asked = False" in capsys.readouterr().out
    # rows with no unanswerable turn cannot decide it
    path.write_text("\n".join(json.dumps(r) for r in answerable), encoding="utf-8")
    with pytest.raises(SystemExit, match="no unanswerable second turns"):
        cl.choose_asked([path], [])


def test_every_study_mode_names_the_settings_it_answers_with():
    """A changed default must not change what a mode measured: every mode names each setting steps 52-55 added, and
    only "fusedanchors" (the product since round 40) and step 57's "fusedaskedanchors" answer with step 55's check."""
    settings = {"followup_fused", "pronoun_fused", "fused_excerpts", "fused_scores_asked", "extractive_anchors"}
    for name, mode in sl.MODE_SETTINGS.items():
        assert settings <= set(mode), name
        assert mode["extractive_anchors"] is (name in ("fusedanchors", "fusedaskedanchors"))
        assert mode["fused_scores_asked"] is (name in ("fusedasked", "fusedaskedanchors"))
    assert Config().with_(**sl.MODE_SETTINGS["fusedanchors"]).extractive_anchors is True
    asked = Config().with_(**sl.MODE_SETTINGS["fusedaskedanchors"])
    assert asked.extractive_anchors and asked.fused_scores_asked and asked.followup_fused


def test_choose_asked_default_follows_its_written_rule(tmp_path, capsys):
    """Step 57: scores as asked for the default answerer, taken at +3 mean points with no kind losing more than 4."""
    def turn(kind, shipped, asked):
        return {"kind": kind, "right_fusedanchors": shipped, "right_fusedaskedanchors": asked,
                "hit_fusedanchors": True, "hit_fusedaskedanchors": True}

    # 25 turns a kind: scores as asked gains one follow-up (+4 points) and loses nothing: mean +1.33, not taken
    rows = ([turn("followup", i < 20, i < 21) for i in range(25)] + [turn("pronoun", i < 20, i < 20) for i in range(25)]
            + [turn("noun", i < 10, i < 10) for i in range(25)])
    assert cl.asked_default_mean(rows, "fusedanchors") == pytest.approx((80 + 80 + 40) / 3)
    assert cl.asked_default_mean(rows, "fusedaskedanchors") == pytest.approx((84 + 80 + 40) / 3)
    assert not cl.asked_default_taken(rows)
    # three more noun swaps refused (+12): mean +5.33, taken
    for r in rows[60:63]:
        r["right_fusedaskedanchors"] = True
    assert cl.asked_default_taken(rows)
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert cl.main([str(path), "--scores-asked-default"]) == 0
    assert "chosen: fused_scores_asked = True (mean +5.33" in capsys.readouterr().out
    # three more noun swaps (+24 in all) and a pronoun follow-up kind losing two turns (8 points): the mean still gains
    # +6.67, and the kind's loss alone blocks it
    for r in rows[63:66]:
        r["right_fusedaskedanchors"] = True
    for r in rows[25:27]:
        r["right_fusedaskedanchors"] = False
    gain = cl.asked_default_mean(rows, "fusedaskedanchors") - cl.asked_default_mean(rows, "fusedanchors")
    assert gain == pytest.approx(20 / 3)
    assert not cl.asked_default_taken(rows)
