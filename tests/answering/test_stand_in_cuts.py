"""The question cuts on an extractive stand-in (README, "How auto was chosen", step 47; Policy.question_cuts_stand_in):
the extractive answer given in place of the model's Chinese factoid answer (handed over when the model was unsure, or
after a misread reply) is refused by step 38's surprise cut and step 46's gain cut as the model's own answer is; the
saved switch, and the fitting script's simulation and choice of it."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rag.answering import decide
from rag.answering.generation import Generation
from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer, auto_policy, load_stand_in_cuts
from rag.errors import ModelError
from tests.answering.test_confidence import GIVEN
from tests.answering.test_model_answerer import _script, retrieved
from tests.answering.test_prefer_extractive import PROFIT_Q, extractive_with
from tests.answering.test_question_gain import PRIMED, WITH, WITHOUT, Reading, row

# the model's answer is handed over: its least sure content token (0.55, GIVEN) is below 0.6
HAND_OVER = replace(DEFAULT_POLICY, prefer_extractive_below=0.6, min_question_gain=0.75, min_question_logprob=-16.0)


def answer(engine, prior, policy, question: str = PROFIT_Q, history=None, generator=None):  # noqa: ANN001, ANN201
    q, hits, evidence = retrieved(engine, question, history)
    generator = generator or Reading(prior)
    out = ModelAnswerer(generator, extractive_with(-math.inf), policy, "auto").answer(q, hits, evidence)
    return out, generator.asked


def test_a_handed_over_answer_is_refused_where_the_excerpts_explain_the_question_too_little(fake_engine):
    off, asked = answer(fake_engine, PRIMED, HAND_OVER)  # the switch off (round 34): the stand-in is not read
    assert (off.answerer, off.refused, asked) == ("extractive", False, [])
    on = replace(HAND_OVER, question_cuts_stand_in=True)
    refused, asked = answer(fake_engine, PRIMED, on)  # gain -0.1
    assert (refused.refused, refused.answerer, len(asked)) == (True, "auto", 1)
    assert refused.reason == decide.unexplained_question(-0.1, 0.75)
    assert f"The model's answer was withheld: {refused.reason}." in refused.notice
    # the refusal quotes what the model's answer stood on, as for any withheld answer
    assert refused.text.startswith("抱歉，文档中没有找到这个问题的答案。最接近的一句（不是对这个问题的回答）：“")
    assert "净利润3.7亿元" in refused.text and "question_prior" in refused.timings_ms
    kept, asked = answer(fake_engine, WITHOUT, on)  # gain 1.0: the stand-in stays
    assert (kept.answerer, kept.refused, len(asked)) == ("extractive", False, 1)
    assert "The model was unsure of its answer" in kept.notice


def test_the_surprise_cut_refuses_a_stand_in_without_a_second_reading(fake_engine):
    # WITH's least expected token is 美 at -2.0: a surprise cut above it refuses, and no prior is read
    on = replace(HAND_OVER, question_cuts_stand_in=True, min_question_logprob=-1.5)
    refused, asked = answer(fake_engine, WITHOUT, on)
    assert refused.refused and refused.reason == decide.unexpected_question("美", -2.0, -1.5) and asked == []
    below, _ = answer(fake_engine, WITHOUT, replace(on, min_question_logprob=-2.5))
    assert (below.answerer, below.refused) == ("extractive", False)


def test_a_follow_ups_stand_in_is_not_cut_by_the_gain(fake_engine):
    history = ({"role": "user", "content": "美图2023年的总收入是多少？"}, {"role": "assistant", "content": "27亿元[1]"})
    out, asked = answer(fake_engine, PRIMED, replace(HAND_OVER, question_cuts_stand_in=True), history=history)
    assert (out.answerer, out.refused, asked) == ("extractive", False, [])


def test_the_misread_fallback_is_read_too(fake_engine):
    """A reply none of whose sentences a passage supports falls back to the extractive answer (README step 21); with the
    switch on, the question cuts read that stand-in as well."""

    class Misread(Reading):
        def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
            return Generation("美图有4800名员工[1]。", tokens=8, token_probs=GIVEN, question_logprobs=WITH)

    fallback = replace(DEFAULT_POLICY, unsupported_fallback_score=-math.inf, min_question_gain=0.75)
    fell, _ = answer(fake_engine, None, fallback, generator=Misread(PRIMED))
    assert (fell.answerer, fell.refused) == ("extractive", False)
    refused, asked = answer(fake_engine, None, replace(fallback, question_cuts_stand_in=True),
                            generator=Misread(PRIMED))
    assert refused.refused and refused.reason == decide.unexplained_question(-0.1, 0.75) and len(asked) == 1
    kept, _ = answer(fake_engine, None, replace(fallback, question_cuts_stand_in=True), generator=Misread(WITHOUT))
    assert (kept.answerer, kept.refused) == ("extractive", False)


def test_autos_fallback_after_the_question_was_cut_keeps_that_verdict(fake_engine):
    """On the "auto" route a withheld answer falls back to the extractive answer at Policy.extractive_fallback_score: with
    the switch on, one withheld because the question does not fit the excerpts is not given that stand-in either, and
    the question is not read again."""
    fallback = replace(DEFAULT_POLICY, min_question_gain=0.75, extractive_fallback_score=-math.inf)
    fell, asked = answer(fake_engine, PRIMED, fallback)
    assert (fell.answerer, fell.refused, len(asked)) == ("extractive", False, 1)
    assert "withheld (" + decide.unexplained_question(-0.1, 0.75) in fell.notice
    refused, asked = answer(fake_engine, PRIMED, replace(fallback, question_cuts_stand_in=True))
    assert (refused.answerer, refused.refused, len(asked)) == ("auto", True, 1)
    assert refused.reason == decide.unexplained_question(-0.1, 0.75)


def test_the_models_own_answer_is_read_once(fake_engine):
    """The model's own answer, kept by the gain cut, is not read a second time for the stand-in switch."""
    on = replace(DEFAULT_POLICY, min_question_gain=0.75, question_cuts_stand_in=True)
    kept, asked = answer(fake_engine, WITHOUT, on)
    assert (kept.answerer, kept.text, len(asked)) == ("auto", "3.7亿元[1]", 1)


