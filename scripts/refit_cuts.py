"""Refit the default's saved cuts, one after another, on study sets rebuilt at the current code, and keep a refit only
where the default as shipped gains by it (README, "How auto was chosen", step 45).

Each mode of scripts/choose_policy.py fits one section of routes.json "with the saved cuts", and was run, in its own
round, on the studies of that round. When the code changes what the model reads (step 43's excerpt ranker), every
cut stands on rows that are no longer the product's. This reruns the fits in order (MODES, oldest first; each reads
the choices kept before it) on a working copy of routes.json, and after each one measures the shipped cascade
(`choose_policy.shipped`, as `rag eval` answers) on the fitting sets before and after. The refit is kept only if the
mean balanced rate (answerable right and not answerable refused, averaged per set, then over the sets) gains at least
--min-gain points and no fitting set loses more than --max-loss points of answerable right; otherwise the section
goes back to what it was. The held-out sets are printed beside each decision, never used for it.

    scripts/rebuild_studies.sh artifacts/studies          # the rows, at this code (~1 h on 2 cores)
    python scripts/refit_cuts.py artifacts/studies/surprise          # what each refit would do; nothing written
    python scripts/refit_cuts.py artifacts/studies/surprise --write  # the kept ones written to routes.json

Each mode's own fitting table goes to --log-dir (default: STUDY_DIR/refit-logs/).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from rag.answering.model import ROUTES_FILE, auto_policy  # noqa: E402

# oldest first, as the sections were first fitted (README steps 7, 12-19, 16, 21, 27-29, 30-31, 38, 46); each reads
# the sections before it as saved
MODES: dict[str, tuple[str, ...]] = {
    "confidence": ("--confidence",),
    "reading": ("--reading", "--waiver-only"),
    "prefer-extractive": ("--prefer-extractive",),
    "unsupported-fallback": ("--unsupported-fallback",),
    "model-score-cut": ("--model-score-cut",),
    "meaning-cut": ("--meaning-cut", "--meaning-scope", "both"),
    "question-surprise-cut": ("--question-surprise-cut",),
    "question-gain-cut": ("--question-gain-cut",),
    "stand-in-question-cuts": ("--stand-in-question-cuts",),
}
# step 29's eleven pooled study files (DRCD dev and test samples, their paraphrased and unstated-value sets, the
# article's dev split) and the CMRC studies of steps 29-31, as scripts/rebuild_studies.sh names them
POOL = ("study-drcd-dev-a-with-unstated", "study-article-dev", "study-drcd-dev-a-para",
        "study-drcd-dev-c-with-unstated", "study-drcd-dev-c-para", "study-drcd-test-d", "study-drcd-dev-b",
        "study-drcd-test-with-unstated", "study-drcd-test-para", "study-drcd-test-fresh", "study-drcd-test-e")
HELD_OUT = ("study-cmrc-400", "study-cmrc-170", "study-cmrc-620")


def _choose_policy():  # noqa: ANN202 - the script module
    spec = importlib.util.spec_from_file_location("choose_policy", PROJECT_ROOT / "scripts" / "choose_policy.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def set_rates(cp, sets: dict[str, list[dict]]) -> dict[str, dict[str, float]]:  # noqa: ANN001 - choose_policy
    """Each set's rates as the default answers with the policy choose_policy reads now (cp.AUTO_POLICY)."""
    return {name: cp.rates(rows, cp.shipped) for name, rows in sets.items()}


def mean_balanced(rates: dict[str, dict[str, float]]) -> float:
    """The mean over the sets of (answerable right + not answerable refused) / 2, as choose_policy.mean_balanced."""
    return sum((r["answerable"] + r["refused"]) / 2 for r in rates.values()) / len(rates) if rates else 0.0


def keep(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], min_gain: float,
         max_loss: float) -> tuple[bool, float, str, float]:
    """(kept, gain in mean balanced points, the set that lost most answerable right, its loss): kept where the gain is
    at least `min_gain` and no set lost more than `max_loss` points of answerable right."""
    gain = mean_balanced(after) - mean_balanced(before)
    worst = max(before, key=lambda n: (before[n]["answerable"] - after[n]["answerable"], n))
    loss = before[worst]["answerable"] - after[worst]["answerable"]
    return gain >= min_gain - 1e-9 and loss <= max_loss + 1e-9, gain, worst, loss


