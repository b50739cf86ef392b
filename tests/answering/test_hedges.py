"""A number's hedge is carried from the sentence it stands on into the model's answer (rag/answering/hedges.py,
README step 50): the checks compare numbers by value, so a bare `5.6万平方米` passed for the source's `近5.6万平方米`."""

from __future__ import annotations

import pytest

from rag.answering.hedges import carry_hedges, hedge_before
from tests.answering.test_model_answerer import Scripted, run

# (the answer sentence, the supporting sentence, what the answer shows) from CMRC dev, DRCD and the article
CARRIED = [
    ("嘉兴南站建筑总面积为5.6万平方米[1]。", "嘉兴南站站房建筑总面积近5.6万平方米，设4台8线。",
     "嘉兴南站建筑总面积为近5.6万平方米[1]。"),
    ("西巴丹岛的岛屿面积为4万平方米", "西巴丹岛的岛屿面积约4万平方米。", "西巴丹岛的岛屿面积为约4万平方米"),
    ("440光年", "HAT-P-2b是一颗位于武仙座、距离地球约440多光年的系外行星。", "约440多光年"),
    ("1138公顷", "台北港特定区位于台北港周边八里、林口一带约1138公顷土地。", "约1138公顷"),
    ("4.5亿", "2016年,美图登陆资本市场,公司整体月活用户已经超过4.5亿。", "超过4.5亿"),
    ("美图付费订阅用户数911万。", "财报显示,截至2023年12月31日,美图付费订阅用户数超911万,同比增长62.3%。",
     "美图付费订阅用户数超911万。"),
    ("2210万美元", "这两种加密货币的总对价分别约为2210万美元和1790万美元。", "约2210万美元"),
    ("共有1万人参加。", "共有1万余人参加。", "共有1万余人参加。"),
    ("期限5年", "期限未超过5年。", "期限未超过5年"),  # a negated hedge keeps its negation
    ("合同5人", "人数不多于5人。", "合同不多于5人"),
]

UNCHANGED = [
    ("10人", "造成超过10米海啸。"),  # another unit: not the same figure
    ("3年", "美图最近3年的收入。"),  # 最近 is not 近
    ("合同3年", "双方签约3年。"),  # 签约 is not 约
    ("4.5 billion users", "超过4.5亿。"),  # not a Chinese sentence
    ("大约1500公里", "全长超过1500公里。"),  # hedged already: left as the model wrote it
    ("27亿元", "财报显示美图2023年总收入27 亿元,同比增长29.3%;"),  # nothing to carry
    ("5亿", "超过5亿。另有5亿。"),  # hedged once, bare once: the sources disagree
    ("127亿", "超过27亿。"),  # 27亿 inside 127亿 is not that number
    ("增长50%", "用户近50万。"),  # a percentage is not the source's 50万
    ("型号为MP5", "射速约5发。"),  # the 5 of a name is not a count
    ("歼-20。", "约20架战机。"),  # nor the 20 of 歼-20
    ("2001年发生恐怖袭击", "美国纽约2001年发生恐怖袭击。"),  # 纽约 is not 约
    ("合同3年", "双方续约3年。"),  # nor 续约
    ("联赛共20支球队", "英超20支球队参赛。"),  # 英超 is not 超
    ("比分领先3分", "下半场反超3分。"),  # nor 反超
    ("最近3年营收增长", "近3年营收增长。"),  # qualified already, by a word that is no hedge of its own
    ("过去5年营收增长", "近5年营收增长。"),  # 近5年 is "the last 5 years", said already
    ("1500公里左右", "全长超过1500公里。"),  # qualified after the number
    ("面积5.6万平方米左右", "建筑总面积近5.6万平方米。"),  # after a longer unit too
    ("3年以上", "约3年。"),
    ("共2,000人", "近2亿人中，共2000人。"),  # the 2 of 2,000 is not a number of its own
    ("3年级学生", "约3年前。"),  # 年级 is not 年前
    ("3亿元", "超过3亿美元。"),  # 元 is not 美元
    ("账户有2万", "账户有2万余额。"),  # 余额 is a word, not "more than"
]


@pytest.mark.parametrize(("answer", "source", "shown"), CARRIED)
def test_the_sources_hedge_is_put_back_beside_its_number(answer, source, shown):
    assert carry_hedges(answer, [source]) == shown


@pytest.mark.parametrize(("answer", "source"), UNCHANGED)
def test_a_number_is_left_as_written_where_the_hedge_is_not_its_own(answer, source):
    assert carry_hedges(answer, [source]) == answer


def test_the_hedge_word_before_a_number():
    assert [hedge_before(t, t.index("3")) for t in ("约3年", "大约3年", "超过3年", "未超过3年", "最近3年", "签约3年", "3年")] == [
        "约", "大约", "超过", "未超过", "", "", ""]


def test_no_source_changes_nothing():
    assert carry_hedges("超过4.5亿", []) == "超过4.5亿"
    assert carry_hedges("4.5亿", []) == "4.5亿"


def test_the_model_answer_shows_the_hedge_its_cited_sentence_gives(fake_engine):
    """Through the answerer: the model wrote the bare 911万; the article says 超911万, and the answer says so too."""
    a = run(fake_engine, Scripted("美图付费订阅用户数911万[1]。"), question="美图的付费订阅用户有多少？").answer
    assert (a.refused, a.text) == (False, "美图付费订阅用户数超911万[1]。")
    assert [c.sentence.text for c in a.citations] == [
        "财报显示,截至2023年12月31日,美图付费订阅用户数超911万,同比增长62.3%,创历史新高。"]
