"""The learned waiver of the claim cut (README, "How auto was chosen", step 71; rag/answering/waiver.py): its
probability by hand, its saved form's errors, and the fitting script's simulation of it on study rows."""

from __future__ import annotations

import math

import pytest

from rag.answering.waiver import FEATURES, LearnedWaiver, WaiverError, clipped, from_json
from tests.answering.test_model_answerer import _script

READING_ONLY = LearnedWaiver(means=(0.5, 0, 0, 0, 0, 0), scales=(0.25, 1, 1, 1, 1, 1), weights=(1, 0, 0, 0, 0, 0),
                             bias=0.0, at=0.6)


def test_the_probability_is_a_logistic_of_the_standardized_measures():
    assert READING_ONLY.probability({"reading": 0.75}) == pytest.approx(1 / (1 + math.exp(-1)))  # z = (0.75-0.5)/0.25
    assert READING_ONLY.probability({"reading": 0.25}) == pytest.approx(1 / (1 + math.exp(1)))
    assert READING_ONLY.probability({}) == 0.5  # a measure not taken reads as its mean
    score_only = LearnedWaiver((0,) * 6, (1,) * 6, (0, 0, 0, 1, 0, 0), bias=0.0, at=0.5)
    assert score_only.probability({"score": -math.inf}) == pytest.approx(1 / (1 + math.exp(10)))  # clipped at -10
    assert clipped("surprise", -80.0) == -30.0 and clipped("reading", None) is None
    assert clipped("score", float("nan")) is None


def test_a_saved_waiver_round_trips_and_a_bad_one_names_its_value_and_the_fix():
    assert from_json(None) is None
    assert from_json(READING_ONLY.to_json()) == READING_ONLY
    with pytest.raises(WaiverError, match=r"features \['reading'\].*Rerun scripts/choose_policy.py --learned-waiver"):
        from_json({**READING_ONLY.to_json(), "features": ["reading"]})
    with pytest.raises(WaiverError, match=r"at 1.5: a probability strictly between 0 and 1.*learned_waiver: null"):
        from_json({**READING_ONLY.to_json(), "at": 1.5})
    with pytest.raises(WaiverError, match=r"without 'bias'"):
        from_json({k: v for k, v in READING_ONLY.to_json().items() if k != "bias"})
    with pytest.raises(WaiverError, match=r"scales .*every scale must be above 0"):
        from_json({**READING_ONLY.to_json(), "scales": [0, 1, 1, 1, 1, 1]})
    with pytest.raises(WaiverError, match=r"weights \(1, 0\): 6 finite numbers"):
        from_json({**READING_ONLY.to_json(), "weights": [1, 0]})
    assert len(FEATURES) == 6


def _row(reading: float, claim: float = 0.1, kind: str = "answerable", text: str = "2018年") -> dict:
    return {"kind": kind, "question": "项目哪一年完工？", "shape": "factoid", "tags": ["zh"], "reply": text,
            "model_refused": False, "answers": ["2018"], "confidence": {"min": 0.9}, "reading": reading,
            "reading_form": "context",
            "checked": [{"text": text, "kept": True, "claim_coverage": claim, "passage_coverage": 1.0,
                         "coverage": 1.0, "missing_meaning_passage": 0.9}],
            "extractive": "项目于2018年完工。", "extractive_refused": True, "extractive_missing": [],
            "extractive_claim_coverage": 0.1, "extractive_score": 2.0, "excerpts": ["项目于2018年完工。"],
            "question_logprobs": [["项目", -1.0], ["完工", -6.0], ["？", -20.0]]}


def test_choose_policy_reads_the_measures_and_replaces_the_reading_waiver():
    cp = _script("choose_policy")
    row = _row(0.9)
    assert cp.waiver_decides(row) and cp.waiver_label(row) == 1
    assert cp.waiver_measures(row) == {"reading": 0.9, "claim": 0.1, "confidence": 0.9, "score": 2.0,
                                       "meaning": 0.9, "surprise": -6.0}
    assert not cp.waiver_decides(_row(0.9, claim=0.5))  # above the claim cut (0.3): nothing to waive
    assert not cp.waiver_decides({**row, "reading": None})  # no reading made
    assert not cp.waiver_decides({**row, "tags": ["en"]})  # English factoids take the extractive route
    assert cp.waiver_label(_row(0.9, kind="absent")) == 0 and cp.waiver_label(_row(0.9, text="2019年")) == 0
    # the shipped cascade waives it by its reading (0.9 >= 0.6); the learned one by its probability alone
    assert cp.learned_waived(row, math.inf) == (False, "2018年")
    assert cp.learned_waived({**row, "_waiver_p": 0.55}, 0.6) == (True, "")
    assert cp.learned_waived({**_row(0.1), "_waiver_p": 0.65}, 0.6) == (False, "2018年")
    assert cp.learned_waived(_row(0.1), math.inf) == (True, "")


