"""README step 107: a sum written with 万 or 亿 and no currency answers a question asking an amount of money, but not
where a unit of measure or a counter follows it (question.shows_money, read inside missing_answer_type by both
answerers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import rag.answering.question as question_module
from rag.answering.model import DEFAULT_POLICY
from rag.answering.question import missing_answer_type, shows_money


@pytest.mark.parametrize(("answer", "money"), [
    # the pool's case (DRCD dev, a fitting row): the floor area given for the cost
    ("37万4千平方公尺", False),
    ("约1.2万平方米的土地", False), ("3.5万公里", False), ("2.49亿人", False), ("1.5万枚", False), ("20万吨", False),
    # sums: a currency, a sign, or 万/亿 with nothing of another kind after it
    ("580亿新台币", True), ("13.27亿", True), ("约3.95亿港元", True), ("$5", True), ("911万", True),
    ("约1.2万，面积3平方米", True),  # the sum stands apart from the measure
    ("三十七万四千平方公尺", False), ("二十亿元", True),
])
def test_a_sum_followed_by_a_unit_of_measure_or_a_counter_is_not_money(answer, money):
    assert shows_money(answer) is money


@pytest.mark.parametrize(("question", "answer", "missing"), [
    ("台北101的总造价是多少？", "37万4千平方公尺", "an amount of money"),
    ("台北101的总造价是多少？", "580亿新台币", ""),
    ("美图收购大街网花了多少钱？", "3.95亿港元", ""),
    ("这座城市有多少人？", "人口为120万", ""),  # no money asked: the count check decides, as before
])
def test_the_answer_type_check_reads_it(question, answer, missing):
    assert missing_answer_type(question, answer) == missing


def test_the_check_is_off_with_its_switch(monkeypatch):
    monkeypatch.setattr(question_module, "SUM_NOT_MEASURED", False)
    assert missing_answer_type("台北101的总造价是多少？", "37万4千平方公尺") == ""  # any bare sum, as before


def test_the_models_area_for_a_cost_is_withheld(engine_over):
    """Through ModelAnswerer with the answer-type check on (routes.json's model_answer_type), over a document written
    for this test that gives the floor area and the height but no cost."""
    from tests.answering.test_model_answerer import Scripted, run

    engine = engine_over({"tower.txt": "台北101是一座摩天大楼。大楼的总楼地板面积为37万4千平方公尺。大楼高508公尺。\n"})
    policy = replace(DEFAULT_POLICY, model_answer_type=True)
    wrong = run(engine, Scripted("37万4千平方公尺[1]。"), "台北101的总造价是多少？", policy=policy).answer
    assert (wrong.refused, wrong.reason) == (True, "the question asks for an amount of money, and the model's answer "
                                                   "gives none")
