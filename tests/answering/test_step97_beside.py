"""README step 97: a claim's number keeps the kind of its unit, and a name the claim adds stands beside its supporting
sentence (support.UNIT_KINDS, support.NAMES_BESIDE; read at call time, as study_model.py's flags set them)."""

from __future__ import annotations

import pytest

from rag.answering import support
from rag.answering.support import DEFAULT_BAR, best_support, missing_requirements, unit_kinds, units_missing
from tests.answering.test_document_lead import passage_with  # the last chunk holding a text, as a hit

# DRCD dev (traditional → simplified), the two paragraphs of the pool's failures, cut short
SENDAI = ("2011年3月11日宫城县北部的仙台市外海发生芮氏规模8.9地震，并造成超过10米海啸，对仙台沿海的宫城野区和若林区造成严重"
          "伤亡及破坏。美国地质调查局表示，地震震央位于日本东京外海373公里处。仙台市属于副热带湿润气候。\n")
CROSSTALK = ("在天津的许多小剧场与茶馆都可以听到相当精采的传统相声。而同样曾在茶馆传统方式演出的郭德纲在2005年之后走红。"
             "郭德纲不但改编过大量的传统相声，同时也创作了大量的相声。"
             "在以郭德纲为主的相声演员的努力下，中国大陆的相声艺术也首次在非华语地区举行大型演出。\n")


@pytest.fixture()
def engine(engine_over):
    return engine_over({"sendai.txt": SENDAI, "crosstalk.txt": CROSSTALK})


def test_a_number_keeps_the_kind_of_its_unit():
    assert unit_kinds("造成超过10米海啸，10人受伤，2023年") == {"10": {"length", "people"}, "2023": {""}}
    assert unit_kinds("3万平方公里，约1.5万多人，40余个窗口") == {"3": {"area"}, "1.5": {"people"}, "40": {""}}
    assert units_missing("10人", "造成超过10米海啸") == ["10"]  # people on a length
    assert units_missing("10名死者", "造成10人死亡") == []  # 名 and 人 are one kind
    assert units_missing("10人", "造成超过10米海啸，10人受伤") == []  # the support writes both
    assert units_missing("40台自动售票机", "大厅共设有40余个窗口") == []  # 个: a word of no known kind says nothing
    assert units_missing("10人", "超过10次") == [] and units_missing("10人", "共10") == []  # bare: not judged
    assert units_missing("373公里", "位于外海373公里处") == []
    assert units_missing("约两小时", "航程大约两小时") == []  # Chinese numerals are read as digits (with_digits)
    assert units_missing("2小时", "航程大约两天") == []  # 2 of another kind: duration both (the value check's job)


def test_the_unit_check_applies_only_where_the_switch_says_so(monkeypatch):
    assert support.UNIT_KINDS is True and support.NAMES_BESIDE is True  # taken in round 58
    assert missing_requirements("10人。", SENDAI, SENDAI) == ["10"]
    monkeypatch.setattr(support, "UNIT_KINDS", False)  # what the pool was measured against
    assert missing_requirements("10人。", SENDAI, SENDAI) == []
    monkeypatch.setattr(support, "UNIT_KINDS", True)
    assert missing_requirements("10米。", SENDAI, SENDAI) == []


def test_a_name_the_claim_adds_must_stand_beside_its_sentence(monkeypatch):
    passage = CROSSTALK
    last = "在以郭德纲为主的相声演员的努力下，中国大陆的相声艺术也首次在非华语地区举行大型演出。"
    beside = "郭德纲不但改编过大量的传统相声，同时也创作了大量的相声。" + last
    claim = "中国大陆的相声艺术首次在非华语地区举行大型演出是在天津。"
    monkeypatch.setattr(support, "NAMES_BESIDE", False)
    assert missing_requirements(claim, last, passage, beside=beside) == []  # switch off: the passage holds 天津
    monkeypatch.setattr(support, "NAMES_BESIDE", True)
    assert missing_requirements(claim, last, passage, beside=beside) == ["天津"]
    assert missing_requirements(claim, last, passage) == []  # no `beside` given: the passage, as before
    # a name the question holds is the question's check (its anchors, in the passage), not this one
    assert missing_requirements(claim, last, passage, beside=beside, asked="天津的相声首次在哪里演出？") == []
    # the lead still counts: a biography's later passage says 她
    assert missing_requirements(claim, last, passage, lead="天津是相声之乡。", beside=beside) == []


