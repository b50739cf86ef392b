"""A value the sentence gives for another item of a "respectively" list (README, "How auto was chosen", step 91;
respectively.other_slot, decide.slot_note): 比特币's price asked, 以太币's given, 比特币's given in its place."""

from __future__ import annotations

import pytest

from rag.answering import decide
from rag.answering.respectively import Slip, listed, other_slot, slots
from tests.answering.test_model_answerer import Scripted, run

# the article (round 56's user check): the items stand in the sentence before, the values after 分别
BOUGHT = "2021年三月,美图通过全资子公司Miracle Vision首次在公开市场交易中购买了1.5万枚以太币和379.1214枚比特币。"
PRICES = "这两种加密货币的总对价分别约为2210万美元和1790万美元。"
LINES = "从业务来看,美图的核心业务分别为影像与设计产品业务、美业解决方案业务和广告业务。"
REVENUE = "财报显示,三项业务的全年营收分别为13.27亿元、5.69亿元和7.59亿元。"
# DRCD dev (simplified), the items and values in one sentence
ARMS = "空军和陆军分别隶属于国防部下的空军部和陆军部。"


def test_a_list_is_split_on_the_enumeration_comma_and_its_last_conjunction():
    assert listed("影像与设计产品业务、美业解决方案业务和广告业务") == ["影像与设计产品业务", "美业解决方案业务", "广告业务"]
    assert listed("空军和陆军") == ["空军", "陆军"]
    assert listed("三项业务的全年营收") == ["三项业务的全年营收"]
    assert listed("和广告业务") == []  # an empty piece: no list


def test_the_items_are_the_nearest_clause_listing_as_many_pieces_as_the_values():
    found = slots(PRICES, BOUGHT)
    assert found is not None
    assert found.values == ("约为2210万美元", "1790万美元")
    assert found.item_keys == ("以太币", "比特币")  # the shared 币 cut off for jieba's last word, then put back
    assert found.value_keys == (frozenset({"2210"}), frozenset({"1790"}))
    found = slots(REVENUE, LINES)
    assert found is not None and found.item_keys == ("产品业务", "解决方案业务", "广告业务")
    assert slots(ARMS) is not None and slots(ARMS).value_keys == (frozenset({"空军部"}), frozenset({"陆军部"}))
    assert slots(PRICES) is None  # the sentence alone lists no two items
    assert slots("美图的核心业务为影像与设计产品业务和广告业务。") is None  # no 分别
    # one-character names (空, 陆 without the shared 军) would stand in too many questions
    assert slots("甲和乙分别为3和4。") is not None and slots("甲和乙分别为3和4。").item_keys is None


@pytest.mark.parametrize(("question", "answer", "sentence", "before", "slip"), [
    ("美图购买比特币的总对价是多少？", "约2210万美元", PRICES, BOUGHT, Slip("比特币", "以太币", "1790万美元")),
    ("美图购买比特币的总对价是多少？", "约1790万美元", PRICES, BOUGHT, None),
    ("美图购买以太币的总对价是多少？", "1790万美元[1]。", PRICES, BOUGHT, Slip("以太币", "比特币", "约2210万美元")),
    ("美图广告业务的全年营收是多少？", "13.27亿元", REVENUE, LINES, Slip("广告业务", "产品业务", "7.59亿元")),
    ("美图影像与设计产品业务的全年营收是多少？", "7.59亿元", REVENUE, LINES, Slip("产品业务", "广告业务", "13.27亿元")),
    ("美图广告业务的全年营收是多少？", "7.59亿元", REVENUE, LINES, None),
    ("陆军隶属于哪个部？", "空军部", ARMS, "", Slip("陆军", "空军", "陆军部")),
    ("美图购买比特币的总对价是多少？", "美图购买比特币的总对价约为2210万美元。", PRICES, BOUGHT,
     Slip("比特币", "以太币", "1790万美元")),
    # a value named by words is read beyond the question's words (CMRC dev: 帕奇 asked, 莱兹's CIA given): the echoed
    # 三角洲部队 of a question naming a value would count, but such a question is not read (below)
    ("在续集中，帕奇加入了什么？", "帕奇加入了CIA[1]。", "在续集中，三位主角也分道扬镳，帕奇和莱兹分别加入了三角洲部队和CIA。", "",
     Slip("帕奇", "莱兹", "加入了三角洲部队")),
    ("在续集中，帕奇加入了什么？", "帕奇加入了三角洲部队[1]。", "在续集中，三位主角也分道扬镳，帕奇和莱兹分别加入了三角洲部队和CIA。", "",
     None),
    ("陆军隶属于哪个部？", "陆军部", ARMS, "", None),
    # an answer giving both values, or none of them, is not read
    ("美图购买比特币的总对价是多少？", "以太币2210万美元，比特币1790万美元", PRICES, BOUGHT, None),
    ("美图购买比特币的总对价是多少？", "约2亿元人民币", PRICES, BOUGHT, None),
    # a question naming no item, or both
    ("这两种加密货币的总对价是多少？", "约2210万美元", PRICES, BOUGHT, None),
    ("以太币和比特币的总对价各是多少？", "约2210万美元", PRICES, BOUGHT, None),
    # a question that writes a value itself asks about the list, not for an item's value (DRCD dev's
    # `…分别是民主进步党还有哪一个政党?`)
    ("空军部之外，陆军隶属于哪个部？", "空军部", ARMS, "", None),
    # traditional characters are read as simplified ones
    ("美圖購買比特幣的總對價是多少？", "約2210萬美元", "這兩種加密貨幣的總對價分別約為2210萬美元和1790萬美元。",
     "美圖購買了1.5萬枚以太幣和379.1214枚比特幣。", Slip("比特币", "以太币", "1790万美元")),
])
def test_the_answer_must_give_the_value_paired_with_the_item_asked(question, answer, sentence, before, slip):
    assert other_slot(question, answer, sentence, before) == slip


