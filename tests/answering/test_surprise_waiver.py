"""The claim cut waived where the model expected every token of the question after the excerpts (README, "How auto was
chosen", step 39; Policy.waive_claim_surprise): the product's waiver, that a waived answer is not read again, and the
fitting script's simulation of it and of the rows it must read."""

from __future__ import annotations

import math
from dataclasses import replace

from rag.answering.generation import Control
from rag.answering.model import DEFAULT_POLICY, ModelAnswerer
from tests.answering.test_model_answerer import _script, retrieved
from tests.answering.test_prefer_extractive import PROFIT_Q, extractive_with
from tests.answering.test_question_surprise import PLAIN, SWAPPED, Surprised

REPLY = "3.7亿元[1]"


class Reading(Surprised):
    """Surprised, and asked apart whether a sentence answers, it says yes with `p_yes` (counting the times asked)."""

    def __init__(self, text: str, question_logprobs: tuple, p_yes: float) -> None:
        super().__init__(text, question_logprobs)
        self.p_yes, self.read = p_yes, 0

    def yes_probability(self, messages, yes, no, control=None):  # noqa: ANN001, ANN201
        self.read += 1
        return self.p_yes


def strict(engine):  # noqa: ANN001, ANN201
    """The question, its hits and evidence, and a policy whose claim cut refuses REPLY (just above its claim share)."""
    q, hits, evidence = retrieved(engine, PROFIT_Q)
    run = ModelAnswerer(Surprised(REPLY, PLAIN), extractive_with(-math.inf), DEFAULT_POLICY, "auto").run(
        q, hits, evidence, Control())
    claim = max(c.claim_coverage for c in run.checked if c.kept)
    return q, hits, evidence, replace(DEFAULT_POLICY, min_claim_coverage=claim + 0.01)


def test_an_answer_below_the_claim_cut_is_kept_where_every_question_token_was_expected(fake_engine):
    q, hits, evidence, policy = strict(fake_engine)

    def ask(logprobs: tuple, at: float):  # noqa: ANN202
        answerer = ModelAnswerer(Surprised(REPLY, logprobs), extractive_with(-math.inf),
                                 replace(policy, waive_claim_surprise=at), "auto")
        return answerer.answer(q, hits, evidence)

    assert ask(PLAIN, math.inf).refused  # no waiver: the claim cut refuses it
    assert "of the question's word weight, below" in ask(PLAIN, math.inf).reason
    waived = ask(PLAIN, -2.1)  # PLAIN's least expected token that is not punctuation: 美, -2.1
    assert (waived.text, waived.refused, waived.answerer) == (REPLY, False, "auto")
    assert ("but the model expected every word of the question after the passages it read (the least expected: "
            "log-probability -2.1, at least -2.1)") in waived.notice
    assert ask(PLAIN, -2.0).refused  # just above it: not waived
    assert ask(SWAPPED, -9.0).refused  # 视网膜 at -14.2 was not expected there
    assert ask((), -9.0).refused  # no reading (an endpoint, a stopped answer): no waiver


def test_a_waived_answer_is_not_read_again_and_one_not_waived_still_is(fake_engine):
    q, hits, evidence, policy = strict(fake_engine)
    both = replace(policy, waive_claim_surprise=-9.0, waive_claim_reading=0.6)
    unsure = Reading(REPLY, PLAIN, p_yes=0.1)  # the reading would not waive it
    assert ModelAnswerer(unsure, extractive_with(-math.inf), both, "auto").answer(q, hits, evidence).text == REPLY
    assert unsure.read == 0
    swapped = Reading(REPLY, SWAPPED, p_yes=0.9)  # not waived by its surprise: read, and the reading waives it
    answer = ModelAnswerer(swapped, extractive_with(-math.inf), both, "auto").answer(q, hits, evidence)
    assert (answer.text, swapped.read) == (REPLY, 1)


def test_choose_policy_simulates_the_waiver_on_answers_below_the_claim_cut_only():
    cp = _script("choose_policy")
    row = {"kind": "answerable", "question": "项目哪一年完工？", "shape": "factoid", "tags": ["zh"], "reply": "x",
           "model_refused": False, "answers": ["2018"], "confidence": {"min": 0.9}, "reading": None,
           "checked": [{"text": "2018年", "kept": True, "claim_coverage": 0.1, "passage_coverage": 1.0,
                        "coverage": 1.0}],
           "extractive": "项目于2018年完工。", "extractive_refused": True, "extractive_missing": [],
           "extractive_claim_coverage": 0.1, "extractive_score": 2.0, "excerpts": ["项目于2018年完工。"],
           "question_logprobs": [["项目", -1.0], ["完工", -6.0], ["？", -20.0]]}
    assert cp.question_surprise_of(row) == -6.0
    assert cp.surprise_cut(row, -16.0, math.inf) == (True, "")  # below the claim cut (0.3): refused
    assert cp.surprise_cut(row, -16.0, -6.0) == (False, "2018年")  # expected at -6.0: waived
    assert cp.surprise_cut(row, -16.0, -5.5) == (True, "")
    assert cp.surprise_cut({**row, "question_logprobs": None}, -16.0, -6.0) == (True, "")
    english = {**row, "tags": ["en"]}  # English factoids take the extractive route: never waived
    assert cp.surprise_cut(english, -16.0, -6.0) == cp.surprise_cut(english, -16.0, math.inf)
    assert cp.SURPRISE_WAIVER_GRID[0] == math.inf and cp.SURPRISE_WAIVER_GRID[1:] == [-3.0 - 0.5 * i for i in range(25)]
    # the rows scripts/annotate_surprise.py reads: answered by the model, or answered by it with the claim cut waived
    annotate = _script("annotate_surprise")
    assert annotate.wanted(row)
    assert annotate.wanted({**row, "checked": [{**row["checked"][0], "claim_coverage": 1.0}]})
    assert not annotate.wanted({**row, "checked": [{**row["checked"][0], "kept": False}]})  # nothing of the model's stands
    assert not annotate.wanted({**row, "excerpts": []})
