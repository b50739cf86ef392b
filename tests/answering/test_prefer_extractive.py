"""An answer the model was unsure of, handed to the extractive answerer (README, "How auto was chosen", step 16):
below Policy.prefer_extractive_below, a Chinese factoid the model answered is answered by the extractive answerer
where that answer passes the same question checks; the saved cut, and the fitting script."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answering.decision import default_models
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.model import DEFAULT_POLICY, ModelAnswerer, load_prefer_extractive
from rag.errors import ModelError
from tests.answering.test_confidence import GIVEN, Sure
from tests.answering.test_model_answerer import _script, retrieved

PROFIT_Q = "美图2023年的净利润是多少？"


def extractive_with(threshold: float) -> ExtractiveAnswerer:
    """The extractive answerer with its answer-or-refuse threshold set (-inf: it always answers; inf: never)."""
    models = default_models()
    return ExtractiveAnswerer(models=replace(models, answer=replace(models.answer, threshold=threshold)))


def answer(engine, generator, extractive: ExtractiveAnswerer, below: float, question: str = PROFIT_Q):  # noqa: ANN001, ANN201
    q, hits, evidence = retrieved(engine, question)
    policy = replace(DEFAULT_POLICY, prefer_extractive_below=below)
    return ModelAnswerer(generator, extractive, policy, "auto").answer(q, hits, evidence), (q, hits, evidence)


def test_an_answer_the_model_was_unsure_of_is_the_extractive_answer_when_that_passes_the_checks(fake_engine):
    sure_of = Sure("3.7亿元[1]", GIVEN)  # its least sure content token: 0.55
    always = extractive_with(-math.inf)
    handed, (q, hits, evidence) = answer(fake_engine, sure_of, always, below=0.6)
    own = always.answer(q, hits, evidence)
    assert not own.refused
    assert (handed.answerer, handed.text, handed.refused, handed.confidence) == ("extractive", own.text, False, None)
    assert handed.notice.endswith("The model was unsure of its answer (it gave its least sure token a probability of "
                                  "0.55, below 0.60); this is the extractive answer, which passes the same checks.")
    kept, _ = answer(fake_engine, sure_of, always, below=0.55)  # at the cut: sure enough
    assert (kept.answerer, kept.text, kept.confidence) == ("auto", "3.7亿元[1]", 0.55)
    never, _ = answer(fake_engine, sure_of, always, below=0.0)
    assert (never.answerer, never.text) == ("auto", "3.7亿元[1]")


def test_a_handed_over_answer_does_not_carry_what_the_models_reply_left_out(fake_engine):
    two = "美图2023年净利润3.7亿元[1]。美图有4800名员工[1]。"  # the second sentence is supported by no passage
    kept, _ = answer(fake_engine, Sure(two, GIVEN), extractive_with(math.inf), below=0.9)  # nothing to hand to
    assert kept.answerer == "auto" and "Left out of the model's answer: “美图有4800名员工" in kept.notice
    handed, _ = answer(fake_engine, Sure(two, GIVEN), extractive_with(-math.inf), below=0.9)
    assert handed.answerer == "extractive" and "Left out" not in handed.notice


def test_the_unsure_answer_stands_when_the_extractive_answer_refuses_or_no_probability_is_known(fake_engine):
    refusing = extractive_with(math.inf)
    out, _ = answer(fake_engine, Sure("3.7亿元[1]", GIVEN), refusing, below=0.9)
    assert (out.answerer, out.text, out.refused, out.confidence) == ("auto", "3.7亿元[1]", False, 0.55)
    assert "unsure" not in out.notice
    endpoint, _ = answer(fake_engine, Sure("3.7亿元[1]", ()), extractive_with(-math.inf), below=0.9)
    assert (endpoint.answerer, endpoint.text, endpoint.confidence) == ("auto", "3.7亿元[1]", None)


def test_the_extractive_answer_must_pass_the_questions_checks_to_stand_in(fake_engine):
    """checked_extractive, which the hand-over and the fallback share: an answer whose passage lacks the question's
    year is not given; one that passes is."""
    answerer = ModelAnswerer(Sure("", ()), extractive_with(-math.inf), DEFAULT_POLICY, "auto")
    q, hits, evidence = retrieved(fake_engine, "美图2019年的净利润是多少？")  # the article gives no 2019 figure
    assert not answerer.extractive.answer(q, hits, evidence).refused  # it answers, with another year's sentence
    analysis = answerer.extractive.analyse(q, hits, evidence)
    assert answerer.checked_extractive(q, hits, evidence, analysis, DEFAULT_POLICY) == (
        None, "the question's 2019 is not in the extractive answer's passage")
    q, hits, evidence = retrieved(fake_engine, PROFIT_Q)
    given, why = answerer.checked_extractive(q, hits, evidence, answerer.extractive.analyse(q, hits, evidence),
                                             DEFAULT_POLICY)
    assert given is not None and not given.refused and why == ""


def test_the_unsure_answer_stands_where_the_extractive_answer_fails_the_checks(fake_engine, monkeypatch):
    monkeypatch.setattr(ModelAnswerer, "checked_extractive", lambda *a: (None, "its passage lacks the year"))
    out, _ = answer(fake_engine, Sure("3.7亿元[1]", GIVEN), extractive_with(-math.inf), below=0.9)
    assert (out.answerer, out.text, out.refused, out.confidence) == ("auto", "3.7亿元[1]", False, 0.55)
    assert "unsure" not in out.notice


def test_a_fallback_that_fails_the_checks_refuses_naming_both_reasons(fake_engine, monkeypatch):
    """when_unsupported through checked_extractive: the model's failure, then why the extractive answer cannot stand."""
    monkeypatch.setattr(ModelAnswerer, "checked_extractive", lambda *a: (None, "its passage lacks the year"))
    fallback = replace(DEFAULT_POLICY, extractive_fallback_score=-math.inf)
    q, hits, evidence = retrieved(fake_engine, PROFIT_Q)
    out = ModelAnswerer(Sure("美图有4800名员工[1]。", ()), extractive_with(-math.inf), fallback, "auto").answer(
        q, hits, evidence)
    assert (out.refused, out.answerer) == (True, "auto")
    assert out.reason == "no sentence of the model's answer is supported by the passages; its passage lacks the year"
    monkeypatch.setattr(ModelAnswerer, "checked_extractive", lambda *a: (None, ""))  # the extractive answerer refused
    out = ModelAnswerer(Sure("美图有4800名员工[1]。", ()), extractive_with(-math.inf), fallback, "auto").answer(
        q, hits, evidence)
    assert out.reason == "no sentence of the model's answer is supported by the passages"


