"""README step 112: a demonstrative jieba glued onto the front of a name (那美图 of 那美图手机呢？, tagged one person's
name) is glue: the name stands where the passage holds what is left (support.unglued, DEMONSTRATIVE_GLUE)."""

from __future__ import annotations

import pytest

import rag.answering.support as support_module
from rag.answering.support import anchors_missing, question_checks, unglued

# jieba cuts 美图 as a word here (美图的); in 美图手机始终… it cuts 美 + 图, and the glue reading needs the word (step 60)
PHONE = "早在2013年,美图的手机业务起步。最终在2018年关闭手机业务,将旗下美图手机的品牌独家授权给小米集团。"


@pytest.fixture
def switch(monkeypatch):
    """Turns step 112 on or off, clearing `unglued`'s cache both ways."""

    def turn(on: bool) -> None:
        monkeypatch.setattr(support_module, "DEMONSTRATIVE_GLUE", on)
        unglued.cache_clear()

    yield turn
    unglued.cache_clear()


def test_a_leading_demonstrative_is_glue_but_not_every_pronoun(switch):
    switch(True)
    assert [unglued(n) for n in ("那美图", "这美图科", "此美图科", "该美图科")] == ["美图", "美图科", "美图科", "美图科"]
    assert unglued("何应钦") == "何应钦"  # 何 is a pronoun and a surname: not read off
    assert unglued("那英") == "那英"  # two characters: left whole, as any glue
    switch(False)
    assert unglued("那美图") == "那美图"


@pytest.mark.parametrize("question", ["那美图手机呢？", "那美图的广告业务呢？", "那美图美妆呢？"])
def test_the_users_follow_ups_stand_where_the_passage_writes_the_name(switch, question):
    anchors, places, glued = question_checks(question)
    assert "那美图" in anchors and "那美图" in glued  # jieba's reading, which the check keeps
    switch(True)
    assert anchors_missing(anchors, PHONE, "", places, glued) == []
    switch(False)
    assert anchors_missing(anchors, PHONE, "", places, glued) == ["那美图"]


def test_a_name_the_passage_lacks_is_still_missing(switch):
    switch(True)
    anchors, places, glued = question_checks("那美图手机呢？")
    assert anchors_missing(anchors, "小米集团成立于2010年。", "", places, glued) == ["那美图"]


def test_the_models_answer_to_the_follow_up_stands(engine_over, switch):
    """Through ModelAnswerer over a document written for this test: the elliptical follow-up's answer was withheld
    because 那美图 is in no passage; with step 112 the net profit stands."""
    from tests.answering.test_model_answerer import Scripted, run

    engine = engine_over({"meitu.txt": "美图2023年总收入27亿元人民币。美图经调整后净利润3.7亿元,同比增长233.2%。\n"})
    history = [{"role": "user", "content": "美图2023年的总收入是多少？"}, {"role": "assistant", "content": "27亿元人民币"}]
    switch(True)
    kept = run(engine, Scripted("3.7亿元[1]。"), "那美图的净利润呢？", history=history).answer
    assert (kept.refused, kept.text) == (False, "3.7亿元[1]。")
    switch(False)
    withheld = run(engine, Scripted("3.7亿元[1]。"), "那美图的净利润呢？", history=history).answer
    assert (withheld.refused, withheld.reason) == (True, "no sentence of the model's answer is supported by the passages")
