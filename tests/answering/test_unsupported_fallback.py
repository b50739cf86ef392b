"""A reply with no supported sentence falls back to the extractive answer (README, "How auto was chosen", step 21):
where nothing the model wrote is supported (it misread the excerpts) and it did not say they do not tell, a factoid
is answered by the extractive answerer when its answer logit is at least Policy.unsupported_fallback_score and its
answer passes the same question checks; the saved logit, and the fitting script."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rag.answering.generation import Generation
from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer, load_unsupported_fallback
from rag.errors import ModelError
from tests.answering.test_confidence import Sure
from tests.answering.test_model_answerer import _script, retrieved
from tests.answering.test_prefer_extractive import PROFIT_Q, extractive_with

MISREAD = "美图2023年净利润为4.8亿元[1]。"  # no passage gives 4.8亿元: not one sentence is supported


class Stopped:
    """A generator whose reply was cut short by Stop."""

    name = "scripted"

    def __init__(self, text: str) -> None:
        self.text = text

    def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
        return Generation(self.text, stopped=True)


def ask(engine, reply: str, at: float, generator=None, **policy):  # noqa: ANN001, ANN003, ANN201
    q, hits, evidence = retrieved(engine, PROFIT_Q)
    answerer = ModelAnswerer(generator or Sure(reply, ()), extractive_with(-math.inf),
                             replace(DEFAULT_POLICY, unsupported_fallback_score=at, **policy), "auto")
    return answerer.answer(q, hits, evidence), answerer, (q, hits, evidence)


def test_a_reply_nothing_supports_is_answered_by_the_extractive_answer_at_the_logit(fake_engine):
    out, answerer, (q, hits, evidence) = ask(fake_engine, MISREAD, -math.inf)
    own = answerer.extractive.answer(q, hits, evidence)
    assert not own.refused and "3.7亿元" in own.text
    assert (out.answerer, out.text, out.refused) == ("extractive", own.text, False)
    assert out.notice.endswith("The model's answer was withheld (no sentence of the model's answer is supported by the "
                               "passages); this is the extractive answer, which passes the same checks.")
    assert "Left out" not in out.notice  # the model's sentences are not this answer's
    score = answerer.extractive.analyse(q, hits, evidence).score
    at_it, _, _ = ask(fake_engine, MISREAD, score)
    assert (at_it.answerer, at_it.text) == ("extractive", own.text)
    above, _, _ = ask(fake_engine, MISREAD, score + 0.01)  # the extractive answerer is not sure enough: refused
    assert (above.refused, above.answerer) == (True, "auto")
    assert above.reason == "no sentence of the model's answer is supported by the passages"
    never, _, _ = ask(fake_engine, MISREAD, math.inf)
    assert never.refused


def test_only_a_misread_reply_falls_back(fake_engine):
    # the model said the excerpts do not tell: its refusal stands
    said, _, _ = ask(fake_engine, "文档中没有提到美图2023年的净利润。", -math.inf)
    assert (said.refused, said.answerer) == (True, "auto")
    # a supported reply refused by another check (the claim cut) is not a misreading: refused as before
    cut, _, _ = ask(fake_engine, "3.7亿元[1]", -math.inf, min_claim_coverage=1.01)
    assert (cut.refused, cut.answerer) == (True, "auto")
    # the model's own claim cut, and no fallback tried after it (that would add the extractive answer's reason)
    assert cut.reason.startswith("beside the answer's supporting sentence stand") and "; " not in cut.reason
    # a reply Stop cut short is checked like any answer, and not replaced
    stopped, _, _ = ask(fake_engine, MISREAD, -math.inf, generator=Stopped(MISREAD))
    assert (stopped.refused, stopped.answerer) == (True, "auto")
    assert stopped.reason == "no sentence of the model's answer is supported by the passages"
    # a supported reply stands
    right, _, _ = ask(fake_engine, "3.7亿元[1]", -math.inf)
    assert (right.refused, right.answerer, right.text) == (False, "auto", "3.7亿元[1]")


def test_on_the_model_route_the_saved_logit_decides(fake_engine):
    """The "model" route (routes.json's Chinese factoids) otherwise never falls back; the saved logit is 1."""
    assert AUTO_POLICY.unsupported_fallback_score == 1.0
    model_route = {"routes": {"factoid/zh": "model"}, "extractive_fallback_score": -math.inf}  # replaced by inf there
    out, answerer, (q, hits, evidence) = ask(fake_engine, MISREAD, -math.inf, **model_route)
    assert (out.answerer, out.text) == ("extractive", answerer.extractive.answer(q, hits, evidence).text)
    refused, _, _ = ask(fake_engine, MISREAD, math.inf, **model_route)
    assert (refused.refused, refused.answerer) == (True, "auto")


def test_the_fallback_still_needs_the_checks_of_a_fallback(fake_engine, monkeypatch):
    monkeypatch.setattr(ModelAnswerer, "checked_extractive", lambda *a: (None, "its passage lacks the year"))
    out, _, _ = ask(fake_engine, MISREAD, -math.inf)
    assert out.refused
    assert out.reason == "no sentence of the model's answer is supported by the passages; its passage lacks the year"


def test_the_saved_logit_is_read_and_checked(tmp_path):
    assert load_unsupported_fallback(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"routes": {}, "unsupported_fallback": null}', encoding="utf-8")
    assert load_unsupported_fallback(path) == {}
    path.write_text('{"routes": {}, "unsupported_fallback": {"min_extractive_score": 1.0}}', encoding="utf-8")
    assert load_unsupported_fallback(path) == {"unsupported_fallback_score": 1.0}
    for bad in ('{"min_extractive_score": "1"}', '{"min_extractive_score": true}', '{"min_extractive_score": NaN}',
                '{}', '1.0'):
        path.write_text('{"routes": {}, "unsupported_fallback": ' + bad + '}', encoding="utf-8")
        with pytest.raises(ModelError, match=r"its `min_extractive_score` must be a number.*Rerun "
                                             "scripts/choose_policy.py --unsupported-fallback --write"):
            load_unsupported_fallback(path)


def misread_row(kind: str, score: float, extractive_right: bool) -> dict:
    """A study_model.py row of a Chinese factoid whose reply no passage sentence supports, and an extractive answer
    with logit `score` that passes the checks."""
    return {"kind": kind, "shape": "factoid", "tags": ["zh"], "reply": "x", "model_refused": False,
            "answers": ["2018"] if kind == "answerable" else [], "confidence": {"min": 0.9}, "reading": None,
            "checked": [{"text": "2019年", "kept": False, "claim_coverage": 1.0, "passage_coverage": 0.0}],
            "extractive": "项目于2018年完工。" if extractive_right else "项目于2017年立项。", "extractive_refused": False,
            "extractive_missing": [], "extractive_claim_coverage": 0.9, "extractive_score": score}


def test_choose_policy_falls_back_at_the_logit_that_gains_most_on_the_fitting_sets(tmp_path, capsys):
    cp = _script("choose_policy")
    # at logit 1.5 the extractive answer is right; at 0.5 it answers a question the passages do not answer
    rows = [misread_row("answerable", 1.5, True), misread_row("unanswerable", 0.5, False)]
    fit, saved = tmp_path / "study.jsonl", tmp_path / "routes.json"
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    saved.write_text('{"routes": {"factoid/zh": "model"}}', encoding="utf-8")
    assert cp.main([str(fit), "--unsupported-fallback", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "chosen: a reply with no supported sentence falls back to the checked extractive answer at logit >= 1 " \
           "(balanced 100.00 against 50.00 never)" in out
    assert "| 0 | 50.00 | 100.0 / 0.0 / 0.0 |" in out  # lower, the unanswerable question is answered too
    assert json.loads(saved.read_text(encoding="utf-8"))["unsupported_fallback"]["min_extractive_score"] == 1.0
    # nothing to gain (the extractive answer is wrong where it would stand in): not taken, and saved as null
    rows = [misread_row("answerable", 1.5, False), misread_row("unanswerable", 0.5, False)]
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert cp.main([str(fit), "--unsupported-fallback", "--write", str(saved)]) == 0
    assert "falls back to the checked extractive answer at logit >= inf" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8"))["unsupported_fallback"] is None
