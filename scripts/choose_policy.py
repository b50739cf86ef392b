"""Chooses how the model answer and the extractive answer combine, from scripts/study_model.py's records of
one set (the fitting set), and prints the same table for another (the reporting set), never the reverse.

    python scripts/choose_policy.py artifacts/study-drcd-dev.jsonl [--report artifacts/study-drcd-test.jsonl]

A policy: the model's checked answer stands when one of its sentences is kept (supported, the question's
anchors beside it) and the question's known words cover at least `min_question_coverage` of their idf
weight beside the support; otherwise either a refusal, or the extractive answer when it passes the same
question checks. Correct: an answerable question answered with the gold (metrics.fair_match), an absent or
adversarial one refused. The chosen policy maximises the mean of the three kinds' correct rates on the
fitting set, among those refusing at most MAX_WRONG_REFUSALS of its answerable questions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.evaluation.metrics import fair_match

# of answerable questions: the same 3% the extractive answerer's own refusal cut was fitted to (model.json)
MAX_WRONG_REFUSALS = 0.03
GRID = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6]
SCORE_GRID = [float("-inf"), -3.0, -2.0, -1.0, 0.0]  # the extractive answerer's answer logit (its own cut is ~1.6)
FALLBACK_GRID = [1.0, 2.0, 3.0, 4.0, 5.0]  # the logit above which a checked extractive answer replaces a failed one


def decide(row: dict, cut: float, fallback: float | None, score_cut: float = float("-inf")) -> tuple[bool, str]:
    """(refused, answer text) under a policy; `fallback`: the extractive logit above which the checked
    extractive answer replaces a model answer that failed (None: refuse instead)."""
    kept = [c for c in row["checked"] if c["kept"] and c["passage_coverage"] >= cut]
    score = row["extractive_score"] if row["extractive_score"] is not None else float("-inf")
    if row.get("reply") is not None and kept and not row["model_refused"] and score >= score_cut:
        return False, "".join(c["text"] for c in row["checked"] if c["kept"])
    if fallback is not None and score >= fallback and not row["extractive_refused"] \
            and not row.get("extractive_missing") and (row.get("extractive_coverage") or 0.0) >= cut:
        return False, row["extractive"]
    return True, ""


def score(rows: list[dict], policy: str, cut: float = 0.0, fallback: float | None = None,
          score_cut: float = float("-inf")) -> dict[str, float]:
    out: dict[str, list[float]] = {"answerable": [], "absent": [], "adversarial": [], "wrong_refusal": []}
    for r in rows:
        if policy == "extractive":
            refused, text = r["extractive_refused"], r["extractive"]
        else:
            refused, text = decide(r, cut, fallback, score_cut)
        if r["kind"] == "answerable":
            out["answerable"].append(float(not refused and fair_match(text, r["answers"])))
            out["wrong_refusal"].append(float(refused))
        else:
            out[r["kind"]].append(float(refused))
    return {k: 100 * sum(v) / len(v) if v else float("nan") for k, v in out.items()}


MODEL_ONLY = "model, coverage >= 0.0, extractive logit >= -inf, else refuse"  # the model with its sentence checks only


def table(rows: list[dict]) -> list[tuple[str, dict[str, float], float, bool]]:
    lines = [("extractive", score(rows, "extractive"), 0.0, False)]
    for fallback in (None, *FALLBACK_GRID):
        for cut in GRID:
            for score_cut in SCORE_GRID:
                name = (f"model, coverage >= {cut:.1f}, extractive logit >= {score_cut:g}"
                        + (f", else checked extractive if its logit >= {fallback:g}" if fallback is not None
                           else ", else refuse"))
                lines.append((name, score(rows, "model", cut, fallback, score_cut), cut, fallback))
    return lines


def show(title: str, lines) -> None:  # noqa: ANN001
    print(f"\n{title}\n| policy | answerable right | absent refused | adversarial refused | answerable refused |")
    print("|---|---|---|---|---|")
    for name, s, _, _ in lines:
        print(f"| {name} | {s['answerable']:.1f} | {s['absent']:.1f} | {s['adversarial']:.1f} | {s['wrong_refusal']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("fit", type=Path)
    ap.add_argument("--report", type=Path, action="append", default=[])
    args = ap.parse_args(argv)
    load = lambda p: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]  # noqa: E731
    fit = load(args.fit)
    lines = table(fit)
    show(f"fitting set: {args.fit} ({len(fit)} questions)", lines)
    allowed = [ln for ln in lines[1:] if ln[1]["wrong_refusal"] <= 100 * MAX_WRONG_REFUSALS]
    best = max(allowed or lines[1:], key=lambda ln: (ln[1]["answerable"] + ln[1]["absent"] + ln[1]["adversarial"]) / 3)
    print(f"\nchosen on {args.fit.name} (at most {100 * MAX_WRONG_REFUSALS:.0f}% of answerable refused): {best[0]}")
    for path in args.report:
        rows = load(path)
        shown = table(rows)
        show(f"reporting set: {path} ({len(rows)} questions)",
             [shown[0], *[ln for ln in shown if ln[0] in (best[0], MODEL_ONLY)]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
