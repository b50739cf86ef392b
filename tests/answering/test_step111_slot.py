"""README step 111: an answer that restates its question up to the interrogative and puts a time there gives no name
(question.value_in_its_place, read inside only_value_for_name, so wherever step 84 applies)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import rag.answering.question as question_module
from rag.answering.model import DEFAULT_POLICY
from rag.answering.question import only_value_for_name, value_in_its_place


@pytest.mark.parametrize(("question", "answer", "value", "asked"), [
    # the user's case (round 60's check 3) and the pool's (DRCD test, a fitting row): a time in the name's place
    ("美图是在哪里上市的？", "美图是在2016年登陆资本市场的", "2016年", "a name"),
    ("新亚怪鱼酒家是由谁创办的？", "新亚怪鱼酒家是由1920年代开业的。", "1920年代", "a person"),
    ("美图是在哪里上市的？", "美图是在2016年，登陆资本市场", "2016年", "a name"),
    # a name there, or a numeral that begins one
    ("美图是在哪里上市的？", "美图是在香港上市的", "", ""),
    ("他们去了哪家店？", "他们去了7-11便利店", "", ""),
    ("美图在哪个领域排第三？", "美图在3D领域排第三", "", ""),
    ("这条线路叫什么？", "这条线路叫21号线", "", ""),
    ("蔡文胜投资过哪些公司？", "蔡文胜投资过58同城、4399等公司。", "", ""),
    # not a restatement, or a question that asks a time: the checks before step 111 decide
    ("美图是在哪里上市的？", "2016年登陆资本市场", "", ""),
    ("美图是在哪一年上市的？", "美图是在2016年上市的", "", ""),  # asks a year (and 2016年 + 上市 is the question's)
    ("谁创立了美图？", "2008年创立", "", "a person"),  # nothing before 谁 to restate: step 84's own reading withholds it
])
def test_a_time_in_the_place_of_the_interrogative_names_nothing(question, answer, value, asked):
    assert value_in_its_place(question, answer) == value
    assert only_value_for_name(question, answer) == asked


def test_the_check_is_off_with_its_switch(monkeypatch):
    monkeypatch.setattr(question_module, "SLOT_VALUE", False)
    assert only_value_for_name("美图是在哪里上市的？", "美图是在2016年登陆资本市场的") == ""  # as before step 111


def test_the_models_time_for_a_place_is_withheld(engine_over):
    """Through ModelAnswerer with step 84's check on (routes.json's model_answer_name), over a document written for this
    test that says when the company listed and not where."""
    from tests.answering.test_model_answerer import Scripted, run

    engine = engine_over({"listing.txt": "星海科技成立于2008年。2016年，星海科技登陆资本市场，用户超过4.5亿。\n"})
    policy = replace(DEFAULT_POLICY, model_answer_name=True)
    wrong = run(engine, Scripted("星海科技是在2016年登陆资本市场的[1]。"), "星海科技是在哪里上市的？", policy=policy).answer
    assert (wrong.refused, wrong.reason) == (True, "the question asks for a name, and the model's answer gives only a "
                                                   "time or a number")
    year = run(engine, Scripted("星海科技是在2016年登陆资本市场的[1]。"), "星海科技是在哪一年上市的？",
               policy=policy).answer
    assert (year.refused, year.text) == (False, "星海科技是在2016年登陆资本市场的[1]。")