def test_a_name_standing_in_two_pieces_names_neither():
    # DRCD test (simplified): 技术 of 机器人技术 stands in the last value's 加密技术 too, and the last value runs to the
    # clause's end (…的发展奠下了基础): no value can be told, so nothing is read
    found = slots("麻省理工教职员及研究人员诺伯特•维纳、马文•闵斯基、约瑟夫•维森鲍姆、派屈克•温斯顿、罗德尼•布鲁克斯、罗纳德•李维斯特，"
                  "分别对控制论、人工智慧、计算机语言、机器学习、机器人技术、加密技术的发展奠下了基础。")
    assert found is not None
    assert found.item_keys == ("维纳", "闵斯基", "鲍姆", "温斯顿", "布鲁克斯", "维斯特")
    assert found.value_keys is None


def test_the_notice_names_both_items_and_the_value_given():
    assert decide.slot_note("约2210万美元", Slip("比特币", "以太币", "1790万美元")) == (
        "The model answered “约2210万美元”, the value its sentence gives for 以太币; the sentence pairs 比特币 with "
        "1790万美元 (分别, respectively), which is given instead.")


def test_the_models_answer_from_another_slot_gives_way_to_the_value_paired_with_the_item_asked(engine_over):
    engine = engine_over({"coins.txt": f"{BOUGHT.replace('美图', '星海')}{PRICES}\n"})
    right = run(engine, Scripted("约1790万美元[1]。"), "星海购买比特币的总对价是多少？").answer
    assert (right.refused, right.text) == (False, "约1790万美元[1]。")
    wrong = run(engine, Scripted("约2210万美元[1]。"), "星海购买比特币的总对价是多少？").answer
    # the value the sentence pairs with 比特币, cited to it, in place of the model's
    assert (wrong.refused, wrong.text, wrong.answerer) == (False, "1790万美元[1]", "model")
    assert [c.sentence.text for c in wrong.citations] == [PRICES]
    assert ("The model answered “约2210万美元。”, the value its sentence gives for 以太币; the sentence pairs 比特币 with "
            "1790万美元 (分别, respectively), which is given instead.") in wrong.notice


def test_gold_scan_reads_step_91_on_each_gold_with_its_sentence_and_the_one_before():
    """scripts/gold_scan.py's step 91 column: a gold that is the value of another item than the question names (made
    wrong on purpose here: DRCD and CMRC dev have none) is counted; the right one is not."""
    from tests.answering.test_model_answerer import _script

    gs = _script("gold_scan")
    context = BOUGHT + PRICES
    at = context.find("2210万美元"), context.find("1790万美元")
    data = {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": "a", "question": "美图购买比特币的总对价是多少？", "answers": [{"text": "2210万美元", "answer_start": at[0]}]},
        {"id": "b", "question": "美图购买比特币的总对价是多少？", "answers": [{"text": "1790万美元", "answer_start": at[1]}]},
    ]}]}]}
    n, fires = gs.scan(data)
    assert n == 2
    assert fires["91"] == [("美图购买比特币的总对价是多少？", "2210万美元", "比特币/以太币")]
