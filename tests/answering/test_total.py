"""README step 102: a total given for one of its parts (rag/answering/total.py) is withheld from the model's answer."""

from __future__ import annotations

from rag.answering.total import Part, listed_parts, part_of_total, totals
from tests.answering.test_respectively import BOUGHT, PRICES

SUM = "按当时的汇率计算,所购总价约合2亿元人民币。"  # the article's sentence after BOUGHT and PRICES
# another document (written for this test): a total of two regions' shops, the regions listed two sentences up
SHOPS = "2019年，星海公司在欧洲和北美开设了20家门店。其中欧洲门店以旗舰店为主。"
SHOPS_SUM = "上述门店的投资总额约为3亿欧元。"


def test_the_total_of_a_list_given_for_one_part_is_found():
    assert totals(SUM) == {"2": "总价"}
    assert part_of_total("美图买以太币花了多少人民币？", "2亿元人民币", SUM, BOUGHT + PRICES) == Part("以太币", "总价", "2")
    assert part_of_total("美图买比特币花了多少钱？", "约2亿元", SUM, BOUGHT + PRICES) == Part("比特币", "总价", "2")
    assert part_of_total("星海公司在北美的门店投资了多少？", "3亿欧元", SHOPS_SUM, SHOPS) == Part("北美", "总额", "3")
    assert part_of_total("星海公司的门店投资了多少？", "3亿欧元", SHOPS_SUM, SHOPS) is None  # the whole


def test_a_question_about_the_whole_or_the_list_is_answered_by_the_total():
    before = BOUGHT + PRICES
    assert part_of_total("美图买以太币和比特币花了多少人民币？", "2亿元人民币", SUM, before) is None  # both parts
    assert part_of_total("美图买加密货币一共花了多少人民币？", "2亿元人民币", SUM, before) is None  # a total asked
    assert part_of_total("美图买加密货币花了多少人民币？", "2亿元人民币", SUM, before) is None  # the whole, unnamed
    assert part_of_total("美图买以太币花了多少人民币？", "2210万美元", PRICES, BOUGHT) is None  # 分别: step 91's case
    assert part_of_total("美图买以太币花了多少人民币？", "1.5万枚", SUM, before) is None  # not the total's number


def test_a_total_that_points_nowhere_is_not_read():
    # v1 fired on this DRCD dev gold answer (客家语 for the sentence's 客语): the sentence names what it totals itself
    hakka = "客语在台湾的使用者总共有212万人，主要集中于桃竹苗、台中东势一带、六堆地区、花东纵谷。"
    assert totals(hakka) == {}
    assert part_of_total("台湾目前约有多少人使用客家语?", "212万", hakka, "台湾的客家语和闽南语都有使用者。") is None
    assert totals("因此，澳门总共有九个区域。") == {} and totals("此外校友已累计获得280余枚奖牌。") == {}
    assert totals("这两者合计接近90万。") == {"90": "合计"}
    assert listed_parts("How much did it cost?", "The total was 2 billion.", "Ether and bitcoin.") == []


def test_the_models_total_for_one_part_is_withheld(engine_over):
    """Through ModelAnswerer, on the article's three sentences (the company renamed): the total given for 以太币 is not
    the model's answer; the same total asked as a total is."""
    from tests.answering.test_model_answerer import Scripted, run

    engine = engine_over({"coins.txt": f"{BOUGHT}{PRICES}{SUM}\n".replace("美图", "星海")})
    part = run(engine, Scripted("2亿元人民币[1]。"), "星海买以太币花了多少人民币？").answer
    assert (part.refused, part.reason) == (True, "the question asks about 以太币, and the sentence the model's answer "
                                                 "stands on gives the 总价 (2) of a list 以太币 is one part of")
    whole = run(engine, Scripted("约2亿元人民币[1]。"), "星海买这两种加密货币一共花了多少人民币？").answer
    assert (whole.refused, whole.text, whole.answerer) == (False, "约2亿元人民币[1]。", "model")
