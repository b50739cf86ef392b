"""Hand labels for the evaluation's near match (metrics.near_match): which answers that fair_match does not credit a
reader would call right, and how well near_match agrees with those labels (README, "How auto was chosen", step 26).

    # the answers to label: every answered, answerable row that fair_match does not credit, deduplicated, shuffled
    python scripts/near_labels.py export eval/out/run-a/results.jsonl eval/out/run-b/results.jsonl --out to_label.jsonl
    # fair and near over the answerable rows of runs (runs made before near existed included)
    python scripts/near_labels.py rates eval/out/run-a/results.jsonl [--rows 301-600]
    # the answers and their labels ({key, label: right|partial|wrong, note}) as one file, a split named per export
    python scripts/near_labels.py join to_label.jsonl labels.jsonl --out eval/cmrc_near_labels.jsonl --split fit
    # near_match against the labels over a grid of its cut: chosen on one split, reported on another
    python scripts/near_labels.py score eval/cmrc_near_labels.jsonl --fit fit --report report

Every labelled answer counts once (two runs writing the same answer to a question share its label). The cut is chosen
on the `--fit` split alone: the best agreement with the labels (right = 1; partial and wrong = 0), ties to the higher
(stricter) cut. The `--report` split gives that cut's agreement, precision (of the answers it credits beyond
fair_match, the share labelled right) and recall (of those labelled right, the share it credits).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from rag.evaluation.metrics import NEAR_MIN_F1, fair_match, near_match, strip_citation_markers

GRID = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
LABELS = ("right", "partial", "wrong")


def key_of(question: str, answer: str) -> str:
    """One label per question and answer text (two answerers writing the same answer share it)."""
    return hashlib.sha1(json.dumps([question, strip_citation_markers(answer).strip()], ensure_ascii=False)
                        .encode()).hexdigest()[:16]


def unfair_rows(paths: Sequence[Path]) -> list[dict]:
    """The answered, answerable rows of these results that fair_match does not credit (each with its key)."""
    out = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["answerable"] and not row["refused"] and not fair_match(row["answer"], row["answers"]):
                out.append({**row, "key": key_of(row["question"], row["answer"])})
    return out


def export(paths: Sequence[Path], out: Path, seed: int = 0) -> int:
    seen: dict[str, dict] = {}
    for row in unfair_rows(paths):
        seen.setdefault(row["key"], {"key": row["key"], "question": row["question"], "golds": row["answers"],
                                     "answer": strip_citation_markers(row["answer"]).strip()})
    rows = list(seen.values())
    random.Random(seed).shuffle(rows)  # no order that tells which run or answerer wrote an answer
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def load_labels(path: Path) -> list[dict]:
    """Labelled answers: JSONL of {key, question, golds, answer, label} (label right, partial or wrong)."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in LABELS:
            raise SystemExit(f"{path}:{n}: label {row.get('label')!r} is not one of {', '.join(LABELS)}")
        if not all(k in row for k in ("question", "golds", "answer")):
            raise SystemExit(f"{path}:{n}: a labelled answer needs question, golds and answer beside its label")
        rows.append(row)
    return rows


def agreement(rows: Sequence[dict], cut: float) -> dict[str, float]:
    """near_match at `cut` against the labels of `rows` (right = 1; partial and wrong = 0): agreement, precision (of
    the answers it credits, the share labelled right) and recall (of those labelled right, the share it credits)."""
    said = [near_match(r["answer"], r["golds"], r["question"], cut) for r in rows]
    right = [r["label"] == "right" for r in rows]
    both = sum(s and t for s, t in zip(said, right, strict=True))
    return {"n": len(rows), "labelled_right": sum(right), "credited": sum(said),
            "agreement": sum(s == t for s, t in zip(said, right, strict=True)) / len(rows) if rows else float("nan"),
            "precision": both / sum(said) if sum(said) else float("nan"),
            "recall": both / sum(right) if sum(right) else float("nan")}


def best_cut(rows: Sequence[dict]) -> float:
    """The grid's cut with the best agreement on `rows`; ties to the higher cut."""
    return max(GRID, key=lambda c: (round(agreement(rows, c)["agreement"], 9), c))