def test_the_saved_switch_is_read_and_checked(tmp_path):
    assert load_stand_in_cuts(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"stand_in_question_cuts": null}', encoding="utf-8")
    assert load_stand_in_cuts(path) == {}
    path.write_text('{"stand_in_question_cuts": {"apply": true}}', encoding="utf-8")
    assert load_stand_in_cuts(path) == {"question_cuts_stand_in": True}
    for bad in ('{"apply": 1}', '{"apply": "yes"}', "{}", "true"):
        path.write_text('{"stand_in_question_cuts": ' + bad + "}", encoding="utf-8")
        with pytest.raises(ModelError, match=r"stand_in_question_cuts .*`apply` must be true or false.*"
                                             r"--stand-in-question-cuts --write"):
            load_stand_in_cuts(path)


def stand_in(kind: str, gain_of_the_noun: float) -> dict:
    """A study row whose model answer was handed over (confidence 0.3, below routes.json's 0.4) to an extractive answer
    that passes the checks, with both readings of its question."""
    base = row(kind, gain_of_the_noun, kind == "answerable")
    return {**base, "confidence": {"min": 0.3}, "extractive_score": 2.0, "extractive_claim_coverage": 1.0,
            "extractive_coverage": 1.0}


def test_choose_policy_simulates_the_switch(monkeypatch):
    cp = _script("choose_policy")
    unexplained, explained = stand_in("unanswerable", -1.0), stand_in("answerable", 4.0)  # gains 0.33, 2
    assert cp.stand_in_cut(unexplained, False) == (False, "项目于2018年完工。")  # handed over, not read
    assert cp.stand_in_cut(unexplained, True) == (True, "")
    assert cp.stand_in_cut(explained, True) == (False, "项目于2018年完工。")
    assert cp.stand_in_cut({**unexplained, "history": [{"role": "user", "content": "x"}]}, True) == (
        False, "项目于2018年完工。")  # a follow-up: no gain cut
    surprising = {**explained, "question_logprobs": [["项目", -20.0], ["哪一年", -1.0], ["完工", 2.0], ["？", 0.0]]}
    assert cp.stand_in_cut(surprising, True) == (True, "")  # -20 below routes.json's -16
    assert cp.shipped_before_stand_in_cuts(unexplained) == (False, "项目于2018年完工。")
    # scripts/annotate_surprise.py reads a stand-in's question too (its readings removed: as a study row comes)
    annotate = _script("annotate_surprise")
    bare = {**unexplained, "question_logprobs": None, "question_prior_logprobs": None, "excerpts": ["项目于2018年完工。"]}
    assert annotate.wanted(bare)
    # the extractive answer refused: the model's own answer stands (read as before); with nothing of it kept either,
    # nothing is answered and nothing read
    assert annotate.wanted({**bare, "extractive_refused": True})
    assert not annotate.wanted({**bare, "extractive_refused": True,
                                "checked": [{**bare["checked"][0], "kept": False}]})
    monkeypatch.setattr(cp, "AUTO_POLICY", replace(AUTO_POLICY, question_cuts_stand_in=True))
    assert cp.shipped(unexplained) == (True, "")


def test_choose_policy_takes_the_switch_with_step_27s_rule(tmp_path, capsys):
    from tests.answering.test_english_standing import write_rows

    cp = _script("choose_policy")
    a = [stand_in("answerable", 4.0), stand_in("unanswerable", -1.0), stand_in("unanswerable", 0.0)]
    b = [stand_in("answerable", 4.0), stand_in("answerable", 1.0), stand_in("unanswerable", 2.0)]
    fits = [str(write_rows(tmp_path / f"{name}.jsonl", rows)) for name, rows in (("a", a), ("b", b))]
    saved = tmp_path / "routes.json"
    saved.write_text('{"routes": {"factoid/zh": "model"}}', encoding="utf-8")
    assert cp.main([*fits, "--stand-in-question-cuts", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    # a: both unanswerable rows refused (gains 0.33, 0.67): 50 -> 100; b unchanged (gains 2, 1, 1.33): 100 + 0 -> 50
    assert "| no | 50.00 | yes |" in out and "| yes | 75.00 | yes |" in out
    assert "balanced 75.00 against 50.00 without (needs 0.5, no set losing > 2): taken" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["stand_in_question_cuts"]["apply"] is True
    assert auto_policy(saved).question_cuts_stand_in is True
    # b's right answer at gain 1.0 is refused when the cut is 1.25: a loss the guard does not allow
    b_lost = write_rows(tmp_path / "b2.jsonl", [stand_in("answerable", 4.0), stand_in("answerable", -1.0),
                                                stand_in("unanswerable", 2.0)])
    assert cp.main([fits[0], str(b_lost), "--stand-in-question-cuts", "--write", str(saved)]) == 0
    assert "not taken" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8"))["stand_in_question_cuts"] is None
