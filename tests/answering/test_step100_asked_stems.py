"""README step 100: a place the question writes with its administrative division (曼尼托巴省, 修水县) stands where the
passage writes its stem (曼尼托巴, 修水); a place the answer adds must stand whole (support.ASKED_DIVISION_STEMS, read at
call time, as study_model.py's --division-stems-asked sets it). Step 74 read every place on its stem and lost a city the
answer added (台北市 standing on 台北)."""

from __future__ import annotations

import pytest

from rag.answering import support
from rag.answering.support import DEFAULT_BAR, anchors_missing, best_support, missing_requirements
from tests.answering.test_document_lead import passage_with  # the last chunk holding a text, as a hit

# DRCD dev b and DRCD test (traditional → simplified), the pool's two refused right replies and step 74's loss, cut short
MANITOBA = ("曼尼托巴的省会和最大的城市是温尼伯，同时也是省内人口最多的城市，是加拿大第八大人口普查区。"
            "温尼伯市是省政府、曼尼托巴立法议会和省法院的所在地。\n")
XIUSHUI = "修水共有林业用地面积497.62万亩，森林覆盖率49.2%，活立木蓄积量736万立方米。\n"
AWARD = "2016年6月，新北市获得城市转型卓越奖的冠军。清代此地始有「台北」之称。\n"
ASKED = "曼尼托巴省省内人口最多的城市是哪一个城市?"
REPLY = "温尼伯是曼尼托巴省省内人口最多的城市。"


@pytest.fixture()
def engine(engine_over):
    return engine_over({"manitoba.txt": MANITOBA, "xiushui.txt": XIUSHUI, "award.txt": AWARD})


def test_only_the_question_s_own_places_stand_on_their_stems(monkeypatch):
    assert support.ASKED_DIVISION_STEMS is True and support.DIVISION_STEMS is False  # step 100 taken, step 74 not
    monkeypatch.setattr(support, "ASKED_DIVISION_STEMS", False)
    assert missing_requirements(REPLY, MANITOBA, MANITOBA, asked=ASKED) == ["曼尼托巴省"]  # before: required whole
    assert anchors_missing(frozenset(), MANITOBA, places=frozenset({"曼尼托巴省"})) == ["曼尼托巴省"]
    monkeypatch.setattr(support, "ASKED_DIVISION_STEMS", True)
    assert missing_requirements(REPLY, MANITOBA, MANITOBA, asked=ASKED) == []
    assert anchors_missing(frozenset(), MANITOBA, places=frozenset({"曼尼托巴省"})) == []  # the question's places
    # the same claim to a question that does not write the place: the claim adds it, so it must stand whole
    assert missing_requirements(REPLY, MANITOBA, MANITOBA, asked="哪一个城市人口最多?") == ["曼尼托巴省"]
    assert missing_requirements(REPLY, MANITOBA, MANITOBA) == ["曼尼托巴省"]  # no question given: as added
    # step 74's loss: 台北市, added by the answer, does not stand on the passage's 台北
    assert missing_requirements("台北市获得了冠军。", AWARD, AWARD,
                                asked="城市转型卓越奖中哪一座城市在2016年6月得到冠军？") == ["台北市"]
    # a swapped place still needs its own stem; a one-character stem never counts
    swapped = "温尼伯是安大略省省内人口最多的城市。"
    assert missing_requirements(swapped, MANITOBA, MANITOBA, asked="安大略省省内人口最多的城市是哪一个城市?") == ["安大略省"]
    assert anchors_missing(frozenset(), MANITOBA, places=frozenset({"安大略省"})) == ["安大略省"]
    assert missing_requirements("德州最大。", "德国最大。", "德国最大。", asked="德州哪里最大?") == ["德州"]
    # an explicit `divisions` still decides alone, as step 74's callers pass it
    assert missing_requirements(REPLY, MANITOBA, MANITOBA, divisions=False, asked=ASKED) == ["曼尼托巴省"]


def test_best_support_keeps_the_reply_that_echoes_the_question_s_place(engine, monkeypatch):
    monkeypatch.setattr(support, "ASKED_DIVISION_STEMS", False)
    hit = passage_with(engine, "温尼伯")
    found = best_support(REPLY, None, hit, engine.index, DEFAULT_BAR, question=ASKED)
    assert found is not None and not found.supported
    monkeypatch.setattr(support, "ASKED_DIVISION_STEMS", True)
    found = best_support(REPLY, None, hit, engine.index, DEFAULT_BAR, question=ASKED)
    assert found is not None and found.supported and "温尼伯" in found.sentence.text
    forest = passage_with(engine, "森林覆盖率")
    found = best_support("修水县的森林覆盖率是49.2%。", None, forest, engine.index, DEFAULT_BAR,
                         question="修水县这一地区的森林覆盖率高达百分之多少?")
    assert found is not None and found.supported
    wrong = best_support("修水县的森林覆盖率是59.2%。", None, forest, engine.index, DEFAULT_BAR,
                         question="修水县这一地区的森林覆盖率高达百分之多少?")
    assert wrong is not None and not wrong.supported  # the stem lets the place stand, never a number
    award = passage_with(engine, "新北市")
    added = best_support("台北市获得了冠军。", None, award, engine.index, DEFAULT_BAR,
                         question="城市转型卓越奖中哪一座城市在2016年6月得到冠军？")
    assert added is not None and not added.supported
