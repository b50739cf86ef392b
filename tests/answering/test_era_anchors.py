"""A century or decade the question names, met by a year inside it in the passage (README, "How auto was chosen",
step 92; support.question_anchors, support.anchors_missing): `21世纪初` asked, `郭德纲在2005年之后走红` written."""

from __future__ import annotations

import pytest

from rag.answering.meaning import missing_words
from rag.answering.support import anchors_missing, era_numbers, era_stands, era_years, question_anchors
from tests.answering.test_model_answerer import Scripted, run

# DRCD dev (simplified): the model's right answer was not kept, the question's 21 missing from the passage
XIANGSHENG = ("在天津的许多小剧场与茶馆都可以听到相当精采的传统相声。而同样曾在茶馆传统方式演出的郭德纲在2005年之后走红，"
              "给观众带了一些对传统的认同，并让中国大陆看到相声复兴的希望。")
ASKED = "21世纪初，谁的走红让中国大陆看到相声复兴的希望?"


@pytest.mark.parametrize(("question", "anchors"), [
    (ASKED, {"21世纪"}),
    ("哪一种艺术形式在1950年代的东德被官方鼓励？", {"1950年代", "东德"}),
    ("谢斐道和哪一条街道是1950、60年代湾仔的红灯区？", {"1950", "60年代", "谢斐道"}),  # 1950 is a year here
    ("2023年美图营收多少？", {"2023"}),
    ("21世纪的21个国家", {"21"}),  # a number written otherwise too stays a number
    ("1955年代", {"1955"}),  # a decade is a multiple of ten
])
def test_a_number_written_only_as_a_century_or_decade_is_pinned_as_that_era(question, anchors):
    assert question_anchors(question) == frozenset(anchors)


def test_the_years_an_era_spans():
    assert era_years("21世纪") == [(2000, 2100)]
    assert era_years("1950年代") == [(1950, 1959)]
    assert era_years("60年代") == [(1960, 1969), (2060, 2069)]
    assert era_years("2023") == [] and era_numbers("2023年") == {}


@pytest.mark.parametrize(("anchor", "text", "stands"), [
    ("21世纪", XIANGSHENG, True),
    ("21世纪", "21世纪初，相声复兴。", True),  # the era's own number, as before
    ("21世纪", "郭德纲在1995年之后走红。", False),
    ("18世纪", "库克在1769年到达纽西兰。", True),
    ("1950年代", "1957年，东德鼓励社会主义现实主义。", True),
    ("1950年代", "1949年，东德成立。", False),
    ("60年代", "1965年，湾仔。", True),
    ("21世纪", "该公司有2005名员工。", False),  # a count is not a year
])
def test_a_year_inside_the_era_meets_it(anchor, text, stands):
    assert era_stands(anchor, text) is stands
    assert anchors_missing(frozenset({anchor}), text) == ([] if stands else [anchor])


def test_the_meaning_check_does_not_read_a_met_era_as_missing():
    # step 30's missing words: 21 and 世纪 of 21世纪 are met by 2005年, as the anchors are
    assert missing_words(ASKED, XIANGSHENG) == []
    assert missing_words(ASKED, XIANGSHENG.replace("2005年", "1995年")) == ["21", "世纪"]


def test_the_models_right_answer_is_kept_where_the_passage_writes_a_year_of_the_century(engine_over):
    engine = engine_over({"xiangsheng.txt": XIANGSHENG + "\n"})
    answer = run(engine, Scripted("郭德纲[1]。"), ASKED).answer
    assert (answer.refused, answer.text) == (False, "郭德纲[1]。")
    # a century the passage has no year of still pins the question: the reply is not kept
    other = run(engine, Scripted("郭德纲[1]。"), ASKED.replace("21世纪", "19世纪")).answer
    assert (other.refused, other.reason) == (True, "no sentence of the model's answer is supported by the passages")
