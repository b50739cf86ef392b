"""Exact, hand-computed checks of rag.evaluation.metrics (every expected value is worked out in a comment)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from rag.evaluation.metrics import (
    citation_precision,
    citation_recall,
    cmrc_em,
    cmrc_f1,
    cmrc_mixed_segmentation,
    cmrc_remove_punctuation,
    contains_gold,
    fair_match,
    find_spans,
    hit_at_k,
    markers_resolve,
    mean_ignoring_nan,
    ndcg_at_k,
    near_match,
    normalize_answer,
    percentile,
    recall_at_k,
    reciprocal_rank,
    refusal_rates,
    relevance_flags,
    spans_overlap,
    strip_citation_markers,
    without_question,
)
from rag.schema import Span

NAN = float("nan")


# --- normalize_answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the spec example: spaces and ',' dropped, '.' between digits and '%' after a digit kept
        ("27 亿元,同比增长29.3%", "27亿元同比增长29.3%"),
        # full width folds under NFKC: '２７'->'27', '，' dropped, '．'->'.', '％'->'%'
        ("２７亿元，同比增长２９．３％", "27亿元同比增长29.3%"),
        # lowercase; '-' between 't' and '4' is not between digits -> dropped
        ("GPT-4o 模型", "gpt4o模型"),
        # '-' between digits kept
        ("2020-2021年", "2020-2021年"),
        # thousands comma dropped
        ("1,000", "1000"),
        # final '.' is not between digits; '。' dropped
        ("句号。结尾.", "句号结尾"),
        # CJK punctuation of every kind dropped, letters/digits inside kept
        ("“美图”（Meitu）《报告》【1】、—…·！？；：‘’", "美图meitu报告1"),
        # '%' not after a digit dropped
        ("% 50", "50"),
        # context is judged after whitespace removal: "50 %" -> "50%", "3. 5" -> "3.5"
        ("50 %", "50%"),
        ("3. 5", "3.5"),
        # a leading minus is not between digits
        ("-5", "5"),
        # whitespace of every kind (ideographic space U+3000, tab, newline) removed
        ("美 图\u3000公\t司\n", "美图公司"),
        ("", ""),
        ("  \u3000\n", ""),
        ("，。！？", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


# --- strip_citation_markers / contains_gold --------------------------------------------------


def test_strip_citation_markers() -> None:
    assert strip_citation_markers("A[1]B[12][3]。") == "AB。"
    # not markers: letters, empty brackets, full-width brackets
    assert strip_citation_markers("[a][]【1】") == "[a][]【1】"
    assert strip_citation_markers("") == ""


def test_contains_gold() -> None:
    # "营收为27亿元同比增长29.3%" (normalized, marker removed) contains "27亿元"
    assert contains_gold("营收为27亿元，同比增长29.3%[1]", ["27 亿元"]) is True
    # any gold is enough
    assert contains_gold("营收为27亿元", ["30亿元", "27亿元"]) is True
    # "29.35%" does not contain "29.3%": keeping '%' avoids a false match
    assert contains_gold("增长29.35%", ["29.3%"]) is False
    # the digit of a citation marker never counts as answer text: "见[1]。" -> "见"
    assert contains_gold("见[1]。", ["1"]) is False
    # full width prediction vs half width gold
    assert contains_gold("ＧＰＴ－４", ["gpt4"]) is True


def test_a_gold_number_inside_a_longer_number_is_not_found() -> None:
    assert contains_gold("影像与设计产品业务收入为13.27亿", ["27亿"]) is False  # a decimal point before it
    assert contains_gold("总收入27亿元，其中影像业务13.27亿", ["27亿"]) is True  # the whole number is there too
    assert contains_gold("2018年", ["2018"]) is True
    assert contains_gold("20180人", ["2018"]) is False
    assert contains_gold("15年", ["1"]) is False
    assert contains_gold("约2.49亿", ["2"]) is False  # a decimal point after it
    assert contains_gold("第1名", ["1"]) is True
    assert contains_gold("2020-2021年", ["2021"]) is True  # a range's end is a number of its own
    assert fair_match("13.27亿", ["27亿"]) is False


def test_without_question_drops_the_runs_the_question_holds() -> None:
    # 嘉兴南站建筑总面积为 and 平方米 are runs of the question; 5.6万 is not
    assert without_question("嘉兴南站建筑总面积为5.6万平方米", "嘉兴南站建筑总面积为多少平方米？") == "5.6万"
    # a single shared character (的) is kept: runs start at two characters
    assert without_question("加入欧盟的决心", "什么的考验？") == "加入欧盟的决心"
    assert without_question("足球运动员", "邹游的职业是什么？") == "足球运动员"
    assert without_question("", "问题") == ""


def test_near_match_credits_an_answer_that_restates_its_question() -> None:
    q = "嘉兴南站建筑总面积为多少平方米？"
    # fair_match: 嘉兴南站建筑总面积为5.6万平方米 is not inside 近5.6万平方米; beyond the question it says 5.6万 against
    # the gold's 近5.6万: common substring 4 of 4 and 5 characters, F1 = 2 * 1 * 0.8 / 1.8 = 0.889
    assert fair_match("嘉兴南站建筑总面积为5.6万平方米[1]。", ["近5.6万平方米"]) is False
    assert near_match("嘉兴南站建筑总面积为5.6万平方米[1]。", ["近5.6万平方米"], q) is True
    assert near_match("嘉兴南站建筑总面积为5.6万平方米", ["近5.6万平方米"], q, min_f1=0.9) is False
    # 10-14个叉有些甚至达至20个 (16) in 分开为10-14个叉有些甚至达至20个 (19): F1 = 2 * 16 / 35 = 0.914
    assert near_match("雄鹿的鹿角有10-14个叉，有些甚至达至20个[1]。", ["分开为10-14个叉，有些甚至达至20个。"],
                      "雄鹿的鹿角有什么特点？") is True


def test_near_match_refuses_another_value_and_foreign_numbers() -> None:
    assert near_match("邹游的职业是中场[1]。", ["足球运动员"], "邹游的职业是什么？") is False  # 中场: nothing in common
    assert near_match("4条线[1]。", ["8线", "8条线"], "嘉兴南站有几条线？") is False  # 4 against 8
    # the gold's 1655 is not in the answer
    assert near_match("硕塞卒于顺治元年（1644年）", ["顺治十一年", "1655年"], "硕塞卒于哪一年？") is False
    # every word right, but a number the gold lacks added: 2 against the gold's none
    assert near_match("西巴丹岛以优美的自然景观及潜水环境闻名世界", ["优美的的自然景观及潜水环境"], "西巴丹岛以什么闻名世界？") is True
    assert near_match("西巴丹岛以2种优美的自然景观及潜水环境闻名世界", ["优美的的自然景观及潜水环境"], "西巴丹岛以什么闻名世界？") is False
    # a gold the question holds whole (a choice question) is left to fair_match
    assert near_match("生产向产品", ["生活向"], "开拍属于生活向产品还是生产向产品？") is False
    assert near_match("", ["足球运动员"], "邹游的职业是什么？") is False


def test_contains_gold_edge_cases() -> None:
    assert contains_gold("anything", []) is False
    # a gold that normalizes to "" would match everything, so it is ignored
    assert contains_gold("anything", ["，。", ""]) is False
    assert contains_gold("", ["美图"]) is False


# --- CMRC 2018 -------------------------------------------------------------------------------


def test_cmrc_mixed_segmentation() -> None:
    # Chinese chars one by one; "2023" and "29.3" are one token each, '%' its own token
    assert cmrc_mixed_segmentation("美图2023年营收29.3%", rm_punc=True) == [
        "美", "图", "2023", "年", "营", "收", "29.3", "%",
    ]  # fmt: skip
    # without rm_punc '-' and '，' are tokens and split the ASCII run; with it they vanish
    assert cmrc_mixed_segmentation("GPT-4o，模型") == ["gpt", "-", "4o", "，", "模", "型"]
    assert cmrc_mixed_segmentation("GPT-4o，模型", rm_punc=True) == ["gpt4o", "模", "型"]
    assert cmrc_mixed_segmentation("  Hello World  ") == ["hello", "world"]
    # official quirk: '……' in sp_char is two characters, so '…' is not punctuation; nltk keeps
    # the run "……" whole
    assert cmrc_mixed_segmentation("好……", rm_punc=True) == ["好", "……"]
    # nltk rules: ',' splits before a non-digit only, '.' splits only at the end, '%' always
    assert cmrc_mixed_segmentation("x,y 1,000 v1.2 5.") == ["x", ",", "y", "1,000", "v1.2", "5", "."]
    assert cmrc_mixed_segmentation("(a)$5&b") == ["(", "a", ")", "$", "5", "&", "b"]
    assert cmrc_mixed_segmentation("") == []


def test_cmrc_remove_punctuation() -> None:
    assert cmrc_remove_punctuation(" 美图，公司。 ") == "美图公司"
    # inner whitespace survives (the official script does not remove it)
    assert cmrc_remove_punctuation("27 亿") == "27 亿"
    # '.' and '%' are not in the official list
    assert cmrc_remove_punctuation("29.3%") == "29.3%"
    # '‘' is not in the official list, '’' is
    assert cmrc_remove_punctuation("‘x’") == "‘x"


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("美图公司", ["美图公司"], 1.0),
        # pred 美 图 公 司 的 营 收 (7), gold 营 收 (2), lcs 2:
        # P = 2/7, R = 1, F1 = 2(2/7)/(2/7 + 1) = (4/7)/(9/7) = 4/9
        ("美图公司的营收", ["营收"], 4 / 9),
        # max over golds: max(0, 4/9)
        ("美图公司的营收", ["无关", "营收"], 4 / 9),
        # pred 2023 年 营 收 27 亿 元 (7), gold 营 收 约 27 亿 元 (6); longest common run 27 亿 元 = 3:
        # P = 3/7, R = 1/2, F1 = 2(3/7)(1/2)/(3/7 + 1/2) = (3/7)/(13/14) = 6/13
        ("2023年营收27亿元", ["营收约27亿元"], 6 / 13),
        # substring, not subsequence: 甲乙丙丁 vs 甲丙丁 -> run 丙丁 = 2 (a subsequence would be 3):
        # P = 2/4, R = 2/3, F1 = 2(1/2)(2/3)/(1/2 + 2/3) = (2/3)/(7/6) = 4/7
        ("甲乙丙丁", ["甲丙丁"], 4 / 7),
        # duplicate tokens: 哈 哈 哈 vs 哈 -> lcs 1, P = 1/3, R = 1, F1 = (2/3)/(4/3) = 1/2
        ("哈哈哈", ["哈"], 1 / 2),
        # marker stripped before scoring (kept, it would add [ 1 ] tokens: 4 vs 7 -> 8/11)
        ("美图公司[1]", ["美图公司"], 1.0),
        # punctuation and case ignored
        ("美图公司。", ["美图公司"], 1.0),
        ("GPT", ["gpt"], 1.0),
        # mixed: pred gpt4o 模 型 (3), gold gpt4o (1): P = 1/3, R = 1, F1 = 1/2
        ("GPT-4o 模型", ["gpt-4o"], 1 / 2),
        ("完全不同", ["美图"], 0.0),
        ("美图", [], 0.0),
        ("", ["美图"], 0.0),
        ("[1]", ["美图"], 0.0),
    ],
)
def test_cmrc_f1(prediction: str, golds: list[str], expected: float) -> None:
    assert cmrc_f1(prediction, golds) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("美图公司。", ["美图公司"], 1.0),
        # whitespace is not punctuation for the official EM
        ("美图 公司", ["美图公司"], 0.0),
        ("29.3%", ["29.3%"], 1.0),
        ("29.3", ["29.3%"], 0.0),
        ("[2]美图", ["美图"], 1.0),
        ("Meitu", ["meitu "], 1.0),
        ("美图", ["x", "美图"], 1.0),
        ("美图", [], 0.0),
        ("", [""], 1.0),
    ],
)
def test_cmrc_em(prediction: str, golds: list[str], expected: float) -> None:
    assert cmrc_em(prediction, golds) == expected


# --- spans -----------------------------------------------------------------------------------


def test_find_spans() -> None:
    assert find_spans("abcabc", "bc") == [Span(1, 3), Span(4, 6)]
    # non-overlapping, left to right: "aaaa" holds "aa" at 0 and 2 (not at 1)
    assert find_spans("aaaa", "aa") == [Span(0, 2), Span(2, 4)]
    assert find_spans("aaa", "aa") == [Span(0, 2)]
    assert find_spans("美图美图", "图") == [Span(1, 2), Span(3, 4)]
    assert find_spans("abc", "x") == []
    assert find_spans("abc", "") == []
    assert find_spans("", "a") == []


def test_spans_overlap() -> None:
    assert spans_overlap(Span(0, 5), Span(4, 9)) is True
    assert spans_overlap(Span(4, 9), Span(0, 5)) is True
    # half-open: touching ranges share no character
    assert spans_overlap(Span(0, 5), Span(5, 9)) is False
    assert spans_overlap(Span(0, 10), Span(3, 4)) is True
    # empty ranges never overlap, even inside another range
    assert spans_overlap(Span(3, 3), Span(0, 5)) is False
    # plain pairs and mixtures work
    assert spans_overlap((0, 5), Span(4, 9)) is True
    assert spans_overlap((0, 5), (7, 9)) is False


# --- retrieval -------------------------------------------------------------------------------

PASSAGES = [(0, 10), (10, 20), (20, 30), (30, 40)]


def test_relevance_flags() -> None:
    # evidence A at 12..15 (passage 2), evidence B twice: 35..38 (passage 4) and 5..8 (passage 1)
    evidence = [[Span(12, 15)], [Span(35, 38), Span(5, 8)]]
    assert relevance_flags(PASSAGES, evidence) == [True, True, False, True]
    assert relevance_flags([], evidence) == []
    assert relevance_flags(PASSAGES, []) == [False] * 4
    # an evidence string that never occurs
    assert relevance_flags(PASSAGES, [[]]) == [False] * 4
    # a passage touching the evidence at its edge is not relevant: [10,20) vs [20,22)
    assert relevance_flags([(10, 20)], [[(20, 22)]]) == [False]


def test_hit_at_k() -> None:
    flags = [False, False, True]
    assert hit_at_k(flags, 1) == 0.0
    assert hit_at_k(flags, 2) == 0.0
    assert hit_at_k(flags, 3) == 1.0
    assert hit_at_k(flags, 10) == 1.0  # k beyond the list
    assert hit_at_k([], 5) == 0.0
    assert hit_at_k([False] * 4, 4) == 0.0
    with pytest.raises(ValueError):
        hit_at_k(flags, 0)


def test_recall_at_k() -> None:
    retrieved = [(0, 10), (10, 20), (20, 30)]
    # three evidence strings: in passage 2, in passage 3, and far outside the list
    evidence = [[(12, 15)], [(25, 27)], [(100, 110)]]
    assert recall_at_k(retrieved, evidence, 1) == 0.0  # 0/3
    assert recall_at_k(retrieved, evidence, 2) == pytest.approx(1 / 3)  # 1/3
    assert recall_at_k(retrieved, evidence, 3) == pytest.approx(2 / 3)  # 2/3
    assert recall_at_k(retrieved, evidence, 99) == pytest.approx(2 / 3)  # k beyond the list


def test_recall_at_k_edge_cases() -> None:
    # duplicated body: one occurrence of the string is enough
    assert recall_at_k([(100, 110)], [[(5, 8), (105, 108)]], 1) == 1.0
    # the same passage twice does not count twice: 1 of 2 strings covered
    assert recall_at_k([(10, 20), (10, 20)], [[(12, 15)], [(25, 27)]], 2) == 0.5
    # a string that never occurs stays in the denominator: 1/2
    assert recall_at_k([(10, 20)], [[(12, 15)], []], 1) == 0.5
    assert recall_at_k([], [[(12, 15)]], 3) == 0.0
    assert math.isnan(recall_at_k([(0, 10)], [], 1))
    with pytest.raises(ValueError):
        recall_at_k([(0, 10)], [[(0, 1)]], 0)


def test_reciprocal_rank() -> None:
    assert reciprocal_rank([False, False, True, True]) == pytest.approx(1 / 3)  # first hit at rank 3
    assert reciprocal_rank([True]) == 1.0
    assert reciprocal_rank([False, True]) == 0.5
    assert reciprocal_rank([False, False]) == 0.0
    assert reciprocal_rank([]) == 0.0


def test_ndcg_at_k() -> None:
    inv_log2_3 = 1 / math.log2(3)  # 0.6309297536
    inv_log2_5 = 1 / math.log2(5)  # 0.4306765581
    flags = [False, True, False, True]
    # k=4: DCG = 1/log2(3) + 1/log2(5) = 1.0616063117; ideal [T,T,F,F]: 1 + 1/log2(3) = 1.6309297536
    #      nDCG = 1.0616063117 / 1.6309297536 = 0.6509209...
    assert ndcg_at_k(flags, 4) == pytest.approx((inv_log2_3 + inv_log2_5) / (1 + inv_log2_3))
    assert ndcg_at_k(flags, 4) == pytest.approx(0.650920, abs=1e-6)
    # k=2: DCG = 1/log2(3); ideal top 2 = 1 + 1/log2(3); 0.6309297536 / 1.6309297536 = 0.386853...
    assert ndcg_at_k(flags, 2) == pytest.approx(0.386853, abs=1e-6)
    # k=1: DCG 0 (rank 1 irrelevant), ideal 1 -> 0
    assert ndcg_at_k(flags, 1) == 0.0
    # k beyond the list: [F,T], DCG = 1/log2(3), ideal [T,F] = 1 -> 0.6309297536
    assert ndcg_at_k([False, True], 10) == pytest.approx(inv_log2_3)


def test_ndcg_at_k_edge_cases() -> None:
    assert ndcg_at_k([True, True, False], 3) == 1.0  # already ideal
    assert ndcg_at_k([True, True, True], 2) == 1.0  # duplicates of relevant passages
    assert ndcg_at_k([False, False], 2) == 0.0  # nothing relevant
    assert ndcg_at_k([], 5) == 0.0
    with pytest.raises(ValueError):
        ndcg_at_k([True], 0)


# --- citations -------------------------------------------------------------------------------


def test_citation_precision() -> None:
    evidence = [[(12, 15)], [(25, 27)]]
    # passages 2 and 3 overlap evidence, passage 1 does not: 2/3
    assert citation_precision([(0, 10), (10, 20), (20, 30)], evidence) == pytest.approx(2 / 3)
    # duplicates count as given: [hit, hit, miss] -> 2/3
    assert citation_precision([Span(10, 20), Span(10, 20), Span(0, 10)], evidence) == pytest.approx(2 / 3)
    assert citation_precision([(0, 10)], []) == 0.0  # cited, but nothing to support
    assert math.isnan(citation_precision([], evidence))


def test_citation_recall() -> None:
    evidence = [[(12, 15)], [(25, 27)]]
    assert citation_recall([(10, 20)], evidence) == 0.5  # 1 of 2 strings
    assert citation_recall([(10, 20), (20, 30)], evidence) == 1.0
    assert citation_recall([], evidence) == 0.0
    # duplicated body: the second occurrence is covered -> 1/1
    assert citation_recall([(100, 110)], [[(5, 8), (105, 108)]]) == 1.0
    assert math.isnan(citation_recall([(0, 10)], []))


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("A[1]B[2]。", 2, True),
        ("A[1]B[1]。", 1, True),  # a number may be used twice
        ("[2][1]", 2, True),  # order and adjacency do not matter
        ("A[1]。", 2, False),  # citation 2 unused
        ("A[3]", 2, False),  # dangling marker
        ("A[0]", 1, False),  # numbering starts at 1
        ("no markers", 0, True),
        ("no markers", 1, False),
        ("A[1]", 0, False),
        ("A[a]【1】", 0, True),  # neither is a marker
    ],
)
def test_markers_resolve(text: str, n: int, expected: bool) -> None:
    assert markers_resolve(text, n) is expected


# --- refusal ---------------------------------------------------------------------------------


def test_refusal_rates() -> None:
    refused = [True, False, True, False, True]
    answerable = [False, False, True, True, True]
    # unanswerable cases 0,1 -> refused T,F -> 1/2; answerable cases 2,3,4 -> T,F,T -> 2/3
    rates = refusal_rates(refused, answerable)
    assert rates.keys() == {"refused_unanswerable", "wrongly_refused"}
    assert rates["refused_unanswerable"] == 0.5
    assert rates["wrongly_refused"] == pytest.approx(2 / 3)


def test_refusal_rates_edge_cases() -> None:
    only_answerable = refusal_rates([False, True], [True, True])
    assert math.isnan(only_answerable["refused_unanswerable"])
    assert only_answerable["wrongly_refused"] == 0.5
    empty = refusal_rates([], [])
    assert math.isnan(empty["refused_unanswerable"]) and math.isnan(empty["wrongly_refused"])
    with pytest.raises(ValueError):
        refusal_rates([True], [True, False])


# --- aggregation -----------------------------------------------------------------------------


def test_percentile() -> None:
    xs = [4.0, 1.0, 3.0, 2.0]  # sorted 1 2 3 4
    assert percentile(xs, 50) == 2.5  # pos 3*0.5 = 1.5 -> 2 + 0.5*(3-2)
    assert percentile(xs, 90) == pytest.approx(3.7)  # pos 2.7 -> 3 + 0.7*(4-3)
    assert percentile(xs, 0) == 1.0
    assert percentile(xs, 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, NAN, 3.0], 50) == 2.0  # NaN ignored: [1,3], pos 0.5 -> 2
    assert math.isnan(percentile([], 50))
    assert math.isnan(percentile([NAN], 50))
    with pytest.raises(ValueError):
        percentile(xs, 101)
    with pytest.raises(ValueError):
        percentile(xs, -1)


def test_percentile_matches_numpy() -> None:
    rng = random.Random(0)
    for n in (1, 2, 3, 10, 101):
        xs = [rng.uniform(-100, 100) for _ in range(n)]
        for p in (0, 5, 25, 50, 90, 95, 99, 100, 33.3):
            assert percentile(xs, p) == pytest.approx(float(np.percentile(xs, p)), rel=1e-12, abs=1e-12)


def test_mean_ignoring_nan() -> None:
    assert mean_ignoring_nan([1.0, 2.0, NAN, 6.0]) == 3.0  # (1+2+6)/3
    assert mean_ignoring_nan([0.5]) == 0.5
    assert math.isnan(mean_ignoring_nan([]))
    assert math.isnan(mean_ignoring_nan([NAN, NAN]))
