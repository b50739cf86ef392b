"""Chooses which answerer writes each kind of answer, on one `rag eval` run of several answerers (the
article's dev split), and reports the routed combination on another run (the test split) without running
anything again: every answerer's per-case rows are in results.jsonl / results-<answerer>.jsonl.

    rag eval --answerer auto,model,extractive --split dev --out eval/out/model-article-dev
    python scripts/choose_routing.py eval/out/model-article-dev [--report eval/out/model-article-test]

A group is a question shape (factoid, open, entity, summary) and language (zh, en: the case's "en" tag).
Each group goes to the answerer with the most correct answers on the fitting run (ties: the first
answerer listed, the model-backed default); a group with fewer than MIN_CASES cases keeps the default.
Words of no question enter any rule: only shapes and languages, decided by rag/answering/question.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

MIN_CASES = 3


def load(run: Path) -> dict[str, dict[str, dict]]:
    """answerer -> case id -> row, in the order the run listed its answerers."""
    out: dict[str, dict[str, dict]] = {}
    for path in [run / "results.jsonl", *sorted(run.glob("results-*.jsonl"))]:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if rows:
            out[rows[0]["answerer"] if path.name == "results.jsonl" else path.stem.split("-", 1)[1]] = {
                r["id"]: r for r in rows}
    return out


def group(row: dict) -> str:
    return f"{row['kind'] or 'none'}/{'en' if 'en' in row['tags'] else 'zh'}"


def choose(run: dict[str, dict[str, dict]]) -> dict[str, str]:
    names = list(run)
    default = names[0]
    first = run[default]
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sizes: dict[str, int] = defaultdict(int)
    for case_id, row in first.items():
        g = group(row)
        sizes[g] += 1
        for name in names:
            counts[g][name] += run[name][case_id]["metrics"]["correct"] or 0.0
    routes = {}
    for g in sorted(sizes):
        best = max(names, key=lambda n: (counts[g][n], -names.index(n)))
        routes[g] = best if sizes[g] >= MIN_CASES else default
        shown = ", ".join(f"{n} {counts[g][n]:.0f}" for n in names)
        print(f"{g:14s} n={sizes[g]:3d}  correct: {shown}  -> {routes[g]}")
    return routes


def routed(run: dict[str, dict[str, dict]], routes: dict[str, str]) -> list[dict]:
    default = list(run)[0]
    first = run[default]
    return [run[routes.get(group(row), default)][cid] for cid, row in first.items()]


def figures(rows: list[dict]) -> dict[str, float]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    share = lambda xs: 100 * sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    out = {"correct": share([r["metrics"]["correct"] for r in rows]),
           "unanswerable refused": share([r["refused"] for r in unanswerable]),
           "answerable refused": share([r["refused"] for r in answerable])}
    for tag in ("factoid", "paraphrase", "open", "entity", "summary", "list", "en", "followup"):
        tagged = [r["metrics"]["correct"] for r in rows if tag in r["tags"]]
        if tagged:
            out[f"correct[{tag}]"] = share(tagged)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("fit", type=Path)
    ap.add_argument("--report", type=Path, action="append", default=[])
    ap.add_argument("--write", type=Path, default=None, help="save the routes (rag/answering/routes.json)")
    args = ap.parse_args(argv)
    fit = load(args.fit)
    print(f"fitting run: {args.fit} (answerers {', '.join(fit)})")
    routes = choose(fit)
    print("routes:", json.dumps(routes))
    if args.write:
        meta = {"fitted_on": str(args.fit), "answerers": list(fit), "min_cases": MIN_CASES,
                "how": "per question shape and language, the answerer with the most correct answers on the fitting run"}
        args.write.write_text(json.dumps({"meta": meta, "routes": routes}, ensure_ascii=False, indent=2) + "\n",
                              encoding="utf-8")
    for path in [args.fit, *args.report]:
        run = load(path)
        print(f"\n{path}:")
        for name in run:
            print(f"  {name:10s} " + "  ".join(f"{k} {v:.1f}" for k, v in figures(list(run[name].values())).items()))
        if set(routes.values()) <= set(run):  # a run of the routed default alone already is the routed figure
            print(f"  {'routed':10s} " + "  ".join(f"{k} {v:.1f}" for k, v in figures(routed(run, routes)).items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