def joined(export_path: Path, labels_path: Path, out: Path, split: str) -> int:
    """The exported answers with their labels (and notes) as one self-contained file, each tagged `split`."""
    answers = [json.loads(line) for line in export_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = {}
    for line in labels_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            labels[row["key"]] = row
    missing = [a["key"] for a in answers if a["key"] not in labels]
    if missing:
        raise SystemExit(f"{labels_path}: {len(missing)} exported answers have no label (e.g. key {missing[0]})")
    with out.open("a", encoding="utf-8") as f:
        for a in answers:
            f.write(json.dumps({**a, "label": labels[a["key"]]["label"], "note": labels[a["key"]].get("note", ""),
                                "split": split}, ensure_ascii=False) + "\n")
    return len(answers)


def rates(path: Path, rows: str = "") -> dict[str, float]:
    """fair_match and near_match (rescored from each row's answer, golds and question) over the answerable rows of a
    run, `rows` ("301-600", 1-based, inclusive) limiting it to those lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if rows:
        first, last = (int(x) for x in rows.split("-"))
        lines = lines[first - 1:last]
    answerable = [r for r in map(json.loads, lines) if r["answerable"]]
    def share(ok) -> float:  # noqa: ANN001
        return sum(ok(r) for r in answerable) / len(answerable) if answerable else float("nan")
    return {"n": len(answerable),
            "fair": share(lambda r: not r["refused"] and fair_match(r["answer"], r["answers"])),
            "near": share(lambda r: not r["refused"] and near_match(r["answer"], r["answers"], r["question"])),
            "refused": share(lambda r: r["refused"])}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="the answers to label")
    ex.add_argument("results", nargs="+", type=Path)
    ex.add_argument("--out", type=Path, required=True)
    ra = sub.add_parser("rates", help="fair and near over the answerable rows of runs")
    ra.add_argument("results", nargs="+", type=Path)
    ra.add_argument("--rows", default="", help="lines of each file, 1-based and inclusive, e.g. 301-600")
    sc = sub.add_parser("score", help="near_match against the labels")
    sc.add_argument("labels", type=Path, help="labelled answers (JSONL with question, golds, answer, label, split)")
    sc.add_argument("--fit", required=True, help="the split whose labels choose the cut")
    sc.add_argument("--report", default="", help="the split the chosen cut is reported on")
    jo = sub.add_parser("join", help="exported answers and their labels, appended to one file")
    jo.add_argument("exported", type=Path)
    jo.add_argument("labelled", type=Path)
    jo.add_argument("--out", type=Path, required=True)
    jo.add_argument("--split", required=True)
    args = parser.parse_args(argv)
    if args.command == "export":
        print(f"{export(args.results, args.out)} answers to label written to {args.out}")
        return 0
    if args.command == "rates":
        for path in args.results:
            r = rates(path, args.rows)
            print(f"{path}{' rows ' + args.rows if args.rows else ''}: {r['n']} answerable, fair {100 * r['fair']:.1f}, "
                  f"near {100 * r['near']:.1f}, refused {100 * r['refused']:.1f}")
        return 0
    if args.command == "join":
        print(f"{joined(args.exported, args.labelled, args.out, args.split)} labelled answers added to {args.out}")
        return 0
    rows = load_labels(args.labels)
    fit = [r for r in rows if r.get("split") == args.fit]
    if not fit:
        raise SystemExit(f"{args.labels}: no labelled answer of split {args.fit!r}")
    print(f"cut   {args.fit}: agreement precision recall (credited / labelled right of n)")
    for cut in GRID:
        a = agreement(fit, cut)
        print(f"{cut:.2f}  {a['agreement']:.3f}  {a['precision']:.3f}  {a['recall']:.3f}  "
              f"({a['credited']} / {a['labelled_right']} of {a['n']})")
    cut = best_cut(fit)
    print(f"chosen on {args.fit}: {cut} (metrics.NEAR_MIN_F1 is {NEAR_MIN_F1})")
    if args.report:
        rep = [r for r in rows if r.get("split") == args.report]
        a = agreement(rep, cut)
        print(f"{args.report} at {cut}: agreement {a['agreement']:.3f}, precision {a['precision']:.3f}, recall "
              f"{a['recall']:.3f} ({a['credited']} credited, {a['labelled_right']} labelled right, of {a['n']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