def load_sets(cp, directory: Path, names: list[str], role: str) -> dict[str, list[dict]]:  # noqa: ANN001
    missing = [n for n in names if not (directory / f"{n}.jsonl").is_file()]
    if missing:
        raise SystemExit(f"{directory} has no {', '.join(f'{n}.jsonl' for n in missing)} ({role} set); build the "
                         f"studies first: scripts/rebuild_studies.sh (their surprise/ folder is what the cuts read)")
    return {n: cp.load_rows(directory / f"{n}.jsonl") for n in names}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("studies", type=Path, help="the rebuilt studies with question readings (rebuild_studies.sh's "
                                               "OUT_DIR/surprise)")
    ap.add_argument("--pool", nargs="+", default=list(POOL), help="fitting study names (without .jsonl)")
    ap.add_argument("--held-out", nargs="*", default=list(HELD_OUT), help="reported study names, never fitted on")
    ap.add_argument("--routes", type=Path, default=ROUTES_FILE, help="the saved choices (default: the installed "
                                                                     "routes.json)")
    ap.add_argument("--write", action="store_true", help="write the kept refits to --routes (default: report only)")
    ap.add_argument("--min-gain", type=float, default=0.5, help="mean balanced points a refit must gain (0.5)")
    ap.add_argument("--max-loss", type=float, default=2.0,
                    help="points of answerable right no fitting set may lose (2, the issue's 'never more than 2')")
    ap.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES),
                    help="the refits to run, in MODES' order whatever the order given (default: all)")
    ap.add_argument("--log-dir", type=Path, default=None, help="each mode's own output (default: STUDIES/refit-logs)")
    args = ap.parse_args(argv)
    if not args.routes.is_file():
        raise SystemExit(f"--routes {args.routes}: no such file (the installed one is {ROUTES_FILE})")
    cp = _choose_policy()
    pool = load_sets(cp, args.studies, args.pool, "fitting")
    held = load_sets(cp, args.studies, args.held_out, "held-out")
    logs = args.log_dir or args.studies / "refit-logs"
    logs.mkdir(parents=True, exist_ok=True)
    fit_args = [str(args.studies / f"{n}.jsonl") for n in args.pool]
    report_args = [a for n in args.held_out for a in ("--report", str(args.studies / f"{n}.jsonl"))]
    installed = cp.AUTO_POLICY
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "routes.json"
        shutil.copy(args.routes, work)
        kept_modes = []
        print("| refit | pool before → after | worst answerable loss | held out before → after | decision |")
        print("|---|---|---|---|---|")
        try:
            for mode in (MODES[name] for name in MODES if name in args.modes):
                cp.AUTO_POLICY = auto_policy_before = auto_policy(work)
                before_pool, before_held = set_rates(cp, pool), set_rates(cp, held)
                saved = work.read_text(encoding="utf-8")
                log = logs / f"refit-{next(n for n, m in MODES.items() if m == mode)}.log"
                with log.open("w", encoding="utf-8") as out, contextlib.redirect_stdout(out):
                    try:
                        cp.main([*fit_args, *report_args, *mode, "--write", str(work)])
                    except SystemExit as exc:  # the mode's own refusal (a missing measure, a wrong route): said, kept out
                        print(f"stopped: {exc}")
                        work.write_text(saved, encoding="utf-8")
                cp.AUTO_POLICY = auto_policy(work)
                after_pool, after_held = set_rates(cp, pool), set_rates(cp, held)
                taken, gain, worst, loss = keep(before_pool, after_pool, args.min_gain, args.max_loss)
                same = cp.AUTO_POLICY == auto_policy_before  # chose what was saved (only the section's notes differ)
                if taken and not same:
                    kept_modes.append(" ".join(mode))
                else:
                    work.write_text(saved, encoding="utf-8")
                decision = "the saved values again" if same else "kept" if taken else "restored"
                print(f"| {' '.join(mode)} | {mean_balanced(before_pool):.2f} → {mean_balanced(after_pool):.2f} "
                      f"({gain:+.2f}) | {f'{loss:.1f} ({worst})' if loss > 0 else 'none'} | {mean_balanced(before_held):.2f} → "
                      f"{mean_balanced(after_held):.2f} | {decision} (log: {log}) |")
        finally:
            cp.AUTO_POLICY = installed
        if not kept_modes:
            print(f"\nno refit kept: {args.routes} stands as saved")
        elif args.write:
            shutil.copy(work, args.routes)
            print(f"\nkept: {', '.join(kept_modes)}; written to {args.routes}")
        else:
            print(f"\nkept: {', '.join(kept_modes)}; rerun with --write to save them in {args.routes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
