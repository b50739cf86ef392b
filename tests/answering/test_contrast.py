"""A sentence that speaks of the other side of what the question asks (README, "How auto was chosen", step 89;
contrast.contrast_swap, decide.contrast_swap): the question's 日活 answered by the sentence's 月活, its 最低 by 最高."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering import decide
from rag.answering.contrast import contrast_swap, pieces
from tests.answering.test_model_answerer import Scripted, retrieved, run
from tests.answering.test_prefer_extractive import extractive_with

# the article (round 54's user check): the monthly users, asked as daily ones
MONTHLY = "尤其是2023年上半年,在AIGC风口正盛时,美图月活跃用户总数也仅同比小幅增长1.7%,其中美图秀秀的月活甚至下滑了2.1%。"


def test_the_pieces_of_a_question_are_a_contrast_character_and_its_neighbour():
    assert pieces("日活跃用户？") == [("日", "活", True)]
    # 南北 is both sides: neither is read against the other, only against its outer neighbours
    assert pieces("南北方") == [("北", "方", True)]
    # 前/后 is no class (DRCD dev's questions invert before and after against their sentences)
    assert pieces("在位之前") == []


@pytest.mark.parametrize(("question", "sentence", "swap"), [
    # the pieces are named by the question's words they fall in, where the sentence shares the span (日活跃/月活跃)
    ("美图秀秀的日活跃用户有多少？", MONTHLY, ("日活跃", "月活跃")),
    ("美图秀秀的日活下滑了多少？", MONTHLY, ("日活", "月活")),
    ("吴欣鸿说美图可能成为国外第一家能规模盈利的公司吗？", "美图有可能成为国内第一家能规模盈利的视觉大模型公司。",
     ("国外第一家", "国内第一家")),
    # DRCD dev's contrast swaps (artifacts/r55/build_swaps.py), each answered by the sentence before step 89
    ("加拿大生活成本最低的城市在2006年时为？", "另一方面，多伦多于2006年被列为加拿大生活成本最高的城市。", ("最低", "最高")),
    ("下萨克森邦最低的山位在哪一山脉内？", "下萨克森邦内最高的山是乌尔姆山，它属于哈尔茨山脉——下萨克森邦最高的山脉。", ("最低", "最高")),
    ("天特会议为什么要重申传统的东方正典？", "鉴于新教徒对圣经正典的质疑，天特会议重申了传统的西方正典。", ("东方", "西方")),
    # the question's own side is in the sentence (the monthly figure asked as monthly): no swap
    ("美图秀秀的月活跃用户有多少？", MONTHLY, None),
    # the sentence writes both sides (东西德 holds 东): it may answer either
    ("东德宪法在何时移除了与德意志民族有关的叙述？", "根据东西德达成的协议，宪法移除了与德意志民族有关的叙述。", None),
    # a date's units are written beside the asked year's 年 (2003年11月14日开幕): the sentence holds 年 itself
    ("「TAIPEI 101 MALL」在哪一年开幕营运?", "购物中心「TAIPEI 101 MALL」率先在2003年11月14日开幕营运。", None),
    # 之前 asked against 之后 written is no swap: 前/后 is not a class
    ("韩国在哪一位领导者在位之前是没有积极推行多边外交政策的？", "在金泳三之后的韩国各界政府也都积极推行了多边外交政策。", None),
    # the swapped piece is the question's own (上半年 and 下半年 both asked)
    ("上半年和下半年的增速分别是多少？", "下半年增速回升。", None),
])
def test_a_swap_is_the_other_side_written_where_the_asked_side_is_not(question, sentence, swap):
    assert contrast_swap(question, sentence) == swap


def test_the_rule_names_both_sides():
    assert decide.contrast_swap(None) == decide.ANSWER
    refused = decide.contrast_swap(("日活", "月活"))
    assert not refused.answer
    assert refused.reason == "the question asks about 日活, and the answer's sentence speaks of 月活 instead"


def test_the_extractive_answer_of_the_other_side_is_refused(fake_engine):
    # the always-answering extractive answerer over the article: asked as monthly, the monthly sentence is the answer;
    # asked as daily, the same sentence is refused, naming both sides
    q, hits, evidence = retrieved(fake_engine, "美图秀秀的月活跃用户有多少？")
    monthly = extractive_with(-np.inf).answer(q, hits, evidence)
    assert not monthly.refused and "美图秀秀的月活甚至下滑了2.1%" in monthly.text
    q, hits, evidence = retrieved(fake_engine, "美图秀秀的日活跃用户有多少？")
    daily = extractive_with(-np.inf).answer(q, hits, evidence)
    assert daily.refused and daily.answerer == "extractive"
    assert daily.reason == "the question asks about 日活跃, and the answer's sentence speaks of 月活跃 instead"
    # an English question is not read for Chinese pieces
    assert contrast_swap("What were Meitu's daily active users?", MONTHLY) is None


def test_the_models_answer_standing_on_the_other_side_is_withheld(engine_over):
    engine = engine_over({"users.txt": "2023年,星海秀秀的月活跃用户数达2.49亿,同比增长2.6%。星海秀秀由星海公司在2008年推出。\n"})
    reply = "2.49亿[1]。"
    kept = run(engine, Scripted(reply), "星海秀秀的月活跃用户数是多少？").answer
    assert (kept.refused, kept.text) == (False, "2.49亿[1]。")
    # asked as daily: the model's answer is withheld, and the extractive fallback refuses the same sentence
    daily = run(engine, Scripted(reply), "星海秀秀的日活跃用户数是多少？").answer
    assert daily.refused
    assert "日活" in daily.reason and "月活" in daily.reason
    assert ("The model's answer was withheld: the question asks about 日活跃, and the sentence the model's answer "
            "stands on speaks of 月活跃 instead") in daily.notice


def test_text_in_traditional_characters_is_read_as_in_simplified_ones():
    # DRCD test's question and gold sentence as written: 東德 asked, 西德 written beside the answer's figure
    assert contrast_swap("東德有多少比例的婦女在到1989年前都有參與工作？", "到1989年為止大約92%婦女參與了工作，這一指標顯著超過了西德的數據。") \
        == ("东德", "西德")
    # 週期 in the sentence is the question's 周期: no swap (read as written, 周 was missing from the sentence)
    assert contrast_swap("儒略日的計算以多長的時間當作一個周期？", "儒略日以七日為一週期，日期由此計算。") is None
