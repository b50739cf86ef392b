"""A reply with no supported sentence falls back to the extractive answer (README, "How auto was chosen", step 21):
where nothing the model wrote is supported (it misread the excerpts) and it did not say they do not tell, a factoid
is answered by the extractive answerer when its answer logit is at least Policy.unsupported_fallback_score and its
answer passes the same question checks; step 22: and, with a reading gate, where the model reads that answer's
sentence as answering (Policy.unsupported_fallback_reading, ModelAnswerer.gate_fallback); step 25: and where it
shows what the question asks for (the extractive answerer's answer-type check, step 24). The saved values (logit 0
with the gate at 0.8, since step 25's refit), and the fitting script."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rag.answering.generation import Control, Generation, GenerationFailed
from rag.answering.model import (
    AUTO_POLICY,
    DEFAULT_POLICY,
    ModelAnswerer,
    context_of,
    load_unsupported_fallback,
)
from rag.answering.prompt import reading_messages
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


def test_on_the_model_route_the_logit_decides_and_the_saved_one_is_logit_0_gated_at_0_8(fake_engine):
    """The "model" route (routes.json's Chinese factoids) otherwise never falls back. Saved: logit 0 read at 0.8 (round
    17 chose logit 1; round 18's refit with questions about values their paragraph never states chose never; round
    21's, with the answer-type check applied to the fallback's extractive answer and five fitting sets, logit 0 gated
    at 0.8)."""
    assert (AUTO_POLICY.unsupported_fallback_score, AUTO_POLICY.unsupported_fallback_reading) == (0.0, 0.8)
    model_route = {"routes": {"factoid/zh": "model"}, "extractive_fallback_score": -math.inf}  # replaced by inf there
    out, answerer, (q, hits, evidence) = ask(fake_engine, MISREAD, -math.inf, **model_route)
    assert (out.answerer, out.text) == ("extractive", answerer.extractive.answer(q, hits, evidence).text)
    refused, _, _ = ask(fake_engine, MISREAD, math.inf, **model_route)
    assert (refused.refused, refused.answerer) == (True, "auto")


class SureReader(Sure):
    """Sure, which can also read: yes_probability gives `p` (or raises `fail`), recording what it was asked."""

    def __init__(self, text: str, p: float, fail: str = "") -> None:
        super().__init__(text, ())
        self.p, self.fail, self.asked = p, fail, []

    def yes_probability(self, messages, yes, no, control=None):  # noqa: ANN001
        self.asked.append((messages, yes, no))
        if self.fail:
            raise GenerationFailed(self.fail)
        return self.p


def test_with_a_reading_gate_the_fallback_stands_only_where_the_model_reads_its_sentence_as_answering(fake_engine):
    gate = {"unsupported_fallback_reading": 0.5, "reading_form": "context"}
    reader = SureReader(MISREAD, 0.9)
    out, answerer, (q, hits, evidence) = ask(fake_engine, MISREAD, -math.inf, generator=reader, **gate)
    own = answerer.extractive.answer(q, hits, evidence)
    assert (out.answerer, out.text, out.refused) == ("extractive", own.text, False)
    first = own.citations[0]  # asked about the extractive answer's first cited sentence, in its passage
    assert reader.asked == [(reading_messages(PROFIT_Q, first.sentence.text, "zh",
                                              context_of(evidence.index, first.hit, first.sentence)), "是", "不是")]
    assert "reading" in out.timings_ms
    # read below the gate: refused, saying why
    low, _, _ = ask(fake_engine, MISREAD, -math.inf, generator=SureReader(MISREAD, 0.3), **gate)
    assert (low.refused, low.answerer) == (True, "auto")
    assert low.reason == ("no sentence of the model's answer is supported by the passages; asked apart, the model read "
                          "the extractive answer's sentence with its neighbours and title as answering the question "
                          "with probability 0.30, below 0.50")
    at_gate, _, _ = ask(fake_engine, MISREAD, -math.inf, generator=SureReader(MISREAD, 0.5), **gate)
    assert (at_gate.refused, at_gate.answerer) == (False, "extractive")
    # no reading can be made (a generator without logits) or the read fails: the gate is not passed
    plain, _, _ = ask(fake_engine, MISREAD, -math.inf, **gate)
    assert plain.refused and plain.reason.endswith("; no reading of the extractive answer's sentence can be made here")
    failed, _, _ = ask(fake_engine, MISREAD, -math.inf, generator=SureReader(MISREAD, 0.9, fail="out of memory"), **gate)
    assert failed.refused and failed.reason.endswith("; the extractive answer's sentence could not be read (out of "
                                                     "memory)")
    # no gate (0): nothing is read
    ungated = SureReader(MISREAD, 0.1)
    free, _, _ = ask(fake_engine, MISREAD, -math.inf, generator=ungated)
    assert (free.answerer, ungated.asked) == ("extractive", [])
    # a supported reply is never read by the gate, and no reading time is reported where nothing was read
    right = SureReader("3.7亿元[1]", 0.1)
    kept, _, _ = ask(fake_engine, "3.7亿元[1]", -math.inf, generator=right, **gate)
    assert (kept.answerer, kept.text, right.asked) == ("auto", "3.7亿元[1]", [])
    assert "reading" not in kept.timings_ms and "reading" not in plain.timings_ms


def test_the_gate_is_not_passed_after_stop_or_the_deadline_and_leaves_autos_own_fallback_alone(fake_engine):
    gate = {"unsupported_fallback_reading": 0.5}
    q, hits, evidence = retrieved(fake_engine, PROFIT_Q)

    def run(control, **policy):  # noqa: ANN001, ANN003, ANN202
        reader = SureReader(MISREAD, 0.9)
        answerer = ModelAnswerer(reader, extractive_with(-math.inf),
                                 replace(DEFAULT_POLICY, unsupported_fallback_score=-math.inf, **gate, **policy), "auto")
        return answerer.run(q, hits, evidence, control).answer, reader

    stopped = Control()
    stopped.stop.set()
    out, reader = run(stopped)
    assert out.refused and reader.asked == []
    assert out.reason.endswith("; Stop was pressed before the extractive answer's sentence was read")
    out, reader = run(Control(deadline=0.0))
    assert out.refused and reader.asked == [] and out.reason.endswith("; no time was left to read the extractive "
                                                                      "answer's sentence")
    # "auto"'s own fallback (the logit clears extractive_fallback_score) is given without the reading
    out, reader = run(Control(), extractive_fallback_score=-math.inf)
    assert (out.answerer, out.refused, reader.asked) == ("extractive", False, [])


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
    assert load_unsupported_fallback(path) == {"unsupported_fallback_score": 1.0, "unsupported_fallback_reading": 0.0}
    path.write_text('{"unsupported_fallback": {"min_extractive_score": 1.0, "min_reading": 0.5}}', encoding="utf-8")
    assert load_unsupported_fallback(path) == {"unsupported_fallback_score": 1.0, "unsupported_fallback_reading": 0.5}
    for bad in ('"0.5"', "1.5", "-0.1", "NaN", "null", "true"):
        path.write_text('{"unsupported_fallback": {"min_extractive_score": 1.0, "min_reading": ' + bad + '}}',
                        encoding="utf-8")
        with pytest.raises(ModelError, match=r"min_reading .* must be a number from 0 \(no reading\) to 1\. Rerun "
                                             "scripts/choose_policy.py --unsupported-fallback --write"):
            load_unsupported_fallback(path)
    for bad in ('{"min_extractive_score": "1"}', '{"min_extractive_score": true}', '{"min_extractive_score": NaN}',
                '{}', '1.0'):
        path.write_text('{"routes": {}, "unsupported_fallback": ' + bad + '}', encoding="utf-8")
        with pytest.raises(ModelError, match=r"its `min_extractive_score` must be a number.*Rerun "
                                             "scripts/choose_policy.py --unsupported-fallback --write"):
            load_unsupported_fallback(path)


def misread_row(kind: str, score: float, extractive_right: bool) -> dict:
    """A study_model.py row of a Chinese factoid whose reply no passage sentence supports, and an extractive answer
    with logit `score` that passes the checks."""
    return {"kind": kind, "question": "项目哪一年完工？", "shape": "factoid", "tags": ["zh"], "reply": "x", "model_refused": False,
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
    assert "| 0 | 0 | 50.00 | 100.0 / 0.0 / 0.0 |" in out  # lower, the unanswerable question is answered too
    assert "no fitting row records an extractive_reading, so no reading gate is tried" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["unsupported_fallback"]["min_reading"] == 0.0
    assert json.loads(saved.read_text(encoding="utf-8"))["unsupported_fallback"]["min_extractive_score"] == 1.0
    # rows whose extractive_reading is recorded as null (no --reading-below): no gate tried either
    rows = [{**misread_row("answerable", 1.5, True), "extractive_reading": None},
            {**misread_row("unanswerable", 0.5, False), "extractive_reading": None}]
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert cp.main([str(fit), "--unsupported-fallback"]) == 0
    out = capsys.readouterr().out
    assert "no fitting row records an extractive_reading" in out and "| 1 | 0.3 |" not in out
    # nothing to gain (the extractive answer is wrong where it would stand in): not taken, and saved as null
    rows = [misread_row("answerable", 1.5, False), misread_row("unanswerable", 0.5, False)]
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert cp.main([str(fit), "--unsupported-fallback", "--write", str(saved)]) == 0
    assert "falls back to the checked extractive answer at logit >= inf" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8"))["unsupported_fallback"] is None


def test_choose_policy_fits_the_reading_gate_where_the_logit_alone_cannot_tell(tmp_path, capsys):
    cp = _script("choose_policy")
    # both extractive answers are sure (logit 1.5); the model reads the right one's sentence as answering (0.9) and
    # not the one given for a question its passage does not answer (0.2)
    rows = [{**misread_row("answerable", 1.5, True), "extractive_reading": 0.9},
            {**misread_row("unanswerable", 1.5, False), "extractive_reading": 0.2}]
    fit, saved = tmp_path / "study.jsonl", tmp_path / "routes.json"
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    saved.write_text('{"routes": {"factoid/zh": "model"}}', encoding="utf-8")
    assert cp.main([str(fit), "--unsupported-fallback", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "| 1 | 0 | 50.00 | 100.0 / 0.0 / 0.0 |" in out  # without the gate both are answered
    assert "| 1 | 0.8 | 100.00 | 100.0 / 100.0 / 0.0 |" in out  # any gate up to 0.8 tells them apart
    assert ("chosen: a reply with no supported sentence falls back to the checked extractive answer at logit >= 1 whose "
            "sentence the model reads as answering at >= 0.3 (balanced 100.00 against 50.00 never)") in out
    fallback = json.loads(saved.read_text(encoding="utf-8"))["unsupported_fallback"]
    assert (fallback["min_extractive_score"], fallback["min_reading"]) == (1.0, 0.3)


def test_choose_policy_reads_the_fallback_with_the_answer_type_check_as_shipped(tmp_path, capsys):
    """Round 21: the fallback's extractive answer is the extractive answerer's, which refuses an answer that does not
    show what the question asks for (question.missing_answer_type); the script reads old rows that way too."""
    cp = _script("choose_policy")
    right = misread_row("answerable", 1.5, True)
    # a money question the passage does not answer: the extractive sentence holds a year, not an amount
    money = {**misread_row("unanswerable", 1.5, False), "question": "项目花了多少钱？"}
    assert cp.fallen_back(right, 1.0) == (False, "项目于2018年完工。")
    assert cp.fallen_back(money, 1.0) == (True, "")
    assert cp.fallen_back({**money, "question": "项目哪一年立项？"}, 1.0) == (False, "项目于2017年立项。")
    fit, saved = tmp_path / "study.jsonl", tmp_path / "routes.json"
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in (right, money)), encoding="utf-8")
    saved.write_text('{"routes": {"factoid/zh": "model"}}', encoding="utf-8")
    assert cp.main([str(fit), "--unsupported-fallback", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    # the sure wrong answer is typed out at every logit (without the check, logit 1 would answer it: 50.00)
    assert "| 1 | 0 | 100.00 | 100.0 / 100.0 / 0.0 |" in out and "| -inf | 0 | 100.00 | 100.0 / 100.0 / 0.0 |" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["unsupported_fallback"]["min_extractive_score"] == 1.0


def test_a_misread_reply_does_not_fall_back_to_an_extractive_answer_without_what_is_asked(fake_engine):
    """The product's fallback is the extractive answerer's answer (checked_extractive -> answer_from), so its
    answer-type check applies: a money question whose best sentence gives no amount is refused, naming why."""
    question = "美图投资燧原科技的金额是多少？"  # the article names the investment, never its amount
    q, hits, evidence = retrieved(fake_engine, question)
    extractive = extractive_with(-math.inf)
    own = extractive.answer(q, hits, evidence)
    assert own.refused and own.reason == "the question asks for an amount of money, and the answer's sentence gives none"
    answerer = ModelAnswerer(Sure("美图投资燧原科技的金额是10亿元[1]。", ()), extractive,
                             replace(DEFAULT_POLICY, unsupported_fallback_score=-math.inf), "auto")
    out = answerer.answer(q, hits, evidence)
    assert (out.refused, out.answerer) == (True, "auto")
    assert out.reason == "no sentence of the model's answer is supported by the passages"
