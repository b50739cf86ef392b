"""README step 104: the words of the unit a question asks its number in (港元 of 多少港元) weigh nothing in the claim share
(claim.claim_share with the question; question.asked_unit_words)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import rag.answering.claim as claim_module
from rag.answering.claim import claim_share
from rag.answering.features import QuestionTerms
from rag.answering.model import DEFAULT_POLICY
from rag.answering.question import asked_unit_words


@pytest.mark.parametrize(("question", "words"), [
    ("美图的市值是多少港元？", {"港元"}), ("花了多少钱？", {"钱"}), ("距离地球多少光年？", {"光年"}),
    ("面积有多少平方公里？", {"平方", "公里", "方公里", "平方公里"}), ("有几公斤？", {"公斤", "几公斤"}),
    ("花了多少人民币？", {"人民", "人民币"}),
    ("港元汇率是多少港元？", set()),  # 港元 is also what the question is about
    ("有多少人？", set()), ("有几个国家？", set()), ("美图的市值是多少？", set()),  # no unit of measure or money asked
])
def test_the_words_of_the_unit_asked(question, words):
    assert asked_unit_words(question) == words


def test_the_claim_share_leaves_the_asked_unit_out_only_with_the_question_and_the_switch(monkeypatch):
    terms = QuestionTerms({"美图": 0.5, "市值": 3.0, "港元": 4.0}, 0.0, frozenset(), ())
    sentence = "美图还斥资3.95亿港元,买下了大街网约57.09%的股权。"
    assert claim_share(terms, sentence) == pytest.approx(4.5 / 7.5)  # no question: as before step 104
    assert claim_share(terms, sentence, "美图的市值是多少港元？") == pytest.approx(0.5 / 3.5)
    # a word the index never saw keeps its weight as missing: of 美图 + 港元 (1 each) and 2 unseen, 港元 leaves
    half = QuestionTerms({"美图": 1.0, "港元": 1.0}, 0.5, frozenset(), ())
    assert claim_share(half, "美图花了2亿港元", "美图的市值是多少港元？") == pytest.approx(1.0 * (1 - 2.0 / 3.0))
    monkeypatch.setattr(claim_module, "UNIT_FREE_SHARE", False)
    assert claim_share(terms, sentence, "美图的市值是多少港元？") == pytest.approx(4.5 / 7.5)


# a company's history in four files, each naming it (so its name weighs little); 港元 stands in one
CO = {"a.txt": "星海公司成立于2008年，总部位于厦门。星海公司最初只做一款修图软件。\n",
      "b.txt": "2018年，星海公司还斥资3.95亿港元，买下了大街网约57%的股权。\n",
      "c.txt": "2021年，星海公司关闭了手机业务，把品牌授权给了别的厂商。\n",
      "d.txt": "2023年，星海公司的收入创下新高。星海公司表示还会加大研发投入。\n"}


def test_the_models_amount_of_another_thing_is_withheld(engine_over, monkeypatch):
    """Through ModelAnswerer with the claim cut at routes.json's 0.3, over four files written for this test: an amount in
    港元 spent on a purchase does not answer the company's market value; the purchase's price does stand."""
    from tests.answering.test_model_answerer import Scripted, run

    engine = engine_over(CO)
    policy = replace(DEFAULT_POLICY, min_claim_coverage=0.3)
    other = run(engine, Scripted("3.95亿港元[1]。"), "星海公司的市值是多少港元？", policy=policy).answer
    assert other.refused and other.reason.startswith("beside the answer's supporting sentence stand")
    price = run(engine, Scripted("3.95亿港元[1]。"), "星海公司买下大街网的股权花了多少港元？", policy=policy).answer
    assert (price.refused, price.text) == (False, "3.95亿港元[1]。")
    monkeypatch.setattr(claim_module, "UNIT_FREE_SHARE", False)  # before step 104 the amount stood
    before = run(engine, Scripted("3.95亿港元[1]。"), "星海公司的市值是多少港元？", policy=policy).answer
    assert (before.refused, before.text) == (False, "3.95亿港元[1]。")
