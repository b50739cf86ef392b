"""A change asked, a level answered (README, "How auto was chosen", step 94; change.level_for_change,
decide.level_note): 增长了多少 asked, the sentence's 911万 given, its 62.3% given in its place. And a level asked, a change
answered (step 105; change.change_for_level, decide.change_for_level): 付费率 asked, the sentence's 62.3% withheld."""

from __future__ import annotations

import pytest

from rag.answering import decide
from rag.answering.change import Level, asked_change, change_for_level, level_for_change
from tests.answering.test_model_answerer import Scripted, run

# the article
SUBSCRIBERS = "截至2023年12月31日,美图付费订阅用户数超911万,同比增长62.3%,创历史新高。"
TWO_CHANGES = "财报显示美图2023年总收入27 亿元,同比增长29.3%;净利润3.7亿元,同比增长233.2%。"
UP_AND_DOWN = ("尤其是2023年上半年,在AIGC风口正盛时,美图月活跃用户总数也仅同比小幅增长1.7%,其中美图秀秀的月活甚至下滑了"
               "2.1%。")
DOWN_TO = "财报数据显示,截至2021年12月底,美图月活用户已减至2.3亿人,较2016年上市时流失一半。"


@pytest.mark.parametrize(("question", "asked"), [
    ("美图付费订阅用户数同比增长了多少？", "up"),
    ("美图秀秀的月活下滑了多少？", "down"),
    ("利润下降了几个百分点？", "down"),
    ("营收的增幅是多少？", "both"),
    ("美图月活用户减少到了多少？", None),  # 到: the level it fell to
    ("美图付费订阅用户数是多少？", None),
])
def test_a_question_asks_a_change_where_a_verb_of_change_asks_how_much(question, asked):
    assert asked_change(question) == asked


@pytest.mark.parametrize(("question", "answer", "sentence", "level"), [
    ("美图2023年付费订阅用户数同比增长了多少？", "超911万", SUBSCRIBERS, Level("911", "62.3%")),
    ("美图2023年付费订阅用户数同比增长了多少？", "62.3%", SUBSCRIBERS, None),
    ("美图2023年付费订阅用户数同比增长了多少？", "超911万，同比增长62.3%", SUBSCRIBERS, None),  # the change given too
    ("美图付费订阅用户数是多少？", "超911万", SUBSCRIBERS, None),  # a level asked
    # two changes of the asked direction: which one is the question's cannot be told here
    ("美图2023年总收入同比增长了多少？", "27亿元", TWO_CHANGES, None),
    # the direction picks the change: 下滑 asked, 增长 1.7% given
    ("2023年上半年美图秀秀的月活下滑了多少？", "1.7%", UP_AND_DOWN, Level("1.7", "2.1%")),
    ("2023年上半年美图月活跃用户总数同比增长了多少？", "2.1%", UP_AND_DOWN, Level("2.1", "1.7%")),
    ("截至2021年12月底,美图月活用户减少到了多少？", "2.3亿人", DOWN_TO, None),
    ("美图2023年付费订阅用户数同比增长了多少？", "大幅增长", SUBSCRIBERS, None),  # no number: nothing to read
    ("美图2023年付费订阅用户数同比增长了多少？", "超1000万", SUBSCRIBERS, None),  # not the sentence's: the checks' job
])
def test_a_level_of_the_sentence_answering_a_change_is_read(question, answer, sentence, level):
    assert level_for_change(question, answer, sentence) == level


def test_the_notice_says_what_was_replaced():
    assert decide.level_note("超911万", Level("911", "62.3%")) == (
        "The model answered “超911万”, a level its sentence gives; the question asks how much it changed, and the "
        "sentence gives 62.3%, which is given instead.")


def test_the_models_level_gives_way_to_the_change_its_sentence_writes(engine_over):
    engine = engine_over({"subscribers.txt": SUBSCRIBERS.replace("美图", "星海") + "\n"})
    asked = "星海2023年付费订阅用户数同比增长了多少？"
    right = run(engine, Scripted("62.3%[1]。"), asked).answer
    assert (right.refused, right.text) == (False, "62.3%[1]。")
    level = run(engine, Scripted("超911万[1]。"), asked).answer
    assert (level.refused, level.text, level.answerer) == (False, "62.3%[1]", "model")
    assert [c.sentence.text for c in level.citations] == [SUBSCRIBERS.replace("美图", "星海")]
    assert ("The model answered “超911万。”, a level its sentence gives; the question asks how much it changed, and the "
            "sentence gives 62.3%, which is given instead.") in level.notice


@pytest.mark.parametrize(("question", "answer", "sentence", "given"), [
    ("美图的付费率是多少？", "美图的付费率是62.3%。", SUBSCRIBERS, "62.3%"),  # this round's user check
    ("美图的付费率是多少？", "2023年62.3%", SUBSCRIBERS, "62.3%"),  # a year is when, not how much
    ("2023年上半年美图秀秀的月活跃用户有多少？", "2.1%", UP_AND_DOWN, "2.1%"),
    ("2023年上半年美图秀秀的月活跃用户占比是多少？", "2.1%", UP_AND_DOWN, None),  # 占比: 比 reads as a comparison
    ("美图付费订阅用户数有多少？", "超911万", SUBSCRIBERS, None),  # the level
    ("美图付费订阅用户数同比增长了多少？", "62.3%", SUBSCRIBERS, None),  # a change asked (step 94's side)
    ("美图付费订阅用户数比上年多了多少？", "62.3%", SUBSCRIBERS, None),  # a comparison may ask a change
    ("美图付费订阅用户数的涨幅有多大？", "62.3%", SUBSCRIBERS, None),  # any word of change
    ("美图2023年的净利润是多少？", "3.7亿元", TWO_CHANGES, None),  # a level the sentence writes beside its changes
    ("美图的付费率是多少？", "超911万，同比增长62.3%", SUBSCRIBERS, None),  # a level among its numbers
    ("美图的付费率是多少？", "很高", SUBSCRIBERS, None),  # no number
])
def test_a_change_answering_a_level_is_read(question, answer, sentence, given):
    assert change_for_level(question, answer, sentence) == given


def test_the_models_change_for_a_level_is_withheld(engine_over):
    """Through ModelAnswerer, over the article's sentence (the company renamed): the growth is not the paying rate; it
    still answers how much the subscribers grew, and the level stands for how many there are."""
    engine = engine_over({"subscribers.txt": SUBSCRIBERS.replace("美图", "星海") + "\n"})
    rate = run(engine, Scripted("星海的付费率是62.3%[1]。"), "星海的付费率是多少？").answer
    assert (rate.refused, rate.reason) == (True, "the question asks for a level, and the model's answer gives 62.3%, "
                                                 "which its sentence writes as a change")
    grew = run(engine, Scripted("62.3%[1]。"), "星海2023年付费订阅用户数同比增长了多少？").answer
    assert (grew.refused, grew.text) == (False, "62.3%[1]。")
    level = run(engine, Scripted("超911万[1]。"), "星海付费订阅用户数有多少？").answer
    assert (level.refused, level.text) == (False, "超911万[1]。")
