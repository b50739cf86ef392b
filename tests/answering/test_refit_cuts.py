"""scripts/refit_cuts.py (README, "How auto was chosen", step 45): the saved cuts refitted in order on rebuilt studies,
each kept only where the default as shipped gains on the fitting sets and no set loses more than 2 points of answerable
right; the installed routes.json is never touched unless --write names it."""

from __future__ import annotations

import json

import pytest

from rag.answering.model import ROUTES_FILE, auto_policy
from tests.answering.test_english_standing import write_rows
from tests.answering.test_model_answerer import _script
from tests.answering.test_model_score_cut import row


def rates(answerable: float, refused: float) -> dict[str, float]:
    return {"answerable": answerable, "refused": refused, "wrong_refusal": 100.0 - answerable}


def test_a_refit_is_kept_only_with_the_gain_and_no_set_losing_more_than_the_bar():
    rc = _script("refit_cuts")
    before = {"a": rates(80.0, 60.0), "b": rates(90.0, 70.0)}  # mean balanced (70 + 80) / 2 = 75
    # a +3, b -1: +1.0 balanced; b loses 2 points of answerable right: at the bar, kept
    after = {"a": rates(80.0, 66.0), "b": rates(88.0, 70.0)}
    assert rc.keep(before, after, 0.5, 2.0) == (True, pytest.approx(1.0), "b", pytest.approx(2.0))
    # b loses 5: the gain does not buy it
    after = {"a": rates(80.0, 80.0), "b": rates(85.0, 70.0)}
    assert rc.keep(before, after, 0.5, 2.0) == (False, pytest.approx(3.75), "b", pytest.approx(5.0))
    # no loss, +0.25: below the gain
    after = {"a": rates(80.0, 61.0), "b": rates(90.0, 70.0)}
    assert rc.keep(before, after, 0.5, 2.0)[0] is False
    assert rc.mean_balanced(before) == 75.0


def studies(tmp_path):  # noqa: ANN001, ANN201
    """Two fitting sets and a held-out one in rebuild_studies.sh's names (test_model_score_cut's rows: the model's
    own answer, right or wrong, at an extractive logit), and a routes.json as installed but without the model-score
    cut, so that its refit (-3: it refuses both -3.2 answers, a 50 -> 75, b 50 -> 100) has something to gain."""
    a = [row("answerable", -0.5, True), row("unanswerable", -3.2, False), row("unanswerable", -1.5, False)]
    b = [*[row("answerable", -0.5, True)] * 3, row("answerable", -1.2, True), row("unanswerable", -3.2, False)]
    held = [row("answerable", -0.5, True), row("unanswerable", -3.4, False)]
    for name, rows in (("study-a", a), ("study-b", b), ("study-held", held)):
        write_rows(tmp_path / f"{name}.jsonl", rows)
    routes = tmp_path / "routes.json"
    saved = json.loads(ROUTES_FILE.read_text(encoding="utf-8"))
    routes.write_text(json.dumps({**saved, "model_score_cut": None}, ensure_ascii=False), encoding="utf-8")
    return routes


def run(rc, tmp_path, routes, *extra):  # noqa: ANN001, ANN002, ANN201
    return rc.main([str(tmp_path), "--pool", "study-a", "study-b", "--held-out", "study-held", "--routes", str(routes),
                    "--modes", "model-score-cut", "--log-dir", str(tmp_path / "logs"), *extra])


def test_a_refit_that_gains_is_reported_and_written_only_with_write(tmp_path, capsys):
    rc = _script("refit_cuts")
    installed = ROUTES_FILE.read_text(encoding="utf-8")
    routes = studies(tmp_path)
    unfitted = routes.read_text(encoding="utf-8")
    assert run(rc, tmp_path, routes) == 0
    out = capsys.readouterr().out
    # the held-out set: never 50.0 (its -3.4 answer stands), 100.0 with the cut
    assert "| --model-score-cut | 50.00 → 87.50 (+37.50) | none | 50.00 → 100.00 | kept (log: " in out
    assert "kept: --model-score-cut; rerun with --write to save them in" in out
    assert routes.read_text(encoding="utf-8") == unfitted  # a report: nothing written
    assert "chosen: refuse the model's own answer below an extractive logit of -3" in (
        tmp_path / "logs" / "refit-model-score-cut.log").read_text(encoding="utf-8")
    assert run(rc, tmp_path, routes, "--write") == 0
    assert json.loads(routes.read_text(encoding="utf-8"))["model_score_cut"]["below"] == -3.0
    assert auto_policy(routes).model_min_extractive_score == -3.0
    assert ROUTES_FILE.read_text(encoding="utf-8") == installed  # the installed file was never the one written


def test_a_refit_below_the_gain_goes_back_to_what_was_saved(tmp_path, capsys):
    rc = _script("refit_cuts")
    routes = studies(tmp_path)
    unfitted = routes.read_text(encoding="utf-8")
    assert run(rc, tmp_path, routes, "--write", "--min-gain", "40") == 0
    out = capsys.readouterr().out
    assert "| --model-score-cut | 50.00 → 87.50 (+37.50) | none | 50.00 → 100.00 | restored (log: " in out
    assert "no refit kept:" in out
    assert routes.read_text(encoding="utf-8") == unfitted


def test_a_refit_that_chooses_the_saved_value_says_so_and_keeps_the_saved_section(tmp_path, capsys):
    rc = _script("refit_cuts")
    routes = studies(tmp_path)
    fitted = json.loads(routes.read_text(encoding="utf-8"))
    fitted["model_score_cut"] = {"below": -3.0, "fitted_on": ["an earlier round's studies"]}
    routes.write_text(json.dumps(fitted, ensure_ascii=False), encoding="utf-8")
    assert run(rc, tmp_path, routes, "--write") == 0
    assert "| --model-score-cut | 87.50 → 87.50 (+0.00) | none | 100.00 → 100.00 | the saved values again" in (
        capsys.readouterr().out)
    assert json.loads(routes.read_text(encoding="utf-8"))["model_score_cut"]["fitted_on"] == [
        "an earlier round's studies"]


def test_missing_studies_are_named_with_the_script_that_builds_them(tmp_path):
    rc = _script("refit_cuts")
    routes = studies(tmp_path)
    with pytest.raises(SystemExit, match=r"has no study-c\.jsonl \(fitting set\); build the studies first: "
                                         r"scripts/rebuild_studies\.sh"):
        rc.main([str(tmp_path), "--pool", "study-a", "study-c", "--held-out", "--routes", str(routes)])
