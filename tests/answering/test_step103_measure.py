"""README step 103: a number asked in a unit of measure (多少光年, 几公里, 多少摄氏度) is shown only by a number in a unit
of that kind (question.missing_measure, read inside missing_answer_type by both answerers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import rag.answering.question as question_module
from rag.answering.model import DEFAULT_POLICY
from rag.answering.question import missing_answer_type, missing_measure
from rag.answering.support import units_missing


@pytest.mark.parametrize(("question", "answer", "missing"), [
    # the pool's answers to questions without one (DRCD, the fitting rows): numbers, none in the unit asked
    ("食变星大陵五距离地球多少光年？", "值得一提的食变星例子是大陵五，它在2.87天的周期中，光度规则的在2.3至3.5等之间变化著。",
     "a number in 光年"),
    ("恒星的表面温度约是多少克耳文？", "它的半径约为太阳的8倍，发光度是太阳的62,000倍。", "a number in 克耳文"),
    ("水果需要冷藏在多少摄氏度以下？", "切开的水果需要在二个小时内冷藏。", "a number in 摄氏度"),
    ("绿岛的面积有多少平方公里？", "绿岛的面积是8公里。", "a number in 平方公里"),  # a length for an area
    # shown: the unit, another of its kind, a Latin unit or a degree sign, one plain numeral
    ("山峰海拔多少米？", "海拔2,655公尺，位于斯洛伐克境内。", ""), ("距离地球多少米？", "约93光年", ""),
    ("山峰海拔多少米？", "约8848 m", ""), ("山峰海拔多少米？", "海拔8848m高", ""), ("冷藏在多少摄氏度以下？", "4℃以下", ""), ("冷藏在多少摄氏度以下？", "零下10度", ""),
    ("山峰海拔多少米？", "2655", ""), ("铁路全长几公里？", "一千多公里", ""), ("有多少公斤？", "50公斤", ""),
    # not asked in a unit of measure: the checks before step 103 decide
    ("这座城市有多少人？", "人口为120万", ""), ("山峰有多高？", "2.87天", ""), ("花了多少钱？", "3亿元", ""),
])
def test_a_number_asked_in_a_unit_of_measure_must_be_shown_in_one(question, answer, missing):
    assert missing_measure(question, answer) == missing
    assert missing_answer_type(question, answer) == missing


def test_the_check_is_off_with_its_switch(monkeypatch):
    monkeypatch.setattr(question_module, "MEASURE_ASKED", False)
    assert missing_answer_type("食变星大陵五距离地球多少光年？", "它在2.87天的周期中变化。") == ""  # any number, as before


def test_a_temperature_is_a_kind_of_unit_for_step_97():
    assert units_missing("约30摄氏度", "该地海拔30米。") == ["30"]
    assert units_missing("约30摄氏度", "夏季气温可达30摄氏度。") == []


def test_the_models_answer_without_the_unit_asked_is_withheld(engine_over):
    """Through ModelAnswerer with the answer-type check on (routes.json's model_answer_type), over a document written
    for this test: the period in days does not answer 多少光年; the distance does."""
    from tests.answering.test_model_answerer import Scripted, run

    engine = engine_over({"star.txt": "大陵五是一颗食变星。它在2.87天的周期中，亮度规则地变化。大陵五距离地球约93光年。\n"})
    policy = replace(DEFAULT_POLICY, model_answer_type=True)
    wrong = run(engine, Scripted("2.87天[1]。"), "大陵五距离地球多少光年？", policy=policy).answer
    assert (wrong.refused, wrong.reason) == (True, "the question asks for a number in 光年, and the model's answer "
                                                   "gives none")
    right = run(engine, Scripted("约93光年[1]。"), "大陵五距离地球多少光年？", policy=policy).answer
    assert (right.refused, right.text) == (False, "约93光年[1]。")
