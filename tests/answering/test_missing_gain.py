"""README step 75 (measured, not taken): the gain from the excerpts of the question's words that the answer's passage
lacks (confidence.token_spans, word_gain, missing_gain) and scripts/choose_policy.py --missing-gain-cut's simulation."""

from __future__ import annotations

import math

import pytest

from rag.answering.confidence import missing_gain, token_spans, word_gain
from tests.answering.test_model_answerer import _script
from tests.answering.test_question_gain import row


def test_tokens_are_aligned_to_the_characters_they_spell():
    assert token_spans("美图的净利润", ["美图", "的", "净利润"]) == [(0, 2), (2, 3), (3, 6)]
    # 彰 (three bytes) split across two tokens the way llama.cpp detokenizes them alone: both cover the character
    assert token_spans(" 彰化市", [" \ufffd", "\ufffd", "化", "市"]) == [(0, 2), (1, 2), (2, 3), (3, 4)]
    assert token_spans("美图", ["美", "国"]) is None  # not this text
    assert token_spans("美图的", ["美", "图"]) is None  # a token missing
    assert token_spans("", []) == []


def test_a_words_gain_is_the_mean_over_the_tokens_it_overlaps():
    with_excerpts = ((" 项目", -1.0), ("哪", -1.0), ("一年", -1.0), ("完", -3.0), ("工", -1.0), ("？", 0.0))
    without = ((" 项目", -2.0), ("哪", -1.5), ("一年", -1.0), ("完", -2.0), ("工", -2.0), ("？", -4.0))
    # the prompt's space before the question is found either way; 完工 spans two tokens: (-1 + 1) / 2
    assert word_gain("项目哪一年完工？", with_excerpts, without, "完工") == pytest.approx(0.0)
    assert word_gain("项目哪一年完工？", with_excerpts, without, "项目") == pytest.approx(1.0)
    assert word_gain("项目哪一年完工？", with_excerpts, without, "开工") is None  # not in the question
    assert word_gain("项目哪一年开工？", with_excerpts, without, "项目") is None  # the readings spell another question
    assert word_gain("项目哪一年完工？", with_excerpts, without[:-1], "项目") is None  # not the same tokens
    assert word_gain("项目哪一年完工？", (), (), "项目") is None
    assert missing_gain("项目哪一年完工？", with_excerpts, without, ["项目", "完工", "开工"]) == ("完工", pytest.approx(0.0))
    assert missing_gain("项目哪一年完工？", with_excerpts, without, ["开工"]) is None
    assert missing_gain("项目哪一年完工？", with_excerpts, without, []) is None
    # a Latin word is found case-folded, as tokenize folds the question's words
    assert word_gain("Wink有多少用户？", (("Wink", -1.0), ("有多少用户", -1.0), ("？", 0.0)),
                     (("Wink", -4.0), ("有多少用户", -1.0), ("？", 0.0)), "wink") == pytest.approx(3.0)


def missing(kind: str, gain_of_the_noun: float) -> dict:
    """test_question_gain's row whose answer's passage lacks 完工 (the claim context records the passage)."""
    base = row(kind, gain_of_the_noun, kind == "answerable")
    return {**base, "checked": [{**base["checked"][0], "claim_context": "项目于2018年建成。", "claim_passage": "项目位于城东。"}]}


def test_the_simulation_refuses_below_the_cut_after_the_shipped_cascade():
    cp = _script("choose_policy")
    unexplained, explained = missing("unanswerable", 0.5), missing("answerable", 3.0)  # 完工 gains 0.5 and 3
    assert cp.missing_gain_of(unexplained) == ("完工", pytest.approx(0.5))
    assert cp.missing_gain_of(row("unanswerable", 0.5, False)) is None  # no claim context recorded
    assert cp.missing_gain_of({**unexplained, "question_prior_logprobs": None}) is None
    assert cp.shipped(unexplained) == (False, "2017年")  # mean gain (1 + 1 + 0.5) / 3 = 0.83, over routes.json's 0.75
    assert cp.missing_gain_cut(unexplained, -math.inf) == (False, "2017年")
    assert cp.missing_gain_cut(unexplained, 1.0) == (True, "")
    assert cp.missing_gain_cut(explained, 1.0) == (False, "2018年")
    follow_up = {**unexplained, "history": [{"role": "user", "content": "项目在哪里？"}]}
    assert cp.missing_gain_cut(follow_up, 1.0) == (False, "2017年")
    english = {**unexplained, "tags": ["en"]}
    assert cp.missing_gain_cut(english, 1.0) == cp.shipped(english)


def test_the_choice_is_reported_and_nothing_saved(tmp_path, capsys):
    from tests.answering.test_english_standing import write_rows

    cp = _script("choose_policy")
    a = [missing("answerable", 3.0), missing("unanswerable", 0.5), missing("unanswerable", 0.4)]
    b = [missing("answerable", 3.0), missing("answerable", 1.5), missing("unanswerable", 2.5)]
    fits = [str(write_rows(tmp_path / f"{name}.jsonl", rows)) for name, rows in (("a", a), ("b", b))]
    assert cp.main([*fits, "--missing-gain-cut"]) == 0
    out = capsys.readouterr().out
    # never: a 100 / 0, b 100 / 0 -> 50; below 0.5 only 0.4 refused; below 0.75 both of a's: a 100 / 100 -> 75 (b's
    # unanswerable 2.5 stays); below 2, b loses its right 1.5: 50 points, over the guard
    assert "| -inf | 50.00 | yes |" in out and "| 0.5 | 62.50 | yes |" in out and "| 0.75 | 75.00 | yes |" in out
    assert "| 2 | 62.50 | no |" in out
    assert ("best: refuse below a missing-word gain of 0.75, balanced 75.00 against 50.00 never (needs 0.5, no set "
            "losing > 2): would be taken") in out  # 1 and 1.5 tie at 75: the value nearer never
    assert "| fitting: a.jsonl | below 0.75 (best) | 100.0 | 100.0 | 0.0 | 2 |" in out
    with pytest.raises(SystemExit):
        cp.main([*fits, "--missing-gain-cut", "--write", str(tmp_path / "routes.json")])
    assert "saves nothing" in capsys.readouterr().err
    bare = write_rows(tmp_path / "c.jsonl", [{**r, "question_prior_logprobs": None} for r in a])
    with pytest.raises(SystemExit, match="annotate_surprise.py"):
        cp.main([str(bare), "--missing-gain-cut"])
