"""Tokenization, BM25, fusion and duplicate collapsing: pure functions with hand-computed answers."""

from __future__ import annotations

import math

import pytest

from rag.bm25 import BM25
from rag.fusion import collapse_duplicates, fuse_rankings, overlap_ratio
from rag.tokenize import tokenize


def test_tokenize_chinese_words_latin_and_numbers():
    assert tokenize("美图CFO颜劲良表示,毛利率在70%-75%之间") == \
        ["美", "图", "cfo", "颜劲良", "毛利", "利率", "毛利率", "70%", "75%", "之间"]


def test_tokenize_drops_question_words_and_normalizes_width():
    assert tokenize("美图2023年的总收入是多少？") == ["美", "图", "2023", "收入", "总收入"]
    assert tokenize("Ｗｉｎｋ") == tokenize("wink") == ["wink"]
    assert tokenize("的了吗？！") == []
    assert "什么" in tokenize("什么", keep_stopwords=True)


def test_bm25_scores_match_the_formula():
    bm = BM25.build([["a", "b"], ["b", "c"], ["c", "d"]])
    # N=3, df(a)=1: idf = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(8/3)
    assert bm.idf("a") == pytest.approx(math.log(8 / 3))
    assert bm.idf("zzz") == 0.0
    # every doc has length 2 = avgdl, tf=1: tf*(k1+1)/(tf+k1) = 2.5/2.5 = 1, so score = idf
    assert list(bm.scores(["a"])) == pytest.approx([math.log(8 / 3), 0.0, 0.0])
    # df(b)=2: idf = ln(1 + 1.5/2.5) = ln(1.6); a repeated query term counts once
    assert list(bm.scores(["b", "b"])) == pytest.approx([math.log(1.6), math.log(1.6), 0.0])
    assert bm.df("b") == 2 and bm.df("zzz") == 0
    assert bm.max_idf == pytest.approx(math.log(8 / 3))  # the rarest words occur once


def test_bm25_length_normalization_and_top():
    bm = BM25.build([["x"], ["x", "y", "y", "y"]])
    # avgdl = 2.5; doc0: norm = 1.5*(0.25+0.75*1/2.5) = 0.825 -> 2.5/1.825; doc1: 1.5*(0.25+0.75*4/2.5) = 2.175
    idf = math.log(1 + 0.5 / 2.5)
    assert list(bm.scores(["x"])) == pytest.approx([idf * 2.5 / 1.825, idf * 2.5 / 3.175])
    assert [row for row, _ in bm.top(["x"], 5)] == [0, 1]
    assert bm.top(["nothing"], 5) == []


def test_bm25_top_breaks_ties_by_row_and_keeps_only_n():
    bm = BM25.build([["z"], ["x"], ["y"], ["x"], ["x"]])
    assert [row for row, _ in bm.top(["x", "y"], 2)] == [2, 1]  # y is rarer; then the first tied x
    assert [row for row, _ in bm.top(["x"], 2)] == [1, 3]
    assert bm.top(["x"], 0) == []


def test_bm25_save_load_round_trip(tmp_path):
    bm = BM25.build([["美图", "收入"], ["收入", "增长", "增长"]])
    assert bm.save(tmp_path) == ["bm25.npz", "bm25_vocab.json"]
    again = BM25.load(tmp_path)
    assert again.vocab == bm.vocab and again.n_docs == 2
    assert list(again.scores(["增长"])) == list(bm.scores(["增长"]))
    assert again.idf("美图") == bm.idf("美图") == pytest.approx(math.log(1 + 1.5 / 1.5))


def test_bm25_empty_corpus(tmp_path):
    empty = BM25.build([])
    assert list(empty.scores(["a"])) == [] and empty.max_idf == 0.0
    empty.save(tmp_path)
    assert BM25.load(tmp_path).top(["a"], 3) == []
    assert BM25.build([[], []]).top(["a"], 3) == []


def test_reciprocal_rank_fusion_exact_scores():
    fused = fuse_rankings([["a", "b", "c"], ["b", "c", "d"]], k=60)
    assert [item for item, _ in fused] == ["b", "c", "a", "d"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 62)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)


def test_fusion_of_one_ranking_keeps_its_order_and_ignores_repeats():
    assert [i for i, _ in fuse_rankings([["x", "y", "x", "z"]])] == ["x", "y", "z"]
    assert fuse_rankings([]) == []
    with pytest.raises(ValueError, match="rrf k"):
        fuse_rankings([["a"]], k=0)


def test_overlap_ratio():
    assert overlap_ratio((0, 10), (5, 20)) == 0.5
    assert overlap_ratio((0, 10), (10, 20)) == 0.0
    assert overlap_ratio((0, 4), (0, 100)) == 1.0


def test_collapse_duplicates_drops_same_text_and_heavy_overlap():
    items = [("c1", "d1", (0, 100), "abc"), ("c2", "d1", (40, 140), "def"), ("c3", "d1", (80, 180), "ghi"),
             ("c4", "d2", (0, 100), "abc"), ("c5", "d2", (500, 600), "jkl")]
    # c2 overlaps c1 by 60/100 > 0.5: dropped; c3 overlaps c1 by 20 (kept); c4 repeats c1's text: dropped
    assert collapse_duplicates(items) == [0, 2, 4]
