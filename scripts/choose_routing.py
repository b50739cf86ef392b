"""Chooses which answerer writes each kind of answer, on one `rag eval` run of several answerers (the
article's dev split), and reports the routed combination on another run (the test split) without running
anything again: every answerer's per-case rows are in results.jsonl / results-<answerer>.jsonl.

    rag eval --answerer auto,model,extractive --split dev --out eval/out/model-article-dev
    python scripts/choose_routing.py eval/out/model-article-dev [--report eval/out/model-article-test]

A group is a question shape (factoid, open, entity, summary) and language (zh, en: the case's "en" tag).
Each group goes to the answerer with the most correct answers on the fitting run (ties: the first
answerer listed, the model-backed default). A group with fewer than MIN_CASES cases takes its language's
route instead: the answerer with the most correct answers over all of that language's cases, saved as
"*/en" / "*/zh" for the kinds the fitting run has too few of or none (an English open question is not
answered by a rule nobody measured); a language with fewer than MIN_CASES cases keeps the default.
Words of no question enter any rule: only shapes and languages, decided by rag/answering/question.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from rag.answering.routing import route_for  # not model.py: it reads routes.json on import

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


def best(counts: dict[str, float], names: list[str]) -> str:
    return max(names, key=lambda n: (counts[n], -names.index(n)))


def choose(run: dict[str, dict[str, dict]]) -> dict[str, str]:
    names = list(run)
    default = names[0]
    first = run[default]
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sizes: dict[str, int] = defaultdict(int)
    for case_id, row in first.items():
        g = group(row)
        language = g.split("/")[1]
        for key in (g, f"*/{language}"):
            sizes[key] += 1
            for name in names:
                counts[key][name] += run[name][case_id]["metrics"]["correct"] or 0.0
    languages = {g: (best(counts[g], names) if sizes[g] >= MIN_CASES else default)
                 for g in sorted(sizes) if g.startswith("*/")}
    routes = {}
    for g in sorted(sizes):
        if g.startswith("*/"):
            continue
        routes[g] = best(counts[g], names) if sizes[g] >= MIN_CASES else languages[f"*/{g.split('/')[1]}"]
        shown = ", ".join(f"{n} {counts[g][n]:.0f}" for n in names)
        print(f"{g:14s} n={sizes[g]:3d}  correct: {shown}  -> {routes[g]}")
    for g, route in languages.items():
        shown = ", ".join(f"{n} {counts[g][n]:.0f}" for n in names)
        print(f"{g:14s} n={sizes[g]:3d}  correct: {shown}  -> {route} (kinds with fewer than {MIN_CASES} cases)")
    return {**routes, **languages}


def routed(run: dict[str, dict[str, dict]], routes: dict[str, str]) -> list[dict]:
    """Each case's row from the answerer `routes` give its kind. The rows are the fitting run's as they were:
    a cut the runtime adds on a model route since that run (the claim and confidence cuts on factoids) is not
    in them, so this is the routing's figure on that run, not the default's today (measure that with
    `rag eval --answerer auto`)."""
    default = list(run)[0]
    first = run[default]
    return [run[_answerer(routes, group(row), default)][cid] for cid, row in first.items()]


def _answerer(routes: dict[str, str], g: str, default: str) -> str:
    """The fitting run's answerer for group `g` as the default answers it ("auto" is the run's default)."""
    route = route_for(routes, *g.split("/"))
    return default if route == "auto" else route


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
                "how": "per question shape and language, the answerer with the most correct answers on the fitting "
                       "run; a kind with fewer than min_cases cases takes its language's (*/en, */zh)"}
        # the claim and confidence cuts choose_policy.py saved in the same file are kept, but they were fitted
        # for one Chinese factoid route: when that route changes, they must be fitted again
        try:
            saved = json.loads(args.write.read_text(encoding="utf-8")) if args.write.is_file() else {}
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise SystemExit(f"{args.write} is not a routes file ({exc}); move it aside and run this again, then "
                             "scripts/choose_policy.py --confidence … --write to fit the cuts it held") from None
        fitted_for = saved.get("claim", {}).get("factoid/zh")
        if fitted_for and fitted_for != route_for(routes, "factoid", "zh"):
            print(f"warning: the claim and confidence cuts in {args.write} were fitted for Chinese factoids -> "
                  f"{fitted_for}, now -> {route_for(routes, 'factoid', 'zh')}; run scripts/choose_policy.py "
                  f"--confidence … --write {args.write} again", file=sys.stderr)
        saved.update({"meta": meta, "routes": routes})
        args.write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
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
