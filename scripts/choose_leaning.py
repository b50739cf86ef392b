"""Chooses Config.followup_dense_gain (README, step 34) on rows of scripts/study_leaning.py and reports it on others.

    python scripts/choose_leaning.py artifacts/r28/lean-cmrc.jsonl --report artifacts/r28/lean-drcd.jsonl

A second turn leans on the first where its words say so (`lexical`) or where the earlier question in front raises the
best passage's cosine by at least the gain, for the search only or for the answer too (the mode). For each gain of the
grid and each mode, every row is answered as the study answered it that way or not leaning; the rates are those of the
right answers (fair) and of the second question's paragraph among the hits, per kind: follow-ups (subject left out),
the same question whole, another paragraph's question. The chosen setting has the best mean of the three kinds'
right-answer rates on the fitting rows (ties: the larger gain, which leans less, then the search only).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from rag.answering.question import leans_by_search

GRID = [-math.inf, -0.02, -0.01, 0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, math.inf]
KINDS = ("followup", "same", "other")
MODES = ("search", "whole")  # Config.followup_search_only True / False


def leans(row: dict, gain: float) -> bool:
    """Whether the product leans this second turn on the first at `gain` (rag.answering.question.leans_by_search)."""
    return row["lexical"] or leans_by_search(row.get("top_dense_alone"), row.get("top_dense_joined"), gain)


def outcome(row: dict, gain: float, mode: str, what: str) -> bool:
    """The row's `what` ("right": a right answer; "hit": its paragraph among the hits) as answered at `gain`, leaning
    in `mode` ("search": for the search only; "whole": for the answer too). The study answered it each way
    ("right_search", "right_whole", "hit_joined") and as its words alone decide ("right_lexical", "hit_alone", the
    latter read only where the words do not lean it)."""
    leaned = leans(row, gain)
    if what == "right":
        if f"right_{mode}" not in row:
            raise SystemExit(f"rows answered without leaning mode {mode!r}: run scripts/study_leaning.py with --modes "
                             f"{mode} (or report them at one gain with --at)")
        return bool(row[f"right_{mode}" if leaned and not row["lexical"] else "right_lexical"])
    return bool(row["hit_joined" if leaned else "hit_alone"])


def rates(rows: list[dict], gain: float, mode: str) -> dict[str, dict[str, float]]:
    """Per kind: right-answer, hit and leaning rates (percent) at `gain` in `mode`."""
    out: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        out[kind] = {"right": 100 * sum(outcome(r, gain, mode, "right") for r in mine) / len(mine),
                     "hit": 100 * sum(outcome(r, gain, mode, "hit") for r in mine) / len(mine),
                     "leaned": 100 * sum(leans(r, gain) for r in mine) / len(mine), "n": len(mine)}
    return out


def mean_right(per: dict[str, dict[str, float]]) -> float:
    """The mean of the kinds' right-answer rates (each kind counts once, whatever its size): every choice's objective."""
    return sum(v["right"] for v in per.values()) / len(per)


def balanced(rows: list[dict], gain: float, mode: str) -> float:
    return mean_right(rates(rows, gain, mode))


def choose(rows: list[dict], grid: list[float] = GRID) -> tuple[str, float]:
    """The (mode, gain) with the best balanced right-answer rate on `rows` (ties: the larger gain, which leans less,
    then the search only, which changes less of the answer)."""
    return max(((m, g) for g in grid for m in MODES),
               key=lambda mg: (round(balanced(rows, mg[1], mg[0]), 6), mg[1], mg[0] == "search"))


PRONOUN_KINDS = ("pronoun", *KINDS)


def pronoun_rates(rows: list[dict], search_only: bool) -> dict[str, dict[str, float]]:
    """README step 36, per kind: the right-answer rate (percent) with a pronoun's leaning reaching the search only
    (Config.pronoun_search_only, the study's "pronoun" answers) or the answer too (the "lexical" answers)."""
    key = "right_pronoun" if search_only else "right_lexical"
    out: dict[str, dict[str, float]] = {}
    for kind in PRONOUN_KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if mine:
            out[kind] = {"right": 100 * sum(bool(r[key]) for r in mine) / len(mine), "n": len(mine),
                         "changed": sum(r["right_pronoun"] != r["right_lexical"] for r in mine)}
    return out


def pronoun_mean(rows: list[dict], search_only: bool) -> float:
    return mean_right(pronoun_rates(rows, search_only))


def show_pronoun(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n| a pronoun leans | " + " | ".join(f"{k} (n)" for k in PRONOUN_KINDS) + " | mean |")
    print("|---|" + "---|" * (len(PRONOUN_KINDS) + 1))
    for search_only in (False, True):
        per = pronoun_rates(rows, search_only)
        cells = [f"{per[k]['right']:.1f} ({per[k]['n']})" if k in per else "-" for k in PRONOUN_KINDS]
        name = "the search only" if search_only else "the search and the answer"
        print(f"| {name} | " + " | ".join(cells) + f" | {pronoun_mean(rows, search_only):.2f} |")


def choose_pronoun(fit_paths: list[Path], report_paths: list[Path]) -> bool:
    """Step 36: Config.pronoun_search_only, True where it has the better mean of the kinds' right-answer rates on the
    fitting rows (a tie keeps the answer leaning, as before)."""
    fit = [r for p in fit_paths for r in load(p, "right_pronoun")]
    show_pronoun(f"fitting rows ({len(fit)})", fit)
    chosen = pronoun_mean(fit, True) > pronoun_mean(fit, False)
    print(f"\nchosen: pronoun_search_only = {chosen} (mean {pronoun_mean(fit, True):.2f} against "
          f"{pronoun_mean(fit, False):.2f})")
    for path in report_paths:
        show_pronoun(f"reported: {path} (held out)", load(path, "right_pronoun"))
    return chosen


# README step 52: a question no word leans searched as asked and after the earlier question, the rankings fused
# ("fused"), and a pronoun's search fused too ("fusedpron"), against the shipped way ("pronoun": step 36). Rule written
# before the figures: a variant is taken where it gains FUSED_MIN_GAIN mean points (the four kinds' right-answer rates)
# on the fitting rows and no kind loses more than FUSED_MAX_LOSS there; of two taken, the higher mean, a tie within
# FUSED_TIE keeping "fused" (the smaller change).
FUSED_MODES = ("pronoun", "fused", "fusedpron")
FUSED_MIN_GAIN, FUSED_MAX_LOSS, FUSED_TIE = 0.5, 2.0, 0.1


def mode_rates(rows: list[dict], mode: str, kinds: tuple[str, ...] = PRONOUN_KINDS) -> dict[str, dict[str, float]]:
    """Per kind of `kinds`: the right-answer and hit rates (percent) of the rows as answered in `mode` (for a kind the
    documents do not answer, "right" is a refusal: study_leaning.py records it so)."""
    out: dict[str, dict[str, float]] = {}
    for kind in kinds:
        mine = [r for r in rows if r["kind"] == kind]
        if mine:
            out[kind] = {"right": 100 * sum(bool(r[f"right_{mode}"]) for r in mine) / len(mine),
                         "hit": 100 * sum(bool(r[f"hit_{mode}"]) for r in mine) / len(mine), "n": len(mine)}
    return out


def mode_mean(rows: list[dict], mode: str) -> float:
    return mean_right(mode_rates(rows, mode))


def show_fused(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n| search | " + " | ".join(f"{k} right / hit (n)" for k in PRONOUN_KINDS) + " | mean |")
    print("|---|" + "---|" * (len(PRONOUN_KINDS) + 1))
    names = {"pronoun": "as shipped (step 36)", "fused": "fused (step 52)", "fusedpron": "fused, pronouns too"}
    for mode in FUSED_MODES:
        per = mode_rates(rows, mode)
        cells = [f"{per[k]['right']:.1f} / {per[k]['hit']:.1f} ({per[k]['n']})" if k in per else "-"
                 for k in PRONOUN_KINDS]
        print(f"| {names[mode]} | " + " | ".join(cells) + f" | {mode_mean(rows, mode):.2f} |")


def fused_taken(rows: list[dict], mode: str) -> bool:
    """Whether `mode` passes step 52's rule against the shipped way on `rows`."""
    base, mine = mode_rates(rows, "pronoun"), mode_rates(rows, mode)
    return (mode_mean(rows, mode) - mode_mean(rows, "pronoun") >= FUSED_MIN_GAIN - 1e-9
            and all(mine[k]["right"] >= base[k]["right"] - FUSED_MAX_LOSS - 1e-9 for k in base))


def choose_fused(fit_paths: list[Path], report_paths: list[Path]) -> str:
    """Step 52's choice on the fitting rows: "pronoun" (nothing fused), "fused" or "fusedpron"."""
    fit = [r for p in fit_paths for r in load(p, "right_fusedpron")]
    show_fused(f"fitting rows ({len(fit)})", fit)
    taken = [m for m in ("fused", "fusedpron") if fused_taken(fit, m)]
    chosen = "pronoun"
    if taken:
        chosen = max(taken, key=lambda m: mode_mean(fit, m))
        if chosen == "fusedpron" and "fused" in taken and mode_mean(fit, "fusedpron") - mode_mean(fit, "fused") <= FUSED_TIE:
            chosen = "fused"
    print(f"\nchosen: followup_fused = {chosen != 'pronoun'}, pronoun_fused = {chosen == 'fusedpron'} (mean "
          f"{mode_mean(fit, chosen):.2f}; as shipped {mode_mean(fit, 'pronoun'):.2f}; needs +{FUSED_MIN_GAIN:g} and no "
          f"kind losing more than {FUSED_MAX_LOSS:g})")
    for path in report_paths:
        show_fused(f"reported: {path} (held out)", load(path, "right_fusedpron"))
    return chosen


# README step 54: second turns the documents do not answer (study_leaning.py --unanswerable), where a refusal is right.
# Rule written before the figures (artifacts/r40/rule.md): balanced = (the mean of the answerable kinds' right rates +
# the mean of the unanswerable kinds' refusal rates) / 2. "fusedasked" (Config.fused_scores_asked) is taken where it
# gains FUSED_MIN_GAIN balanced points over "fused" (shipped) on the fitting rows with no kind losing more than
# FUSED_MAX_LOSS; then fusion is turned off ("pronoun") only where that gains as much over the shipped way, on the same
# terms.
UNANSWERABLE_KINDS = ("absent", "swap", "noun")
ASKED_MODES = ("pronoun", "fused", "fusedasked")


def balanced_mean(rows: list[dict], mode: str) -> float:
    """Step 54's objective: the answerable kinds' mean right rate and the unanswerable kinds' mean refusal rate, halved."""
    return (mean_right(mode_rates(rows, mode)) + mean_right(mode_rates(rows, mode, UNANSWERABLE_KINDS))) / 2


def beats(rows: list[dict], mode: str, base: str) -> bool:
    """Whether `mode` passes step 54's rule against `base` on `rows`: +FUSED_MIN_GAIN balanced, no kind of the seven
    losing more than FUSED_MAX_LOSS."""
    kinds = PRONOUN_KINDS + UNANSWERABLE_KINDS
    was, now = mode_rates(rows, base, kinds), mode_rates(rows, mode, kinds)
    return (balanced_mean(rows, mode) - balanced_mean(rows, base) >= FUSED_MIN_GAIN - 1e-9
            and all(now[k]["right"] >= was[k]["right"] - FUSED_MAX_LOSS - 1e-9 for k in was))


def show_asked(title: str, rows: list[dict]) -> None:
    kinds = PRONOUN_KINDS + UNANSWERABLE_KINDS
    print(f"\n{title}\n| search | " + " | ".join(f"{k} (n)" for k in kinds) + " | answerable | refused | balanced |")
    print("|---|" + "---|" * (len(kinds) + 3))
    names = {"pronoun": "nothing fused (step 36)", "fused": "fused, best scores (step 52)",
             "fusedasked": "fused, scores as asked"}
    for mode in ASKED_MODES:
        per = mode_rates(rows, mode, kinds)
        cells = [f"{per[k]['right']:.1f} ({per[k]['n']})" if k in per else "-" for k in kinds]
        print(f"| {names[mode]} | " + " | ".join(cells) + f" | {mean_right(mode_rates(rows, mode)):.2f} | "
              f"{mean_right(mode_rates(rows, mode, UNANSWERABLE_KINDS)):.2f} | {balanced_mean(rows, mode):.2f} |")


def choose_asked(fit_paths: list[Path], report_paths: list[Path]) -> str:
    """Step 54's choice on the fitting rows: "fused" (as shipped), "fusedasked" or "pronoun" (fusion off)."""
    fit = [r for p in fit_paths for r in load(p, "right_fusedasked")]
    if not any(r["kind"] in UNANSWERABLE_KINDS for r in fit):
        raise SystemExit("the fitting rows hold no unanswerable second turns: run scripts/study_leaning.py with "
                         "--unanswerable")
    show_asked(f"fitting rows ({len(fit)})", fit)
    chosen = "fusedasked" if beats(fit, "fusedasked", "fused") else "fused"
    if beats(fit, "pronoun", chosen):
        chosen = "pronoun"
    print(f"\nchosen: followup_fused = {chosen != 'pronoun'}, fused_scores_asked = {chosen == 'fusedasked'} "
          f"(balanced {balanced_mean(fit, chosen):.2f}; as shipped {balanced_mean(fit, 'fused'):.2f}; needs "
          f"+{FUSED_MIN_GAIN:g} and no kind losing more than {FUSED_MAX_LOSS:g})")
    for path in report_paths:
        show_asked(f"reported: {path} (held out)", load(path, "right_fusedasked"))
    return chosen


# README step 57: the same question for the default answerer, on a larger sample (rows of study_leaning.py --answerer
# auto --kinds followup,pronoun,noun --per-kind 50 --modes fusedanchors,fusedaskedanchors). Rule written before the
# figures (artifacts/r41/rule.md): the mean of the three kinds' rates (follow-ups right, noun swaps refused) must gain
# ASKED_DEFAULT_MIN_GAIN points with no kind losing more than ASKED_DEFAULT_MAX_LOSS.
ASKED_DEFAULT_KINDS = ("followup", "pronoun", "noun")
ASKED_DEFAULT_MODES = ("fusedanchors", "fusedaskedanchors")
ASKED_DEFAULT_MIN_GAIN, ASKED_DEFAULT_MAX_LOSS = 3.0, 4.0


def asked_default_mean(rows: list[dict], mode: str) -> float:
    return mean_right(mode_rates(rows, mode, ASKED_DEFAULT_KINDS))


def asked_default_taken(rows: list[dict]) -> bool:
    base, mine = (mode_rates(rows, m, ASKED_DEFAULT_KINDS) for m in ASKED_DEFAULT_MODES)
    return (asked_default_mean(rows, ASKED_DEFAULT_MODES[1]) - asked_default_mean(rows, ASKED_DEFAULT_MODES[0])
            >= ASKED_DEFAULT_MIN_GAIN - 1e-9
            and all(mine[k]["right"] >= base[k]["right"] - ASKED_DEFAULT_MAX_LOSS - 1e-9 for k in base))


def show_asked_default(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n| default answerer | " + " | ".join(f"{k} (n)" for k in ASKED_DEFAULT_KINDS) + " | mean |")
    print("|---|" + "---|" * (len(ASKED_DEFAULT_KINDS) + 1))
    names = {"fusedanchors": "fused, best scores (shipped)", "fusedaskedanchors": "fused, scores as asked"}
    for mode in ASKED_DEFAULT_MODES:
        per = mode_rates(rows, mode, ASKED_DEFAULT_KINDS)
        cells = [f"{per[k]['right']:.1f} ({per[k]['n']})" if k in per else "-" for k in ASKED_DEFAULT_KINDS]
        print(f"| {names[mode]} | " + " | ".join(cells) + f" | {asked_default_mean(rows, mode):.2f} |")


def choose_asked_default(fit_paths: list[Path], report_paths: list[Path]) -> bool:
    """Step 57's choice on the fitting rows: whether Config.fused_scores_asked is turned on for the default answerer."""
    fit = [r for p in fit_paths for r in load(p, "right_fusedaskedanchors")]
    show_asked_default(f"fitting rows ({len(fit)})", fit)
    taken = asked_default_taken(fit)
    gain = asked_default_mean(fit, ASKED_DEFAULT_MODES[1]) - asked_default_mean(fit, ASKED_DEFAULT_MODES[0])
    print(f"\nchosen: fused_scores_asked = {taken} (mean {gain:+.2f}; needs +{ASKED_DEFAULT_MIN_GAIN:g} and no kind "
          f"losing more than {ASKED_DEFAULT_MAX_LOSS:g})")
    for path in report_paths:
        show_asked_default(f"reported: {path} (held out)", load(path, "right_fusedaskedanchors"))
    return taken


def load(path: Path, needs: str = "right_search") -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows or needs not in rows[0]:
        mode = needs.removeprefix("right_")
        raise SystemExit(f"{path}: no rows answered in mode {mode!r}; run scripts/study_leaning.py with --answerer and "
                         f"--modes {mode}" + (" --pronouns" if mode == "pronoun" else ""))
    return rows


def show(title: str, rows: list[dict], settings: list[tuple[str, float]]) -> None:
    print(f"\n{title}\n| leaning | gain | " + " | ".join(f"{k} right / hit / leaned" for k in KINDS) + " | balanced |")
    print("|---|---|" + "---|" * (len(KINDS) + 1))
    for mode, g in settings:
        per = rates(rows, g, mode)
        cells = [f"{per[k]['right']:.1f} / {per[k]['hit']:.1f} / {per[k]['leaned']:.1f}" if k in per else "-"
                 for k in KINDS]
        name = "words only" if g == math.inf else "always" if g == -math.inf else f"{g:g}"
        print(f"| {'-' if g == math.inf else mode} | {name} | " + " | ".join(cells) + f" | {balanced(rows, g, mode):.2f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fit", type=Path, nargs="+", help="study_leaning.py rows the gain is chosen on")
    ap.add_argument("--report", type=Path, nargs="*", default=[], help="rows it is reported on")
    ap.add_argument("--at", type=float, default=None,
                    help="no fit: report every file at this gain (search only), e.g. the saved Config.followup_dense_gain "
                         "on rows answered by the default answerer")
    ap.add_argument("--pronoun", action="store_true",
                    help="README step 36: whether a pronoun's leaning reaches the search only (rows from --pronouns "
                         "--modes pronoun)")
    ap.add_argument("--fused", action="store_true",
                    help="README step 52: whether a follow-up's search is fused with the earlier question's (rows from "
                         "--pronouns --modes pronoun,fused,fusedpron)")
    ap.add_argument("--scores-asked", action="store_true",
                    help="README step 54: whether a fused search's hits are scored by the search as asked, and whether "
                         "fusion stays, with unanswerable second turns counted (rows from --pronouns --unanswerable "
                         "--modes pronoun,fused,fusedasked)")
    ap.add_argument("--scores-asked-default", action="store_true",
                    help="README step 57: the same for the default answerer (rows from --answerer auto --kinds "
                         "followup,pronoun,noun --unanswerable --pronouns --modes fusedanchors,fusedaskedanchors)")
    args = ap.parse_args(argv)
    if sum((args.fused, args.pronoun, args.scores_asked, args.scores_asked_default)) > 1:
        ap.error("--fused, --pronoun, --scores-asked and --scores-asked-default choose different settings: give one of "
                 "them")
    if args.scores_asked_default:
        choose_asked_default(args.fit, args.report)
        return 0
    if args.scores_asked:
        choose_asked(args.fit, args.report)
        return 0
    if args.fused:
        choose_fused(args.fit, args.report)
        return 0
    if args.pronoun:
        choose_pronoun(args.fit, args.report)
        return 0
    if args.at is not None:
        for path in [*args.fit, *args.report]:
            show(f"{path} at the gain {args.at:g}", load(path), [("search", math.inf), ("search", args.at)])
        return 0
    fit = [r for p in args.fit for r in load(p)]
    mode, best = choose(fit)
    counts = ", ".join(f"{k} {sum(r['kind'] == k for r in fit)}" for k in KINDS)
    show(f"fitting rows ({counts})", fit, [(m, g) for m in MODES for g in GRID if not (m == "whole" and g == math.inf)])
    print(f"\nchosen: followup_dense_gain = {best:g}, followup_search_only = {mode == 'search'} (balanced "
          f"{balanced(fit, best, mode):.2f}; words only {balanced(fit, math.inf, mode):.2f})")
    for path in args.report:
        rows = load(path)
        show(f"reported: {path} (held out)", rows, [(m, g) for m, g in (("search", math.inf), (mode, best),
                                                                        ("search", -math.inf), ("whole", -math.inf))
                                                    if f"right_{m}" in rows[0]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
