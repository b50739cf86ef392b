"""Step 68 (README, "How auto was chosen"): a factoid's bold span is shown only where the span model's logit reaches the
gate (extractive.SPAN_SHOWN_AT); the answer's text, citations and verdict do not change. The analysis keeps the logit
spans.best_span gave the span it chose. With the real model over the article, and the study script's fit by hand."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from rag.answering.base import Evidence
from rag.answering.extractive import SPAN_SHOWN_AT, ExtractiveAnswerer
from rag.answering.question import Question
from rag.answering.spans import best_span

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))


def analysed(engine, text):  # noqa: ANN001, ANN201
    question = Question.make(text)
    found = engine.search(question, engine.index)
    evidence = Evidence(engine.index, found.answer_vector, engine.embedder)
    answerer = ExtractiveAnswerer()
    return answerer, question, list(found.hits), evidence, answerer.analyse(question, list(found.hits), evidence)


@pytest.mark.integration
def test_the_bold_is_shown_only_at_or_above_the_gate(real_engine):
    answerer, question, hits, evidence, analysis = analysed(real_engine, "美图的CFO是谁？")
    assert answerer.span_shown_at == SPAN_SHOWN_AT
    logit = analysis.span_logit
    asked = question.text
    span, expected, _ = best_span(asked, analysis.want, analysis.candidates, analysis.logits, analysis.order,
                                  answerer.models.span)
    assert span is not None and logit == expected and math.isfinite(logit)
    answerer.span_shown_at = -math.inf
    shown = answerer.answer_from(question, hits, evidence, analysis)
    assert shown.span is not None and "颜劲良" in shown.span.text
    answerer.span_shown_at = logit  # at the gate: shown
    assert answerer.answer_from(question, hits, evidence, analysis).span == shown.span
    answerer.span_shown_at = logit + 0.01  # just above the span's logit: the sentence without bold
    hidden = answerer.answer_from(question, hits, evidence, analysis)
    assert hidden.span is None and (hidden.text, hidden.citations, hidden.refused) == (shown.text, shown.citations,
                                                                                        False)


def test_the_study_fits_the_gate_by_hand(tmp_path):
    import study_spans

    def row(right: bool, logit: float | None, refused: bool = False, span: str = "x") -> dict:
        return {"question": "谁？", "answers": ["甲"], "answerable": True, "refused": refused,
                "span": ("甲" if right else "乙") if span else "", "span_logit": logit}

    # 3 right spans (logits 1, 2, inf: a list pick), 4 wrong ones (-2, -1.2, -0.7, 1.2); two rows without a span
    rows = [row(True, 1.0), row(True, 2.0), row(True, math.inf), row(False, -2.0), row(False, -1.2),
            row(False, -0.7), row(False, 1.2), row(True, None, span=""), row(False, 0.3, refused=True)]
    path = tmp_path / "fit.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = study_spans.fit([path], [path])
    assert "| -inf | 3 | 4 | -1 |" in out and "| -0.5 | 3 | 1 | 2 |" in out and "| 1.5 | 2 | 0 | 2 |" in out
    # -0.5 to 2 tie at 2: the lowest gate; +3 over no gate on 7 spans (needs 5% of 7), keeps 3 of 3 right spans
    assert "chosen: -0.5 (+3 against no gate over 7 spans, needs 0.4; keeps 3 of 3 right spans, needs 2.2): taken" in out
    assert "| fitting: fit.jsonl | 7 | 3 / 4 | 3 / 1 | 3 → 3 |" in out


def test_the_study_fits_on_one_part_of_drcd_dev_and_reports_every_row_elsewhere(tmp_path):
    import study_spans
    from fit_answerer import part_of

    sources = {part_of(f"x#{n}"): f"x#{n}" for n in range(40)}  # one paragraph name of each part
    assert set(sources) == {"calibrate", "fit"}

    def row(right: bool, logit: float, part: str) -> dict:
        return {"question": "谁？", "answers": ["甲"], "answerable": True, "refused": False,
                "span": "甲" if right else "乙", "span_logit": logit, "part": part, "source": sources[part]}

    # the FIT part's rows (in-sample for the span model) would choose a high gate; only the CALIBRATE rows are read
    fitting = [row(True, 0.2, "calibrate"), row(False, -1.0, "calibrate"), row(True, 2.0, "fit"),
               row(False, 1.0, "fit"), row(False, 0.5, "fit")]
    path = tmp_path / "drcd.jsonl"
    report = tmp_path / "cmrc.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fitting), encoding="utf-8")
    report.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fitting[2:]), encoding="utf-8")
    out = study_spans.fit([path], [report], "calibrate")
    assert "| -inf | 1 | 1 | 0 |" in out and "| -0.5 | 1 | 0 | 1 |" in out
    assert "chosen: -0.5 (+1 against no gate over 2 spans, needs 0.1; keeps 1 of 1 right spans, needs 0.8): taken" in out
    assert "| fitting (calibrate part): drcd.jsonl | 2 | 1 / 1 | 1 / 0 | 1 → 1 |" in out
    assert "| reporting: cmrc.jsonl | 3 | 1 / 2 | 1 / 2 | 1 → 1 |" in out


@pytest.mark.integration
def test_the_enumeration_pick_can_be_switched_off(real_engine):
    """README step 69 (not taken): with the pick, the business the question names gets its own figure from the
    "分别为" sentence; without it the span model's best span, the first business's figure, is bolded."""
    answerer, question, hits, evidence, analysis = analysed(real_engine, "美图的广告业务一年能收入多少？")
    assert answerer.list_pick is True
    assert analysis.span is not None and analysis.span.text == "7.59亿元" and analysis.span_logit == math.inf
    answerer.list_pick = False
    unpicked = answerer.analyse(question, hits, evidence)
    assert unpicked.span is not None and unpicked.span.text == "13.27亿" and math.isfinite(unpicked.span_logit)


def test_the_study_compares_two_recordings_by_hand(tmp_path):
    import study_spans

    def row(i: str, span: str, refused: bool = False, answerable: bool = True, answer: str = "句子") -> dict:
        return {"id": i, "question": f"问{i}？", "answers": ["甲"] if answerable else [], "answerable": answerable,
                "refused": refused, "answer": answer, "span": span, "correct": study_spans.correct(
                    answerable, refused, answer, ["甲"] if answerable else [])}

    before = [row("1", "甲", answer="甲在此"), row("2", "乙", answer="乙在此"), row("3", "", refused=True),
              row("4", "丙", answerable=False)]
    after = [row("1", "甲", answer="甲在此"), row("2", "甲", answer="甲在此"), row("3", "乙", answer="乙在此"),
             row("4", "", refused=True, answerable=False)]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path, rows in ((a, before), (b, after)):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = study_spans.compare(a, b)
    assert "| before | 1 / 2 | -1 | 1 of 4 |" in out and "| after | 2 / 1 | 1 | 3 of 4 |" in out
    assert "- 问2？ | 乙, False | 甲, True" in out and "- 问3？ | (no bold), False | 乙, False" in out
    assert "- 问4？ | 丙, False | (no bold), True" in out and "问1" not in out
    b.write_text(json.dumps(after[0], ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="hold different questions"):
        study_spans.compare(a, b)
