"""The model's own factoid answer refused where the extractive answerer's answer logit is below a cut (README, "How auto
was chosen", step 27; Policy.model_min_extractive_score): the product path, the saved value (-3: the round-24 fit on eleven pooled
study sets took it; rounds 22-23 did not) and the fitting script's rule, whose simulation is the product's."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer, load_model_score_cut
from rag.errors import ModelError
from tests.answering.test_confidence import GIVEN, Sure
from tests.answering.test_english_standing import write_rows
from tests.answering.test_model_answerer import _script, retrieved
from tests.answering.test_prefer_extractive import PROFIT_Q, extractive_with

REPLY = "3.7亿元[1]"  # supported by the article's profit sentence; its least sure content token 0.55 (GIVEN)


def ask(engine, below: float, **policy):  # noqa: ANN001, ANN003, ANN201
    q, hits, evidence = retrieved(engine, PROFIT_Q)
    answerer = ModelAnswerer(Sure(REPLY, GIVEN), extractive_with(-math.inf),
                             replace(DEFAULT_POLICY, model_min_extractive_score=below, **policy), "auto")
    score = answerer.extractive.analyse(q, hits, evidence).score
    return answerer.answer(q, hits, evidence), score


def test_the_models_own_answer_is_refused_below_the_cut_and_kept_at_it(fake_engine):
    kept, score = ask(fake_engine, -math.inf)
    assert (kept.answerer, kept.text, kept.refused) == ("auto", REPLY, False)
    at, _ = ask(fake_engine, score)  # at the cut: kept
    assert (at.text, at.refused) == (REPLY, False)
    refused, _ = ask(fake_engine, score + 0.01)
    assert refused.refused and refused.answerer == "auto"
    assert refused.reason == (f"the extractive answer model scores {score:.2f} for this question, below "
                              f"{score + 0.01:.2f}: the passages do not look like they hold an answer")
    assert f"The model's answer was withheld: {refused.reason}." in refused.notice
    # what its answer stood on is quoted, said not to answer (compose.refuse_with_closest), and cited [1]
    assert "不是对这个问题的回答" in refused.text and "3.7亿元" in refused.text and len(refused.citations) == 1


def test_an_extractive_answer_given_in_the_models_place_is_not_refused_by_the_cut(fake_engine):
    # the hand-over (its confidence 0.55 below 0.6): the answer is the extractive answerer's, which the cut leaves alone
    handed, score = ask(fake_engine, math.inf, prefer_extractive_below=0.6)
    assert (handed.answerer, handed.refused) == ("extractive", False)
    assert "3.7亿元" in handed.text


def test_the_saved_cut_is_read_and_checked(tmp_path):
    assert AUTO_POLICY.model_min_extractive_score == -3.0  # round 24's pooled fit: taken (README step 29)
    assert load_model_score_cut(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"routes": {}, "model_score_cut": null}', encoding="utf-8")
    assert load_model_score_cut(path) == {}
    path.write_text('{"routes": {}, "model_score_cut": {"below": -3.0}}', encoding="utf-8")
    assert load_model_score_cut(path) == {"model_min_extractive_score": -3.0}
    for bad in ('{"below": "-3"}', '{"below": true}', '{"below": NaN}', "{}", "-3.0"):
        path.write_text('{"model_score_cut": ' + bad + "}", encoding="utf-8")
        with pytest.raises(ModelError, match=r"its `below` must be a number.*Rerun scripts/choose_policy.py "
                                             "--model-score-cut --write"):
            load_model_score_cut(path)


def row(kind: str, score: float, right: bool, shape: str = "factoid") -> dict:
    """A study_model.py row of a Chinese question the model answered with a kept, sure sentence (claim coverage 1,
    confidence 0.9), and an extractive answer with logit `score`."""
    return {"kind": kind, "question": "项目哪一年完工？", "shape": shape, "tags": ["zh"], "reply": "x",
            "model_refused": False, "answers": ["2018"] if kind == "answerable" else [], "confidence": {"min": 0.9},
            "reading": None, "checked": [{"text": "2018年" if right else "2017年", "kept": True, "claim_coverage": 1.0,
                                          "passage_coverage": 1.0, "coverage": 1.0}],
            "extractive": "项目于2018年完工。", "extractive_refused": False, "extractive_missing": [],
            "extractive_claim_coverage": 0.9, "extractive_score": score}


def test_choose_policy_simulates_the_cut_on_the_models_own_factoid_answers_only():
    cp = _script("choose_policy")
    own = row("unanswerable", -3.5, False)
    assert cp.score_cut(own, -math.inf) == (False, "2017年")
    assert cp.score_cut(own, -3.0) == (True, "")
    assert cp.score_cut(own, -3.5) == (False, "2017年")  # at the cut: kept
    # a Chinese open question takes routes.json's "auto" route, whose own cut refuses the model's answer below a logit
    # of -1 (README step 28; simulated on "model" until round 23); above it the factoid cut leaves it alone
    assert cp.score_cut(row("unanswerable", -3.5, False, shape="open"), -math.inf) == (True, "")
    assert cp.score_cut(row("unanswerable", -0.5, False, shape="open"), 0.0) == (False, "2017年")  # not a factoid
    assert cp.score_cut(row("unanswerable", -3.5, False, shape="entity"), -math.inf) == (False, "2017年")  # "model"
    assert cp.score_cut({**own, "tags": ["en"]}, -3.0) == (False, "项目于2018年完工。")  # English: extractive route
    assert cp.shipped(own) == (True, "")  # routes.json saves -3 (round 24): -3.5 is below it
    assert cp.shipped(row("unanswerable", -2.5, False)) == (False, "2017年")


def test_choose_policy_takes_the_best_cut_no_fitting_set_loses_more_than_2_points_to(tmp_path, capsys):
    cp = _script("choose_policy")
    # set a: one answerable question right at logit -0.5, two unanswerable ones answered at -3.2 and -1.5;
    # set b: four answerable ones right (three at -0.5, one at -1.2) and one unanswerable answered at -3.2
    a = [row("answerable", -0.5, True), row("unanswerable", -3.2, False), row("unanswerable", -1.5, False)]
    b = [*[row("answerable", -0.5, True)] * 3, row("answerable", -1.2, True), row("unanswerable", -3.2, False)]
    fits = [str(write_rows(tmp_path / f"{name}.jsonl", rows)) for name, rows in (("a", a), ("b", b))]
    saved = tmp_path / "routes.json"
    saved.write_text('{"routes": {"factoid/zh": "model"}}', encoding="utf-8")
    assert cp.main([*fits, "--model-score-cut", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    # never: a (100 + 0) / 2, b (100 + 0) / 2 -> 50; -3 refuses both -3.2 answers: a 75, b 100 -> 87.5
    assert "| -inf | 50.00 | yes | 100.0 / 0.0 / 0.0 | 100.0 / 0.0 / 0.0 |" in out
    assert "| -3 | 87.50 | yes | 100.0 / 50.0 / 0.0 | 100.0 / 100.0 / 0.0 |" in out
    # -1 also refuses a's -1.5 (a 100) but b's right -1.2 (b loses 25 points of answerable right: (75 + 100) / 2):
    # 93.75, the best balanced rate, fails the guard
    assert "| -1 | 93.75 | no | 100.0 / 100.0 / 0.0 | 75.0 / 100.0 / 25.0 |" in out
    # -3 to -1.5 tie at 87.5: the lowest cut is taken
    assert ("chosen: refuse the model's own answer below an extractive logit of -3 (balanced 87.50 against 50.00 "
            "never; needs 0.5): taken") in out
    assert json.loads(saved.read_text(encoding="utf-8"))["model_score_cut"]["below"] == -3.0
    # nothing to gain: saved as null
    path = write_rows(tmp_path / "c.jsonl", [row("answerable", -3.5, True)])
    assert cp.main([str(path), "--model-score-cut", "--write", str(saved)]) == 0
    assert "not taken" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8"))["model_score_cut"] is None
