"""scripts/near_labels.py (the labels near_match is checked against) and the shipped labels, with exact values."""

from __future__ import annotations

import importlib.util
import json

import pytest

from rag.config import PROJECT_ROOT
from rag.evaluation.metrics import NEAR_MIN_F1

LABELS = PROJECT_ROOT / "eval" / "cmrc_near_labels.jsonl"
FIT, REPORT = "CMRC dev 1-300", "CMRC dev 301-600"


def _script():  # noqa: ANN202 - a module loaded from scripts/
    spec = importlib.util.spec_from_file_location("near_labels", PROJECT_ROOT / "scripts" / "near_labels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(question: str, golds: list[str], answer: str, label: str, split: str = "fit") -> dict:
    return {"key": answer, "question": question, "golds": golds, "answer": answer, "label": label, "split": split}


ROWS = [
    # F1 beyond the question 0.889: credited at every cut up to 0.85
    _row("嘉兴南站建筑总面积为多少平方米？", ["近5.6万平方米"], "嘉兴南站建筑总面积为5.6万平方米", "right"),
    # 北美洲与东亚 (6; 分布在 is the question's) inside 现今的北美洲与东亚 (9): F1 = 2 * 1 * (6/9) / (1 + 6/9) = 0.8
    _row("新角龙类分布在什么地方？", ["现今的北美洲与东亚"], "新角龙类分布在北美洲与东亚", "right"),
    # 4 against 8: never credited
    _row("嘉兴南站有几条线？", ["8条线"], "4条线", "wrong"),
    # 是外立面主打横线条打造一座玉琮城 (16) against 充分运用良渚文化元素外立面主打横线条打造一座玉琮城 (25): common 15,
    # F1 = 2 * 15 / (16 + 25) = 0.732, labelled partial: credited at a cut up to 0.732 is a disagreement
    _row("余杭站的建筑有什么特点？", ["充分运用良渚文化元素，外立面主打横线条，打造一座“玉琮城”"],
         "余杭站的建筑特点是外立面主打横线条，打造一座“玉琮城”", "partial"),
]


def test_agreement_by_hand() -> None:
    nl = _script()
    # at 0.7: credits rows 1, 2 and 4 -> agrees on 1, 2, 3; precision 2/3, recall 2/2
    a = nl.agreement(ROWS, 0.7)
    assert (a["n"], a["labelled_right"], a["credited"]) == (4, 2, 3)
    assert (a["agreement"], a["precision"], a["recall"]) == (0.75, pytest.approx(2 / 3), 1.0)
    # from 0.75 to 0.8 it agrees on all four; at 0.85 it loses row 2
    assert nl.agreement(ROWS, 0.75)["agreement"] == nl.agreement(ROWS, 0.8)["agreement"] == 1.0
    assert nl.agreement(ROWS, 0.85)["agreement"] == 0.75
    assert nl.best_cut(ROWS) == 0.8  # ties to the higher cut


def test_score_chooses_on_one_split_and_reports_on_the_other(tmp_path, capsys) -> None:
    nl = _script()
    path = tmp_path / "labels.jsonl"
    rows = ROWS + [{**r, "split": "report"} for r in ROWS[:3]]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert nl.main(["score", str(path), "--fit", "fit", "--report", "report"]) == 0
    out = capsys.readouterr().out
    assert "chosen on fit: 0.8" in out
    assert "report at 0.8: agreement 1.000, precision 1.000, recall 1.000 (2 credited, 2 labelled right, of 3)" in out
    with pytest.raises(SystemExit, match="no labelled answer of split 'dev'"):
        nl.main(["score", str(path), "--fit", "dev"])
    path.write_text(json.dumps({**ROWS[0], "label": "maybe"}) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"label 'maybe' is not one of right, partial, wrong"):
        nl.main(["score", str(path), "--fit", "fit"])


def test_the_shipped_labels_choose_the_shipped_cut_and_give_the_reported_agreement() -> None:
    """README step 26: chosen on the labels of CMRC dev questions 1-300, reported on 301-600."""
    nl = _script()
    rows = nl.load_labels(LABELS)
    fit = [r for r in rows if r["split"] == FIT]
    report = [r for r in rows if r["split"] == REPORT]
    assert (len(fit), len(report)) == (134, 125)
    assert len({r["key"] for r in fit}) == 134 and len({r["key"] for r in report}) == 125
    assert nl.best_cut(fit) == NEAR_MIN_F1 == 0.45
    a = nl.agreement(report, NEAR_MIN_F1)
    assert (a["credited"], a["labelled_right"], a["n"]) == (13, 22, 125)
    assert round(a["precision"], 3) == 0.923 and round(a["recall"], 3) == 0.545
