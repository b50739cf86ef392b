"""Whether a variant of the checks, recorded by rebuilding the study sets with it (scripts/rebuild_studies.sh with
STUDY_EXTRA, e.g. --echoed-names-free: README step 41), should be taken: the default's rates (choose_policy.shipped,
every saved cut) on each set as recorded without and with it, judged by step 27's rule (the mean balanced rate over the
fitting sets gains MIN_SCORE_CUT_GAIN, and no fitting set loses more than MAX_ANSWERABLE_LOSS points of answerable
right), and the same rates on the reporting sets.

    python scripts/compare_variant.py artifacts/r31/studies/surprise artifacts/r31/echo/surprise \
        --fit study-drcd-dev-b.jsonl … --report study-cmrc-400.jsonl …
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import choose_policy as cp  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", type=Path, help="folder of the study files recorded without the variant")
    ap.add_argument("variant", type=Path, help="folder of the same files recorded with it")
    ap.add_argument("--fit", nargs="+", required=True, help="file names of the fitting sets")
    ap.add_argument("--report", nargs="*", default=[], help="file names of the reporting sets")
    args = ap.parse_args(argv)
    missing = [str(d / n) for d in (args.base, args.variant) for n in [*args.fit, *args.report] if not (d / n).is_file()]
    if missing:
        raise SystemExit(f"no such study file: {', '.join(missing)}")
    print("| set | answerable right | not answerable refused | answerable refused | answers changed |")
    print("|---|---|---|---|---|")
    fits: dict[str, list[dict]] = {"base": [], "variant": []}
    worst = 0.0
    for name in [*args.fit, *args.report]:
        role = "fitting" if name in args.fit else "reporting"
        rows = {k: cp.load_rows(d / name) for k, d in (("base", args.base), ("variant", args.variant))}
        by_id = {r["id"]: r for r in rows["base"]}
        moved = sum(cp.shipped(r) != cp.shipped(by_id[r["id"]]) for r in rows["variant"] if r["id"] in by_id)
        rates = {k: cp.rates(v, cp.shipped) for k, v in rows.items()}
        b, v = rates["base"], rates["variant"]
        print(f"| {role}: {name} | {b['answerable']:.1f} → {v['answerable']:.1f} | {b['refused']:.1f} → "
              f"{v['refused']:.1f} | {b['wrong_refusal']:.1f} → {v['wrong_refusal']:.1f} | {moved} |")
        if role == "fitting":
            fits["base"].append(b)
            fits["variant"].append(v)
            worst = max(worst, b["answerable"] - v["answerable"])
    base, variant = cp.mean_balanced(fits["base"]), cp.mean_balanced(fits["variant"])
    taken = round(variant - base, 6) >= cp.MIN_SCORE_CUT_GAIN and worst <= cp.MAX_ANSWERABLE_LOSS + 1e-9
    print(f"\nfitting sets: mean balanced {base:.2f} → {variant:.2f} (needs +{cp.MIN_SCORE_CUT_GAIN:g}); the worst set "
          f"loses {worst:.1f} points of answerable right (at most {cp.MAX_ANSWERABLE_LOSS:g}): "
          f"{'taken' if taken else 'not taken'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