def test_the_saved_cut_is_read_and_checked(tmp_path):
    assert load_prefer_extractive(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"routes": {}, "prefer_extractive": null}', encoding="utf-8")
    assert load_prefer_extractive(path) == {}
    path.write_text('{"routes": {}, "prefer_extractive": {"below": 0.6}}', encoding="utf-8")
    assert load_prefer_extractive(path) == {"prefer_extractive_below": 0.6}
    for bad in ('{"below": 1.5}', '{"below": 0}', '{"below": true}', '{"below": "0.6"}', '{}', '0.6'):
        path.write_text('{"routes": {}, "prefer_extractive": ' + bad + '}', encoding="utf-8")
        with pytest.raises(ModelError, match=r"its `below` must be a number in \(0, 1\].*Rerun scripts/choose_policy.py "
                                             "--prefer-extractive --write"):
            load_prefer_extractive(path)


def reported(cp, tmp_path: Path, capsys, rows, flag: str) -> str:  # noqa: ANN001 - the script module, pytest's capsys
    """What `choose_policy.py STUDY FLAG` prints for `rows` written as one study file (study.jsonl), having exited 0."""
    fit = tmp_path / "study.jsonl"
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert cp.main([str(fit), flag]) == 0
    return capsys.readouterr().out


def study_row(kind: str, confidence: float, model_right: bool, extractive_right: bool) -> dict:
    """A study_model.py row of a Chinese factoid the model answered with one kept claim, and an extractive answer
    that passes the checks."""
    return {"kind": kind, "question": "项目哪一年完工？", "shape": "factoid", "tags": ["zh"], "reply": "x",
            "answers": ["2018"] if kind == "answerable" else [],
            "model_refused": False, "confidence": {"min": confidence}, "reading": None,
            "checked": [{"text": "2018年" if model_right else "2019年", "kept": True, "claim_coverage": 0.9,
                         "passage_coverage": 1.0}],
            "extractive": "项目于2018年完工。" if extractive_right else "项目于2017年立项。", "extractive_refused": False,
            "extractive_missing": [], "extractive_claim_coverage": 0.9}