def test_the_fitted_logistic_leans_on_the_measure_that_separates_right_from_wrong():
    cp = _script("choose_policy")
    rows = ([_row(0.8 + 0.01 * i) for i in range(10)]
            + [_row(0.2 + 0.01 * i, kind="adversarial") for i in range(10)])
    waiver = cp.fit_learned_waiver([rows])
    assert waiver.weights[0] > 0.5 and all(abs(w) < waiver.weights[0] for w in waiver.weights[1:])
    assert waiver.means[0] == pytest.approx(0.545)
    scored = cp.with_waiver_probability(rows, waiver)
    assert all(r["_waiver_p"] > 0.5 for r in scored[:10]) and all(r["_waiver_p"] < 0.5 for r in scored[10:])
    assert cp.auc([r["_waiver_p"] for r in scored], [cp.waiver_label(r) for r in scored]) == 1.0
    with pytest.raises(SystemExit, match="all labelled 1"):
        cp.fit_learned_waiver([rows[:10]])


def test_the_product_keeps_an_answer_below_the_claim_cut_where_the_learned_chance_reaches_its_mark(fake_engine):
    from dataclasses import replace

    from rag.answering.model import ModelAnswerer
    from tests.answering.test_prefer_extractive import extractive_with
    from tests.answering.test_question_surprise import PLAIN, Surprised
    from tests.answering.test_surprise_waiver import REPLY, Reading, strict

    q, hits, evidence, policy = strict(fake_engine)  # the claim cut refuses REPLY; no reading waiver

    def ask(generator, at: float, waive_reading: float = math.inf):  # noqa: ANN001, ANN202
        learned = replace(READING_ONLY, at=at)
        chosen = replace(policy, learned_waiver=learned, waive_claim_reading=waive_reading)
        return ModelAnswerer(generator, extractive_with(-math.inf), chosen, "auto").answer(q, hits, evidence)

    sure = 1 / (1 + math.exp(-1.0))  # READING_ONLY at a reading of 0.75
    kept = ask(Reading(REPLY, PLAIN, p_yes=0.75), at=0.73)
    assert (kept.text, kept.refused) == (REPLY, False)
    assert f"put the chance that this answers the question at {sure:.2f} (at least 0.73)" in kept.notice
    assert ask(Reading(REPLY, PLAIN, p_yes=0.75), at=0.74).refused  # just above 0.731: not waived
    # it decides in place of the reading waiver: a reading of 0.75 that waives at 0.6 does not keep it here
    assert ask(Reading(REPLY, PLAIN, p_yes=0.75), at=0.74, waive_reading=0.6).refused
    assert ask(Surprised(REPLY, PLAIN), at=0.01).refused  # no reading can be made: nothing is waived


def test_routes_json_learned_waiver_loads_and_a_broken_one_is_named(tmp_path):
    import json

    from rag.answering.model import auto_policy, load_learned_waiver
    from rag.errors import ModelError

    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"learned_waiver": READING_ONLY.to_json()}), encoding="utf-8")
    assert load_learned_waiver(path) == {"learned_waiver": READING_ONLY}
    path.write_text(json.dumps({"learned_waiver": None}), encoding="utf-8")
    assert load_learned_waiver(path) == {}
    path.write_text(json.dumps({"learned_waiver": {**READING_ONLY.to_json(), "at": 0}}), encoding="utf-8")
    with pytest.raises(ModelError, match=r"routes.json: learned waiver at 0: .*--learned-waiver --write"):
        load_learned_waiver(path)
    assert auto_policy().learned_waiver is None  # routes.json saves null: step 71 was not taken


def test_the_script_answers_as_the_product_would_with_a_saved_learned_waiver(monkeypatch):
    from dataclasses import replace

    cp = _script("choose_policy")
    saved = replace(READING_ONLY, at=0.7)  # a reading of 0.75 gives 0.731: waived; 0.65 gives 0.401: not
    monkeypatch.setattr(cp, "AUTO_POLICY", replace(cp.AUTO_POLICY, learned_waiver=saved))
    assert cp.saved_learned_waiver(_row(0.75)) is True and cp.saved_learned_waiver(_row(0.65)) is False
    assert cp.shipped(_row(0.75)) == (False, "2018年")
    assert cp.shipped(_row(0.65)) == (True, "")  # the reading waiver (0.6) would have kept it
    with pytest.raises(SystemExit, match="saves a learned waiver already.*learned_waiver: null"):
        cp.learned_waiver_main([], [])
    monkeypatch.setattr(cp, "AUTO_POLICY", replace(cp.AUTO_POLICY, learned_waiver=None))
    assert cp.saved_learned_waiver(_row(0.65)) is None and cp.shipped(_row(0.65)) == (False, "2018年")
