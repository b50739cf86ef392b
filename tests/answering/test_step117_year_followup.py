"""README step 117: a follow-up that is only a year and 呢 asks the earlier question about that year
(question.with_earlier_year, read by Engine.ask with a notice; question.YEAR_FOLLOWUP)."""

from __future__ import annotations

import pytest

import rag.answering.question as question_module
from rag.answering.question import with_earlier_year

PROFIT = [{"role": "user", "content": "美图2023年的净利润是多少？"}, {"role": "assistant", "content": "3.7亿元[1]"}]


@pytest.mark.parametrize(("question", "read_as"), [
    ("2022年呢？", "美图2022年的净利润是多少？"),  # the user check's case
    ("那2021年的呢？", "美图2021年的净利润是多少？"),
    ("2019呢", "美图2019年的净利润是多少？"),
    ("那么 2020 年呢?", "美图2020年的净利润是多少？"),
    ("2023年呢？", ""),  # the earlier question's own year: nothing to replace
    ("2022年的收入呢？", ""),  # names more than a year: the other follow-up rules read it
    ("净利润呢？", ""),
    ("2022年美图的净利润是多少？", ""),  # a whole question
])
def test_a_year_and_ne_reads_the_earlier_question_with_that_year(question, read_as):
    assert with_earlier_year(question, PROFIT) == read_as


def test_the_earlier_question_must_hold_exactly_one_year():
    assert with_earlier_year("2022年呢？", [{"role": "user", "content": "美图的净利润是多少？"}]) == ""
    assert with_earlier_year("2022年呢？", [{"role": "user", "content": "美图2016年到2023年的月活有什么变化？"}]) == ""
    assert with_earlier_year("2022年呢？", [{"role": "user", "content": "美图2023年有12345个用户吗？"}]) == (
        "美图2022年有12345个用户吗？")  # a longer number is not a year
    assert with_earlier_year("2022年呢？", None) == ""


def test_a_chain_of_year_follow_ups_reads_the_question_they_follow():
    chain = [*PROFIT, {"role": "user", "content": "2022年呢？"}, {"role": "assistant", "content": "抱歉"}]
    assert with_earlier_year("2021年呢？", chain) == "美图2021年的净利润是多少？"


def test_the_switch_turns_it_off(monkeypatch):
    monkeypatch.setattr(question_module, "YEAR_FOLLOWUP", False)
    assert with_earlier_year("2022年呢？", PROFIT) == ""


DOC = {"xinghai.txt": "星海科技发布了年度报告。星海科技2023年的净利润为3.7亿元，同比增长233.2%。\n\n"
                      "另一方面，星海科技在2022年推出了视频剪辑工具，目前排名第三。\n"}
EARLIER = [{"role": "user", "content": "星海科技2023年的净利润是多少？"}, {"role": "assistant", "content": "3.7亿元[1]"}]


@pytest.mark.parametrize("on", [True, False])
def test_through_the_engine_the_year_is_read_where_it_belongs(engine_over, monkeypatch, on):
    """Over a document written for this test that gives 2023's profit and names 2022 only for a product (the sentence
    answerer, the fake config's): asked as typed, `2022年呢？` is answered with the product's sentence; read as the
    earlier question about 2022, no sentence holds a 2022 profit, so it is refused, and the notice says how it was
    read."""
    monkeypatch.setattr(question_module, "YEAR_FOLLOWUP", on)
    engine = engine_over(DOC)
    answer = engine.ask("2022年呢？", history=EARLIER)
    if on:
        assert (answer.refused, answer.reason) == (True, "no sentence of the passages holds the kind of answer asked "
                                                         "for (and its years)")
        assert answer.notice == "Read as the earlier question about that year: “星海科技2022年的净利润是多少？”."
        assert answer.retrieval_query == ("星海科技2022年的净利润是多少？ | "  # searched whole, and after the earlier one
                                          "星海科技2023年的净利润是多少？ 星海科技2022年的净利润是多少？")
    else:
        assert (answer.refused, answer.text) == (False, "另一方面，星海科技在2022年推出了视频剪辑工具，目前排名第三。[1]")
        assert answer.notice == ""
    same = engine.ask("2023年呢？", history=EARLIER)  # nothing to replace: asked as typed
    assert "Read as" not in same.notice


def test_an_earlier_question_longer_than_a_question_may_be_is_not_read_into_it(engine_over):
    engine = engine_over(DOC)
    limit = engine.config.max_question_chars
    long_earlier = [{"role": "user", "content": "星海科技2023年的净利润是多少？" + "请详细说明。" * limit},
                    {"role": "assistant", "content": "3.7亿元[1]"}]
    assert with_earlier_year("2022年呢？", long_earlier).startswith("星海科技2022年")  # the rule itself reads it ...
    answer = engine.ask("2022年呢？", history=long_earlier)
    assert "Read as" not in answer.notice  # ... the engine asks the follow-up as typed