def test_choose_policy_hands_over_below_the_cut_that_gains_most_on_the_fitting_sets(tmp_path, capsys):
    cp = _script("choose_policy")
    # the model misreads at 0.35 and 0.45 where the extractive answer is right; it is right at 0.65 where that is not
    rows = [study_row("answerable", 0.35, False, True), study_row("answerable", 0.45, False, True),
            study_row("answerable", 0.65, True, False), study_row("answerable", 0.95, True, True),
            study_row("unanswerable", 0.3, False, False)]
    fit, saved = tmp_path / "study.jsonl", tmp_path / "routes.json"
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    saved.write_text('{"routes": {"factoid/zh": "model"}}', encoding="utf-8")
    assert cp.main([str(fit), "--prefer-extractive", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    # 0.5 and 0.6 both rescue the two misreadings; the lower is taken; 0.7 loses the right 0.65 answer
    assert "chosen: hand an answer the model gave below 0.5 to the extractive answerer (balanced 50.0 against 25.0 never)" in out
    assert "| 0.7 | 37.5 |" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["prefer_extractive"]["below"] == 0.5
    # the unanswerable row is answered either way: its refusal rate stays 0
    assert "| fitting: study.jsonl | chosen | 100.0 | 0.0 | 0.0 | 3 |" in out
    saved.write_text('{"routes": {"factoid/zh": "auto"}}', encoding="utf-8")  # rows read as another route: refused
    with pytest.raises(SystemExit, match="routes Chinese factoids to 'auto'; --prefer-extractive fits the hand-over of "
                                         "the 'model' route only"):
        cp.main([str(fit), "--prefer-extractive", "--write", str(saved)])
    # rows read in another form than the saved reading check's would replay the wrong readings: refused
    other = "sentence" if cp.AUTO_POLICY.reading_form == "context" else "context"
    read = tmp_path / "read.jsonl"
    read.write_text(json.dumps({**rows[0], "reading": 0.5, "reading_form": other}) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=f"read in the {other} form, but the saved reading check \\(routes.json\\) is "
                                         f"the {cp.AUTO_POLICY.reading_form} form; run the studies again"):
        cp.main([str(fit), "--prefer-extractive", "--report", str(read)])
    for row in rows:
        row["confidence"] = None
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SystemExit, match="no token probabilities recorded; run scripts/study_model.py with --token-probs"):
        cp.main([str(fit), "--prefer-extractive"])


def test_choose_policy_answer_type_simulates_the_shipped_check_and_judges_the_models_part(tmp_path, capsys, monkeypatch):
    """README step 24: an extractive answer without what the question asks for is refused by the extractive answerer,
    so the model's unsure answer stands; --answer-type reports whether the model's own answers should be checked too."""
    cp = _script("choose_policy")
    # the model was unsure (0.3, below the saved cut) and right; the extractive sentence it would be handed to gives no year
    # (extractive_score 2.0: above every saved logit cut, which --answer-type applies since round 31)
    year = {**study_row("answerable", 0.3, True, False), "question": "项目哪一年完工？", "extractive": "项目由第三工程队完工。[1]",
            "extractive_score": 2.0}
    assert cp.preferred(year, cp.AUTO_POLICY.prefer_extractive_below) == (False, "项目由第三工程队完工。[1]")
    assert cp.extractive_typed(year) == (False, "2018年")
    assert cp.model_typed(year) == (False, "2018年")
    # the model's own sure answer to a question about money gives a year: only the model's part refuses it
    money = {**study_row("unanswerable", 0.9, True, True), "question": "项目花了多少钱？", "extractive_score": 2.0}
    assert cp.extractive_typed(money) == (False, "2018年")
    assert cp.model_typed(money) == (True, "")
    out = reported(cp, tmp_path, capsys, (year, money), "--answer-type")
    assert "| fitting: study.jsonl | before step 82 (extractive answers checked) | 100.0 | 0.0 | 0.0 | |" in out
    assert "| fitting: study.jsonl | the model's answers too | 100.0 | 100.0 | 0.0 | 1 |" in out
    assert ("balanced gain on the fitting sets 50.00 (needs 0.5), right answers lost 0: taken for the model's own answers "
            "under step 40's rule") in out
    assert ("wrong answers refused on the fitting sets 1, right answers lost 0: taken under step 82's rule" in out)
    # step 82: `shipped` is the product, the model's answers checked where routes.json says so
    for check, answered in ((True, (True, "")), (False, (False, "2018年"))):
        monkeypatch.setattr(cp, "AUTO_POLICY", replace(cp.AUTO_POLICY, model_answer_type=check))
        assert cp.shipped(money) == answered


def test_choose_policy_rival_simulates_step_83_on_the_models_own_answers(tmp_path, capsys, monkeypatch):
    """README step 83: the model's own answer withheld where the sentence it stands on names a rival of the question's
    subject (the recorded claim sentence, with the excerpts and claim passage as what the model read); --rival reports it
    under step 82's rule, and `shipped` follows routes.json's model_rival."""
    cp = _script("choose_policy")
    listed, growth = "核心业务分别为影像设计业务、美业方案业务。", "2023年,影像设计业务的收入同比增长52.8%。"
    rival = {**study_row("unanswerable", 0.9, True, False), "question": "星海公司美业方案业务的增速是多少？",
             "extractive_score": 2.0, "excerpts": [listed + growth],
             "checked": [{"text": "52.8%", "kept": True, "claim_coverage": 0.9, "passage_coverage": 1.0,
                          "claim_sentence": growth, "claim_passage": listed + growth}]}
    own = {**rival, "kind": "answerable", "answers": ["52.8%"], "question": "星海公司影像设计业务的增速是多少？"}
    assert cp.shipped_before_rival(rival) == (False, "52.8%")
    assert cp.rival_checked(rival) == (True, "")
    assert cp.rival_checked(own) == (False, "52.8%")
    assert cp.rival_checked({**rival, "excerpts": [growth], "checked": [{**rival["checked"][0], "claim_passage": growth}]}) \
        == (False, "52.8%")  # what was asked is written nowhere else in what the model read
    out = reported(cp, tmp_path, capsys, (rival, own), "--rival")
    assert "| fitting: study.jsonl | before step 83 | 100.0 | 0.0 | 0.0 | |" in out
    assert "| fitting: study.jsonl | the rival check | 100.0 | 100.0 | 0.0 | 1 |" in out
    assert "|   | step 83 refuses | unanswerable | 星海公司美业方案业务的增速是多少？ | 52.8% | |" in out
    assert "wrong answers refused on the fitting sets 1, right answers lost 0: taken under step 82's rule" in out
    for check, answered in ((True, (True, "")), (False, (False, "52.8%"))):
        monkeypatch.setattr(cp, "AUTO_POLICY", replace(cp.AUTO_POLICY, model_rival=check))
        assert cp.shipped(rival) == answered


def test_choose_policy_answer_name_simulates_step_84_on_the_models_own_answers(tmp_path, capsys, monkeypatch):
    """README step 84: the model's own answer withheld where its question asks a person, place or thing and it gives a
    time or number alone; --answer-name reports it under step 82's rule, and `shipped` follows routes.json."""
    cp = _script("choose_policy")
    who = {**study_row("unanswerable", 0.9, True, False), "question": "项目是谁完工的？", "extractive_score": 2.0}
    when = {**study_row("answerable", 0.9, True, False), "question": "项目哪一年完工？", "extractive_score": 2.0}
    assert cp.shipped_before_name(who) == (False, "2018年")
    assert cp.name_checked(who) == (True, "")
    assert cp.name_checked(when) == (False, "2018年")
    out = reported(cp, tmp_path, capsys, (who, when), "--answer-name")
    assert "| fitting: study.jsonl | before step 84 | 100.0 | 0.0 | 0.0 | |" in out
    assert "| fitting: study.jsonl | the name check | 100.0 | 100.0 | 0.0 | 1 |" in out
    assert "|   | step 84 refuses | unanswerable | 项目是谁完工的？ | 2018年 | |" in out
    assert "wrong answers refused on the fitting sets 1, right answers lost 0: taken under step 82's rule" in out
    for check, answered in ((True, (True, "")), (False, (False, "2018年"))):
        monkeypatch.setattr(cp, "AUTO_POLICY", replace(cp.AUTO_POLICY, model_answer_name=check))
        assert cp.shipped(who) == answered


def test_choose_policy_reports_the_hand_over_variants_against_the_shipped_rule(tmp_path, capsys):
    """README step 25: the hand-over only onto the model's own sentence, or only where the model reads the extractive
    sentence as answering, against the shipped hand-over; reported, never saved."""
    cp = _script("choose_policy")
    # unsure (0.3, below the saved cut) and right; the extractive answer is another sentence, which the model reads as
    # not answering (0.2)
    elsewhere = {**study_row("answerable", 0.3, True, False), "extractive_score": 2.0, "extractive_reading": 0.2}
    # unsure and wrong; the extractive answer is the very sentence its claim stands on, read as answering (0.9)
    same = {**study_row("answerable", 0.3, False, True), "extractive_score": 2.0, "extractive_reading": 0.9}
    same["checked"] = [{**same["checked"][0], "claim_sentence": "项目于2018年完工。"}]
    sure = {**study_row("unanswerable", 0.95, False, False), "extractive_score": 2.0}
    assert cp.shipped(elsewhere) == (False, "项目于2017年立项。") and cp.handed_over(elsewhere)
    assert cp.same_sentence_only(elsewhere) == (False, "2018年") and not cp.on_same_sentence(elsewhere)
    assert cp.same_sentence_only(same) == (False, "项目于2018年完工。") and cp.on_same_sentence(same)
    assert cp.gated_hand_over(elsewhere, 0.5) == (False, "2018年")
    assert cp.gated_hand_over(same, 0.8) == (False, "项目于2018年完工。")
    out = reported(cp, tmp_path, capsys, (elsewhere, same, sure), "--hand-over-variants")
    assert "| shipped | 25.00 |" in out and "| same sentence only | 50.00 |" in out
    assert "| hand-over read >= 0.8 | 50.00 |" in out
    assert "same sentence only: best same sentence only (50.00 against the shipped 25.00): beats the shipped rule" in out
    assert "hand-over read: best hand-over read >= 0.3 (50.00 against the shipped 25.00): beats the shipped rule" in out
    assert "| study.jsonl | shipped | 50.0 | 0.0 | 0.0 |" in out
    assert "| study.jsonl | hand-over read >= 0.3 | 100.0 | 0.0 | 0.0 |" in out
    # no reading recorded: the gate is not passed, so the model's answer stands
    assert cp.gated_hand_over({**elsewhere, "extractive_reading": None}, 0.3) == (False, "2018年")
    # a misread reply that fell back, or a question no model answered, is no hand-over
    misread = {**elsewhere, "checked": [{**elsewhere["checked"][0], "kept": False}], "extractive_reading": 0.9}
    assert cp.shipped(misread) == (False, "项目于2017年立项。") and not cp.handed_over(misread)
    assert not cp.handed_over({**elsewhere, "reply": None})


def test_the_wider_fallback_answers_a_withheld_reply_too(tmp_path, capsys):
    """README step 25: the fallback also where a cut withheld a supported reply (here the confidence cut, 0.1 < 0.2);
    never where the model refused in words, and never below the logit, the reading gate, or the answer-type check."""
    cp = _script("choose_policy")
    withheld = {**study_row("answerable", 0.1, False, True), "extractive_score": 1.5, "extractive_reading": 0.9}
    assert cp.shipped(withheld) == (True, "")  # the shipped fallback is for misread replies only
    assert cp.wider_fallback(withheld, 1.0, 0.8) == (False, "项目于2018年完工。")
    assert cp.wider_fallback(withheld, 2.0, 0.0) == (True, "")  # the logit
    assert cp.wider_fallback(withheld, 1.0, 0.95) == (True, "")  # the reading gate
    assert cp.wider_fallback({**withheld, "question": "项目花了多少钱？"}, 1.0, 0.8) == (True, "")  # no amount
    assert cp.wider_fallback({**withheld, "model_refused": True}, 1.0, 0.8) == (True, "")
    said = {**study_row("unanswerable", 0.9, False, False), "model_refused": True, "extractive_score": 1.5}
    out = reported(cp, tmp_path, capsys, (withheld, said), "--hand-over-variants")
    # logit 2 is the first grid point, and the best by the rate; ties keep the first
    assert "| fallback withheld, logit >= 2, read >= 0 | 50.00 |" in out
    assert ("fallback withheld: best fallback withheld, logit >= 1, read >= 0 (100.00 against the shipped 50.00): beats "
            "the shipped rule") in out
    assert "| study.jsonl | fallback withheld, logit >= 1, read >= 0 | 100.0 | 100.0 | 0.0 |" in out


def test_choose_policy_fits_the_hand_over_with_the_answer_type_check(tmp_path, capsys):
    """Since round 21 the hand-over is fitted as shipped: an extractive answer that does not show what is asked is
    refused by the extractive answerer, so the model's unsure answer stands and handing over gains nothing there."""
    cp = _script("choose_policy")
    # the model's unsure 2018年 is right; the extractive sentence it would be handed to gives no year
    rows = [{**study_row("answerable", 0.35, True, False), "extractive": "项目由第三工程队完工。"},
            study_row("answerable", 0.95, True, True),
            {**study_row("unanswerable", 0.9, False, False), "model_refused": True}]
    out = reported(cp, tmp_path, capsys, rows, "--prefer-extractive")
    # without the check every cut above 0.35 would hand the right answer to the yearless sentence (50.0)
    assert "| 0.9 | 50.0 |" not in out and "| 0.9 | 100.0 |" in out
    assert "chosen: hand an answer the model gave below 0 to the extractive answerer" in out


def test_choose_policy_contrast_simulates_step_89_on_both_answerers(tmp_path, capsys):
    """README step 89: an answer is refused where it speaks of the other side of a contrast the question asks about (the
    model's own answer by every recorded claim sentence it was kept on, the extractive answer by its own text); --contrast
    reports it under step 82's rule, and `shipped` includes it (it is part of both answerers, no switch)."""
    cp = _script("choose_policy")
    monthly = "2023年,项目的月活跃用户数达2.49亿。"
    daily = {**study_row("unanswerable", 0.9, True, False), "question": "项目的日活跃用户数是多少？", "extractive_score": 2.0,
             "checked": [{"text": "2.49亿", "kept": True, "claim_coverage": 0.9, "passage_coverage": 1.0,
                          "claim_sentence": monthly}]}
    asked_monthly = {**daily, "kind": "answerable", "answers": ["2.49亿"], "question": "项目的月活跃用户数是多少？"}
    assert cp.shipped_before_contrast(daily) == (False, "2.49亿")
    assert cp.contrast_checked(daily) == cp.shipped(daily) == (True, "")
    assert cp.contrast_checked(asked_monthly) == (False, "2.49亿")
    # an extractive answer standing is read by its own text (its row's claims not consulted)
    fallback = {**daily, "extractive": monthly, "checked": []}
    assert cp._contrast_found(fallback, monthly) and not cp._contrast_found({**fallback, "question": "项目的月活跃用户数是多少？"}, monthly)
    out = reported(cp, tmp_path, capsys, (daily, asked_monthly), "--contrast")
    assert "| fitting: study.jsonl | before step 89 | 100.0 | 0.0 | 0.0 | |" in out
    assert "| fitting: study.jsonl | the contrast check | 100.0 | 100.0 | 0.0 | 1 |" in out
    assert "wrong answers refused on the fitting sets 1, right answers lost 0: taken under step 82's rule" in out
