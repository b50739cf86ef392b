"""scripts/targets.py: issue 14's targets read from evaluation runs, studies and a /usr/bin/time log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import choose_policy  # noqa: E402
import targets  # noqa: E402

ARTICLE = {"correct": 0.736, "refused_unanswerable": 0.852, "correct[paraphrase]": 0.353, "correct[en]": 0.8,
           "supported_sentence_rate": 1.0, "markers_ok": 1.0, "first_token_p50_ms": 2500.0, "total_p50_ms": 3931.8,
           "total_p95_ms": 8100.0, "answer_p50_ms": 1.0}


def run(tmp_path: Path, name: str, *rows: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps(list(rows)), encoding="utf-8")
    return folder


def test_article_targets_with_their_lines(tmp_path, capsys):
    article = run(tmp_path, "art", {"config": "auto, hybrid (chunk 300)", **ARTICLE},
                  {"config": "extractive, hybrid (chunk 300)", "correct": 0.597})
    assert targets.main(["--article", str(article)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == f"| article correct | >= 85 | 73.6 | no | article: {article} |"
    assert out[5] == f"| English | >= 80 | 80.0 | yes | article: {article} |"  # on the line meets it
    assert out[8] == f"| first token p50 | <= 2.5 s | 2.50 s | yes | article: {article} |"
    assert out[9] == f"| whole answer p50 | <= 4 s | 3.93 s | yes | article: {article} |"
    assert out[10] == f"| whole answer p95 | <= 8 s | 8.10 s | no | article: {article} |"
    assert out[11] == ("| beats the extractive answerer (correct) | > extractive, never 2 points under | 73.6 against "
                       "59.7 | yes | article |")
    assert out[-1] == "7 of 10 targets met; unmet: article correct, paraphrase, whole answer p95"


def test_half_absent_baseline_from_its_own_run_and_rss(tmp_path, capsys):
    half = run(tmp_path, "half", {"config": "auto, hybrid", "refused_unanswerable": 0.876, "wrongly_refused": 0.05,
                                  "correct": 0.70})
    base = run(tmp_path, "base", {"config": "extractive, hybrid", "correct": 0.71})
    log = tmp_path / "time.log"
    log.write_text("\tMaximum resident set size (kbytes): 2450004\n", encoding="utf-8")  # KiB: 2.51 GB
    assert targets.main(["--half-absent", str(half), "--baseline", f"half-absent={base}",
                         "--time-log", str(log)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2:5] == [f"| half absent: absent refused | >= 90 | 87.6 | no | half-absent: {half} |",
                            f"| half absent: answerable refused | <= 5 | 5.0 | yes | half-absent: {half} |",
                            f"| serving RSS | <= 3 GB | 2.51 GB | yes | {log} |"]
    assert out[5] == ("| beats the extractive answerer (correct) | > extractive, never 2 points under | 70.0 against "
                      "71.0 | no (within 2 points) | half-absent |")
    assert out[-1] == ("2 of 4 targets met; unmet: half absent: absent refused, beats the extractive answerer "
                       "(half-absent)")


def test_a_figure_the_run_lacks_is_shown_and_not_counted(tmp_path, capsys):
    article = run(tmp_path, "art", {"config": "auto, hybrid", **{**ARTICLE, "correct[en]": None, "correct": 0.8496}})
    assert targets.main(["--article", str(article)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == f"| article correct | >= 85 | 85.0 | yes | article: {article} |"  # met as shown
    assert out[5] == f"| English | >= 80 | – | – | article: {article} |"
    assert out[-1] == "6 of 8 targets met; unmet: paraphrase, whole answer p95; not in the runs (–): English"


def test_swaps_read_through_the_shipped_cascade(tmp_path, monkeypatch, capsys):
    studies = tmp_path / "surprise"
    studies.mkdir()
    rows = [{"id": "a-swap", "kind": "adversarial", "refuse": True}, {"id": "b-swap", "kind": "adversarial", "refuse": False},
            {"id": "c-noun", "kind": "adversarial", "refuse": False}, {"id": "d", "kind": "answerable", "refuse": False},
            {"id": "e-swap", "kind": "adversarial", "refuse": True}, {"id": "f-swap", "kind": "adversarial", "refuse": True}]
    (studies / "study-cmrc-1.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    monkeypatch.setattr(choose_policy, "shipped", lambda row: (row["refuse"], ""))
    assert targets.main(["--studies", str(studies)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == f"| year/number/name swaps refused | >= 80 | 75.0 | no | 4 swaps of the CMRC studies in {studies} (held out) |"


@pytest.mark.parametrize(("args", "message"), [
    (["--article", "{tmp}/none"], "no summary.json there"),
    (["--article", "{tmp}/ext"], "no 'auto' row in its summary (it has: extractive)"),
    (["--studies", "{tmp}"], "no study-cmrc-*.jsonl there"),
    (["--time-log", "{tmp}/ext/summary.json"], "no 'Maximum resident set size' line"),
])
def test_bad_input_names_what_and_the_fix(tmp_path, capsys, args, message):
    run(tmp_path, "ext", {"config": "extractive, hybrid", "correct": 0.6})
    assert targets.main([a.format(tmp=tmp_path) for a in args]) == 2
    assert message in capsys.readouterr().err


def test_bad_baseline_argument_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        targets.main(["--baseline", "article"])
    assert "write SPLIT=DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a baseline with no run of the default to compare it with
        targets.main(["--studies", str(tmp_path), "--baseline", f"cmrc={tmp_path}"])
    assert "--baseline cmrc: no run of the default for that split" in capsys.readouterr().err