def test_best_support_reads_the_sentence_and_its_neighbours(engine, monkeypatch):
    hit = passage_with(engine, "首次在非华语地区")
    question = "郭德纲首次在非华语地区演出是在哪个国家？"
    claim = "中国大陆的相声艺术首次在非华语地区举行大型演出是在天津。"
    monkeypatch.setattr(support, "NAMES_BESIDE", False)
    monkeypatch.setattr(support, "UNIT_KINDS", False)
    found = best_support(claim, None, hit, engine.index, DEFAULT_BAR, question=question)
    assert found is not None and found.supported  # before step 97: 天津 stands three sentences up
    monkeypatch.setattr(support, "NAMES_BESIDE", True)
    found = best_support(claim, None, hit, engine.index, DEFAULT_BAR, question=question)
    assert found is not None and not found.supported
    # a true claim whose name stands beside its sentence is still supported
    true = best_support("郭德纲在2005年之后走红。", None, hit, engine.index, DEFAULT_BAR,
                        question="郭德纲是在哪一年之后走红的？")
    assert true is not None and true.supported
    sendai = passage_with(engine, "超过10米海啸")
    toll = "这次地震造成仙台市多少人死亡？"
    ten = best_support("10人", None, sendai, engine.index, DEFAULT_BAR, question=toll)
    assert ten is not None and ten.supported  # before step 97: 10 stands by value on 10米
    monkeypatch.setattr(support, "UNIT_KINDS", True)
    ten = best_support("10人", None, sendai, engine.index, DEFAULT_BAR, question=toll)
    assert ten is not None and not ten.supported
    metres = best_support("超过10米", None, sendai, engine.index, DEFAULT_BAR, question="这次地震造成多高的海啸？")
    assert metres is not None and metres.supported


def test_an_amount_of_money_keeps_its_currency(monkeypatch):
    """README step 101 (support.CURRENCY_KINDS): within step 97's unit check, money is split by currency, so 1亿元 does
    not stand on 1亿美元; 元 and 人民币 are one currency, and a bare number is still not judged."""
    paid = "美图累计购入31000枚以太币，总代价约2210万美元；美图2023年总收入27亿元人民币，炒币一度赚了1亿美元。"
    assert support.CURRENCY_KINDS is True  # taken in round 59
    monkeypatch.setattr(support, "CURRENCY_KINDS", False)
    assert units_missing("2210万元", paid) == []  # before: money is one kind
    assert unit_kinds("100美金") == {"100": {""}}  # 美金 is read only as a currency
    monkeypatch.setattr(support, "CURRENCY_KINDS", True)
    assert unit_kinds(paid) == {"31000": {""}, "2210": {"money:usd"}, "2023": {""}, "27": {"money:cny"},
                                "1": {"money:usd"}}
    assert units_missing("2210万元", paid) == ["2210"] and units_missing("1亿港元", paid) == ["1"]
    assert units_missing("2210万美元", paid) == [] and units_missing("约2210万美金", paid) == []
    assert units_missing("27亿人民币", paid) == [] and units_missing("27亿元", paid) == []  # one currency
    assert units_missing("27亿美元", paid) == ["27"]
    assert units_missing("1亿元", "一度赚了1亿") == []  # bare in the support: not judged
    assert missing_requirements("美图购入以太币花了2210万元。", paid, paid) == ["2210"]


def test_the_models_amount_in_another_currency_is_not_shown_as_supported(engine_over, monkeypatch):
    """Through ModelAnswerer: a reply giving the passage's 2210万美元 as 2210万元 keeps no sentence and is refused (step
    101); the same reply was kept before, and the passage's own currency still is."""
    from tests.answering.test_model_answerer import Scripted, run
    from tests.answering.test_respectively import BOUGHT, PRICES

    engine = engine_over({"coins.txt": f"{BOUGHT.replace('美图', '星海')}{PRICES}\n"})
    asked = "星海购买以太币的总对价是多少？"
    right = run(engine, Scripted("约2210万美元[1]。"), asked).answer
    assert (right.refused, right.text, right.answerer) == (False, "约2210万美元[1]。", "model")
    swapped = run(engine, Scripted("约2210万元[1]。"), asked).answer
    assert (swapped.refused, swapped.reason) == (True, "no sentence of the model's answer is supported by the passages")
    monkeypatch.setattr(support, "CURRENCY_KINDS", False)  # before step 101: money was one kind
    before = run(engine, Scripted("约2210万元[1]。"), asked).answer
    assert (before.refused, before.text, before.answerer) == (False, "约2210万元[1]。", "model")
