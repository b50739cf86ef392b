"""Chooses how the model answer and the extractive answer combine, from scripts/study_model.py's records of
one set (the fitting set), and prints the same table for another (the reporting set), never the reverse.

    python scripts/choose_policy.py artifacts/study-drcd-dev.jsonl [--report artifacts/study-drcd-test.jsonl]

    python scripts/choose_policy.py --claim-cut artifacts/study-drcd-dev.jsonl artifacts/study-article-dev.jsonl \
        --report artifacts/study-drcd-test.jsonl

The second form chooses the factoid claim cut (Policy.min_claim_coverage) on the fitting sets together,
for the Chinese factoid route scripts/choose_routing.py chose (routes.json; English factoids extractive),
and reports it on the others; both routes' rows are printed.

    python scripts/choose_policy.py --confidence artifacts/study-drcd-dev-r6c.jsonl \
        artifacts/study-article-dev-r6c.jsonl --report artifacts/study-drcd-test-r6.jsonl [--write routes.json]

The third chooses the claim cut together with the confidence cuts (Policy.min_confidence,
waive_claim_confidence) and their statistic (rag/answering/confidence.py), from study rows recorded with
`study_model.py --token-probs`.

A policy: the model's checked answer stands when one of its sentences is kept (supported, the question's
anchors beside it) and the question's known words cover at least `min_question_coverage` of their idf
weight beside the support; otherwise either a refusal, or the extractive answer when it passes the same
question checks. Correct: an answerable question answered with the gold (metrics.fair_match), an absent or
adversarial one refused. The chosen policy maximises the mean of the three kinds' correct rates on the
fitting set, among those refusing at most MAX_WRONG_REFUSALS of its answerable questions.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from rag.answering.confidence import STATISTICS, missing_gain, question_gain, question_surprise
from rag.answering.contrast import contrast_swap
from rag.answering.meaning import missing_words
from rag.answering.model import AUTO_POLICY, MEANING_SECTIONS, ROUTES_FILE
from rag.answering.question import missing_answer_type, only_value_for_name, question_language
from rag.answering.rival import rival_subject, shown_text
from rag.answering.routing import route_for
from rag.answering.support import strip_markers
from rag.answering.waiver import FEATURES as WAIVER_FEATURES
from rag.answering.waiver import LearnedWaiver, clipped
from rag.evaluation.metrics import fair_match

# of answerable questions: the same 3% the extractive answerer's own refusal cut was fitted to (model.json)
MAX_WRONG_REFUSALS = 0.03
GRID = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6]
SCORE_GRID = [float("-inf"), -3.0, -2.0, -1.0, 0.0]  # the extractive answerer's answer logit (its own cut is ~1.6)
FALLBACK_GRID = [1.0, 2.0, 3.0, 4.0, 5.0]  # the logit above which a checked extractive answer replaces a failed one


def logit(row: dict) -> float:
    """The row's extractive answer logit (-inf where none was recorded)."""
    return row["extractive_score"] if row["extractive_score"] is not None else float("-inf")


def model_factoid(row: dict) -> bool:
    """The model was asked a factoid that is not English (English factoids take the extractive route)."""
    return row.get("reply") is not None and row.get("shape", "factoid") == "factoid" and "en" not in row.get("tags", ())


def decide(row: dict, cut: float, fallback: float | None, score_cut: float = float("-inf")) -> tuple[bool, str]:
    """(refused, answer text) under a policy; `fallback`: the extractive logit above which the checked
    extractive answer replaces a model answer that failed (None: refuse instead)."""
    kept = [c for c in row["checked"] if c["kept"] and c["passage_coverage"] >= cut]
    score = logit(row)
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


CLAIM_GRID = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
ROUTES = ("model", "auto")


def load_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def percent(values: list[float]) -> float:
    return 100 * sum(values) / len(values) if values else float("nan")


def routed(row: dict, route: str, claim_cut: float, field: str = "claim_coverage") -> tuple[bool, str]:
    """(refused, answer text) as the default answers a factoid: English ones extractive; Chinese ones by
    `route` ("model": the model with its sentence checks; "auto": plus the DRCD-dev cuts and the checked
    extractive fallback; "extractive": the extractive answer), the best kept sentence needing `claim_cut` of claim
    coverage (the fallback too)."""
    # English, or no model answer was made, or a route without the model
    if "en" in row.get("tags", ()) or row.get("reply") is None or route == "extractive":
        return row["extractive_refused"], row["extractive"]
    kept = [c for c in row["checked"] if c["kept"]]
    claim = max((c.get(field, 1.0) for c in kept), default=0.0)
    if route == "model":
        if row["model_refused"] or not kept or claim < claim_cut:
            return True, ""
        return False, "".join(c["text"] for c in kept)
    refused, text = decide(row, AUTO_POLICY.min_question_coverage, AUTO_POLICY.extractive_fallback_score,
                           AUTO_POLICY.min_extractive_score)
    if refused:
        return True, ""
    if text == row["extractive"] and (row.get("extractive_claim_coverage") or 0.0) < claim_cut:
        return True, ""  # the fallback: the extractive answer's sentence must carry the question too
    if text != row["extractive"] and claim < claim_cut:
        return True, ""
    return False, text


def rates(rows: list[dict], decide_row) -> dict[str, float]:  # noqa: ANN001 - row -> (refused, text)
    """answerable right, not-answerable refused (absent, adversarial, unanswerable), answerable refused, with
    each row answered by `decide_row`."""
    right, refused_ok, wrong_refusal = [], [], []
    for r in rows:
        refused, text = decide_row(r)
        if r["kind"] == "answerable":
            right.append(float(not refused and fair_match(text, r["answers"])))
            wrong_refusal.append(float(refused))
        else:
            refused_ok.append(float(refused))
    return {"answerable": percent(right), "refused": percent(refused_ok), "wrong_refusal": percent(wrong_refusal)}


def claim_rates(rows: list[dict], route: str, claim_cut: float, field: str = "claim_coverage") -> dict[str, float]:
    return rates(rows, lambda r: routed(r, route, claim_cut if r.get("shape", "factoid") == "factoid" else 0.0, field))


def factoid_route(saved_file: Path) -> str:
    """The Chinese factoid route scripts/choose_routing.py saved in `saved_file`."""
    return route_for(json.loads(saved_file.read_text(encoding="utf-8"))["routes"], "factoid", "zh")


def require_model_route(write: Path | None, what: str) -> None:
    """Exit unless the routes file (`write` where it exists, else the installed one) sends Chinese factoids to the
    "model" route, the one whose rows `what` reads (`what`: "--reading fits the cut", ...)."""
    saved_file = write if write is not None and write.is_file() else ROUTES_FILE
    if factoid_route(saved_file) != "model":
        raise SystemExit(f"{saved_file} routes Chinese factoids to {factoid_route(saved_file)!r}; {what} of the 'model' "
                         "route only (scripts/choose_routing.py chose it; rerun that first)")


def fit_table(heads: list[str], fit_paths: list[Path], lines: list[tuple[list[str], list[dict[str, float]]]]) -> None:
    """A fitting table: the `heads` columns, then one "answerable right / not answerable refused / answerable
    refused" column per fitting set; `lines`: (the heads' cells, the rates of each fitting set)."""
    print("| " + " | ".join([*heads, *(p.name for p in fit_paths)]) + " |")
    print("|" + "---|" * (len(heads) + len(fit_paths)))
    for cells, per_set in lines:
        print("| " + " | ".join([*cells, *(f"{r['answerable']:.1f} / {r['refused']:.1f} / {r['wrong_refusal']:.1f}"
                                           for r in per_set)]) + " |")


def mean_balanced(per_set: list[dict[str, float]]) -> float:
    """Mean of answerable right and not-answerable refused, averaged over the sets (each counts the same,
    whatever its size)."""
    return sum((r["answerable"] + r["refused"]) / 2 for r in per_set) / len(per_set)


def balanced(fits: list[list[dict]], route: str, cut: float, field: str = "claim_coverage") -> float:
    """mean_balanced of the claim cut's rates on the fitting sets."""
    return mean_balanced([claim_rates(f, route, cut, field) for f in fits])


def choose_claim_cut(fits: list[list[dict]], route: str, field: str = "claim_coverage") -> float:
    """The claim cut with the best balanced rate for the Chinese factoid route chosen before
    (scripts/choose_routing.py; ties: the smaller cut)."""
    return max(CLAIM_GRID, key=lambda cut: (round(balanced(fits, route, cut, field), 6), -cut))


def claim_table(title: str, rows: list[dict], combos, field: str = "claim_coverage") -> None:  # noqa: ANN001
    print(f"\n{title} ({len(rows)} questions)\n| Chinese factoids | claim cut | answerable right | not answerable refused "
          "| answerable refused |\n|---|---|---|---|---|")
    right = [float(not r["extractive_refused"] and fair_match(r["extractive"], r["answers"]))
             for r in rows if r["kind"] == "answerable"]
    ok = [float(r["extractive_refused"]) for r in rows if r["kind"] != "answerable"]
    wrong = [float(r["extractive_refused"]) for r in rows if r["kind"] == "answerable"]
    ext = {"answerable": percent(right), "refused": percent(ok), "wrong_refusal": percent(wrong)}
    print(f"| extractive | – | {ext['answerable']:.1f} | {ext['refused']:.1f} | {ext['wrong_refusal']:.1f} |")
    for route, cut in combos:
        r = claim_rates(rows, route, cut, field)
        print(f"| {route} | {cut:.1f} | {r['answerable']:.1f} | {r['refused']:.1f} | {r['wrong_refusal']:.1f} |")


def claim_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None,
               field: str = "claim_coverage") -> int:
    fits = [load_rows(p) for p in fit_paths]
    first = next((c for r in fits[0] for c in r["checked"]), {})
    if first and field not in first:
        raise SystemExit(f"--claim-field {field}: the study rows have no such measure; the claim measures they "
                         f"have: {', '.join(k for k in first if k.startswith('claim'))}")
    grid = [(route, cut) for route in ROUTES for cut in CLAIM_GRID]
    for path, rows in zip(fit_paths, fits, strict=True):
        claim_table(f"fitting set: {path}", rows, grid, field)
    saved_file = write if write is not None and write.is_file() else ROUTES_FILE
    route = factoid_route(saved_file)
    best = choose_claim_cut(fits, route, field)
    print(f"\nchosen (best balanced rate, fitting sets averaged, for the route {saved_file} gives): "
          f"Chinese factoids -> {route}, claim cut {best:.1f} "
          f"(balanced {balanced(fits, route, best, field):.1f} with {field}; as shipped before, model with cut 0.0: "
          f"{balanced(fits, 'model', 0.0):.1f})")
    for path in report_paths:
        claim_table(f"reporting set: {path}", load_rows(path), [("model", 0.0), (route, best)], field)
    if write is not None:
        saved = json.loads(write.read_text(encoding="utf-8")) if write.is_file() else {"meta": {}, "routes": {}}
        saved["claim"] = {"min_claim_coverage": best, "factoid/zh": route,
                          "fitted_on": [str(p) for p in fit_paths],
                          "how": "scripts/choose_policy.py --claim-cut: for the Chinese factoid route of "
                                 "choose_routing.py, the claim cut with the best mean of answerable-right and "
                                 "unanswerable-refused rates, the fitting sets averaged"}
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return 0


# How sure the model was of its reply (rag/answering/confidence.py): refuse a factoid below MIN_CONFIDENCE_GRID,
# and take one that fails only the claim cut at WAIVE_GRID or above (inf: never).
MIN_CONFIDENCE_GRID = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6]
WAIVE_GRID = [float("inf"), 0.9, 0.95, 0.98, 0.99]
CONFIDENCE_STATS = tuple(STATISTICS)


def confident(row: dict, claim_cut: float, min_conf: float, waive: float, stat: str) -> tuple[bool, str]:
    """(refused, answer text) of the Chinese factoid route "model" with the confidence rules: a model factoid
    whose reply's confidence is below `min_conf` is refused, one at `waive` or above needs no claim cut, and
    the rest is answered as `routed` answers it (a reply without probabilities: the claim cut alone). A question of
    another shape takes its route in routes.json (Chinese open questions "auto", whose own cuts refuse the model's
    answer below an extractive logit of -1, as ModelAnswerer.run does; until round 23 every shape was simulated on
    "model", README step 28), with no claim cut (that cut is for factoids)."""
    shape = row.get("shape", "factoid")
    if shape != "factoid":
        return routed(row, route_for(AUTO_POLICY.routes, shape, "zh"), 0.0)
    conf = (row.get("confidence") or {}).get(stat)
    if "en" not in row.get("tags", ()) and row.get("reply") is not None and conf is not None:
        if conf < min_conf:
            return True, ""
        if conf >= waive:
            claim_cut = 0.0
    return routed(row, "model", claim_cut)


def confidence_rates(rows: list[dict], claim_cut: float, min_conf: float, waive: float, stat: str) -> dict[str, float]:
    return rates(rows, lambda r: confident(r, claim_cut, min_conf, waive, stat))


def confidence_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None,
                    max_refused: float | None = None) -> int:
    """Choose the claim cut with the two confidence cuts and the statistic on the fitting sets together (best
    balanced rate, averaged over the sets; ties: the simpler rule), report the choice and the claim cut alone.
    `max_refused` (percent): only among the rules that refuse at most that share of the answerable questions on
    every fitting set (the balanced rate counts a refusal of an unanswerable question as much as a right answer,
    so on its own it may buy refusals with answerable questions)."""
    saved_file = write if write is not None and write.is_file() else ROUTES_FILE
    route = factoid_route(saved_file)
    if route != "model":
        raise SystemExit(f"{saved_file} routes Chinese factoids to {route!r}; --confidence fits the cuts of the "
                         "'model' route only (scripts/choose_routing.py chose it; rerun that first)")
    fits = [load_rows(p) for p in fit_paths]
    missing = [str(p) for p, rows in zip(fit_paths, fits, strict=True)
               if not any(r.get("confidence") for r in rows)]
    if missing:
        raise SystemExit(f"{', '.join(missing)}: no token probabilities recorded; run scripts/study_model.py "
                         "with --token-probs")

    @functools.cache
    def fit_rates(rule: tuple[float, float, float, str]) -> list[dict[str, float]]:
        """The rule's rates on each fitting set, once (the bound and the balanced rate both read them)."""
        return [confidence_rates(rows, *rule) for rows in fits]

    def bal(rule: tuple[float, float, float, str]) -> float:
        rates = fit_rates(rule)
        return mean_balanced(rates)

    def worst_refusal(rule: tuple[float, float, float, str]) -> float:
        return max(r["wrong_refusal"] for r in fit_rates(rule))

    rules = [(cut, lo, hi, stat) for stat in CONFIDENCE_STATS for cut in CLAIM_GRID
             for lo in MIN_CONFIDENCE_GRID for hi in WAIVE_GRID]
    base = choose_claim_cut(fits, "model")
    if max_refused is not None:
        allowed = [r for r in rules if worst_refusal(r) <= max_refused]
        if not allowed:
            least = min(worst_refusal(r) for r in rules)
            raise SystemExit(f"--max-answerable-refused {max_refused:g}: no rule refuses that few of the answerable "
                             f"questions on every fitting set; the fewest is {least:.1f}%, so ask for at least that")
        rules = allowed
    best = max(rules, key=lambda r: (round(bal(r), 6), -r[1], r[2] == float("inf"), -r[0], r[3] == "min"))
    print(f"claim cut alone: {base:.1f} (balanced {bal((base, 0.0, float('inf'), 'min')):.1f}); "
          f"chosen: claim cut {best[0]:.1f}, refuse below confidence {best[1]:g}, waive the claim cut at "
          f"confidence >= {best[2]:g}, statistic {best[3]} (balanced {bal(best):.1f})")
    print("\n| set | rule | answerable right | not answerable refused | answerable refused |\n|---|---|---|---|---|")
    for path in [*fit_paths, *report_paths]:
        rows = load_rows(path)
        role = "fitting" if path in fit_paths else "reporting"
        for name, rule in (("claim cut alone", (base, 0.0, float("inf"), "min")), ("chosen", best)):
            r = confidence_rates(rows, *rule)
            print(f"| {role}: {path.name} | {name} | {r['answerable']:.1f} | {r['refused']:.1f} | {r['wrong_refusal']:.1f} |")
    if write is not None:
        bound = ("" if max_refused is None else
                 f", among the rules refusing at most {max_refused:g}% of each fitting set's answerable questions")
        saved = json.loads(write.read_text(encoding="utf-8"))
        saved["claim"].update({"min_claim_coverage": best[0], "fitted_on": [str(p) for p in fit_paths],
                               "how": "scripts/choose_policy.py --confidence (the claim cut fitted with the confidence "
                                      "cuts): for the Chinese factoid route of choose_routing.py, the best mean of "
                                      "answerable-right and unanswerable-refused rates, the fitting sets averaged"
                                      + bound})
        saved["confidence"] = {"min_confidence": best[1],
                               "waive_claim_confidence": None if best[2] == float("inf") else best[2],
                               "statistic": best[3], "fitted_on": [str(p) for p in fit_paths],
                               "max_answerable_refused": max_refused,
                               "how": "scripts/choose_policy.py --confidence: with the claim cut, for the Chinese "
                                      "factoid route, the best mean of answerable-right and unanswerable-refused "
                                      "rates, the fitting sets averaged" + bound}
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return 0


# The reading check (README step 12): where the claim cut would refuse a Chinese factoid, the claim cut is waived
# when the model, asked apart, gives "this sentence answers the question" at least this probability (inf: never).
READING_GRID = [float("inf"), 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5]
# ... and, the other way (round 12), a factoid the other cuts would answer is refused when its reading is below
# this (0: never). Fitting it needs a reading of every such factoid (study_model.py --reading-below 2).
MIN_READING_GRID = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
MIN_READING_GAIN = 0.5  # balanced-rate points a refusal cut must add over the waiver alone (reading_main)


def read(row: dict, claim_cut: float, min_conf: float, waive: float, stat: str, waive_reading: float,
         min_reading: float = 0.0) -> tuple[bool, str]:
    """(refused, answer text) as `confident` answers, with the reading check: a factoid below the claim cut
    whose `reading` (recorded by study_model.py --reading-below) is at least `waive_reading`, or that step 31's meaning
    waiver keeps (`claim_waived`, marked by `waive_by_meaning`), needs no claim cut, and one read below `min_reading`
    is refused."""
    reading = row.get("reading")
    factoid = row.get("shape", "factoid") == "factoid"
    learned = saved_learned_waiver(row)  # step 71's, where routes.json saves one, decides in the reading waiver's place
    by_reading = reading is not None and reading >= waive_reading if learned is None else learned
    if factoid and (by_reading or row.get("claim_waived")):  # step 31 marks it
        refused, text = confident(row, 0.0, min_conf, waive, stat)
    else:
        refused, text = confident(row, claim_cut, min_conf, waive, stat)
    if not refused and factoid and reading is not None and reading < min_reading:
        return True, ""
    return refused, text


def reading_forms(paths: list[Path]) -> set[str]:
    """The forms (study_model.py --reading-form) the rows of `paths` were read in; a row without one was read
    before round 14, in the sentence form."""
    return {r.get("reading_form", "sentence") for p in paths for r in load_rows(p) if r.get("reading") is not None}


def require_form(paths: list[Path], form: str, what: str) -> None:
    """Exit unless every reading in `paths` was made in `form` (`what`: whose form it is, for the message)."""
    other = reading_forms(paths) - {form}
    if other:
        raise SystemExit(f"{', '.join(str(p) for p in paths)}: read in the {', '.join(sorted(other))} form, but {what} "
                         f"is the {form} form; run the studies again with study_model.py --reading-form {form}")


def reading_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None,
                 waiver_only: bool = False) -> int:
    """Choose the reading check's two cuts (Policy.waive_claim_reading, Policy.min_reading) with the claim and
    confidence cuts the installed routes.json gives (AUTO_POLICY) on the fitting sets: the best balanced rate,
    fitting sets averaged; ties: the higher waiver cut, then the lower refusal cut (each acts more rarely).
    Rules: a waiver is taken only if it raises the balanced rate over no reading check at all (set before round
    11's fit); a refusal cut only if it raises it over the best waiver alone by MIN_READING_GAIN (set in round 12
    after its fitting table: a gain smaller than one question of either fitting set is noise, and the cut asks
    the model once more for every Chinese factoid it would answer); and the refusal cut is fitted only where
    every fitting set read every factoid (`reading_below` above 1 in its rows: study_model.py --reading-below 2),
    else it stays 0. (A waiver can only answer more, a refusal cut only refuse more.)"""
    require_model_route(write, "--reading fits the cut")
    fits = [load_rows(p) for p in fit_paths]
    missing = [str(p) for p, rows in zip(fit_paths, fits, strict=True)
               if not any(r.get("reading") is not None for r in rows)]
    if missing:
        raise SystemExit(f"{', '.join(missing)}: no reading check recorded; run scripts/study_model.py with "
                         "--reading-below (e.g. 0.6; 2 reads every factoid, which a refusal cut needs)")
    forms = reading_forms(fit_paths)
    if len(forms) > 1:
        raise SystemExit(f"the fitting sets were read in more than one form ({', '.join(sorted(forms))}); run every "
                         "study with the same study_model.py --reading-form")
    (form,) = forms
    require_form(report_paths, form, "the fitting sets' reading")
    read_all = all(rows and all((r.get("reading_below") or 0.0) > 1.0 for r in rows) for rows in fits)
    min_grid = MIN_READING_GRID if read_all and not waiver_only else [0.0]
    if waiver_only:
        print("--waiver-only: only the waiver cut is fitted (a refusal cut reads every Chinese factoid, a second prompt "
              "of about 2 s per answer: README step 19)")
    elif not read_all:
        print("not every factoid was read on the fitting sets (study_model.py --reading-below 2 reads them all): "
              "only the waiver cut is fitted")
    shipped = (AUTO_POLICY.min_claim_coverage, AUTO_POLICY.min_confidence, AUTO_POLICY.waive_claim_confidence,
               AUTO_POLICY.confidence_statistic)
    pairs = [(w, m) for w in READING_GRID for m in min_grid]
    none = (float("inf"), 0.0)

    @functools.cache
    def fit_rates(pair: tuple[float, float]) -> list[dict[str, float]]:
        return [rates(rows, lambda r, c=pair: read(r, *shipped, *c)) for rows in fits]

    def bal(pair: tuple[float, float]) -> float:
        return mean_balanced(fit_rates(pair))

    def choose(candidates: list[tuple[float, float]]) -> tuple[float, float]:
        return max(candidates, key=lambda c: (round(bal(c), 6), c[0], -c[1]))

    waiver = choose([c for c in pairs if c[1] == 0.0])
    if bal(waiver) <= bal(none):
        waiver = none
    best = choose(pairs)
    if best[1] > 0.0 and round(bal(best) - bal(waiver), 6) < MIN_READING_GAIN:
        print(f"the best pair with a refusal cut, waive at {best[0]:g} and refuse below {best[1]:g}, gains "
              f"{bal(best) - bal(waiver):.2f} over the waiver alone, under {MIN_READING_GAIN:g}: not taken")
        best = waiver
    fit_table(["waive the claim cut at", "refuse below", "balanced"], fit_paths,
              [([f"{c[0]:g}", f"{c[1]:g}", f"{bal(c):.1f}"], fit_rates(c)) for c in pairs])
    print(f"\nwith claim cut {shipped[0]:g}, confidence {shipped[1]:g} ({shipped[3]}), the {form} read: chosen reading "
          f"cuts: waive at {best[0]:g}, refuse below {best[1]:g} (balanced {bal(best):.1f} against {bal(none):.1f} "
          "without)")
    print("\n| set | rule | answerable right | not answerable refused | answerable refused |\n|---|---|---|---|---|")
    for path in [*fit_paths, *report_paths]:
        rows = load_rows(path)
        role = "fitting" if path in fit_paths else "reporting"
        for name, cut in (("without the reading check", none), ("chosen", best)):
            r = rates(rows, lambda row, c=cut: read(row, *shipped, *c))
            print(f"| {role}: {path.name} | {name} | {r['answerable']:.1f} | {r['refused']:.1f} | {r['wrong_refusal']:.1f} |")
    if write is not None:
        saved = json.loads(write.read_text(encoding="utf-8"))
        saved["reading"] = ({"waive_claim_reading": None if best[0] == float("inf") else best[0],
                             "min_reading": best[1], "form": form, "fitted_on": [str(p) for p in fit_paths],
                             "how": "scripts/choose_policy.py --reading: with the saved claim and confidence cuts, the "
                                    "best mean of answerable-right and unanswerable-refused rates, the fitting sets "
                                    "averaged (ties: the higher waiver cut, then the lower refusal cut); a refusal "
                                    f"cut only if it adds {MIN_READING_GAIN:g} points over the waiver alone"
                                    + ("; --waiver-only: no refusal cut fitted (it reads every Chinese factoid, about "
                                       "2 s per answer: README step 19)" if waiver_only else "")}
                            if best != none else None)
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return 0


# The unsure model's answer handed to the extractive answerer (README step 16): the confidence below which it is.
PREFER_GRID = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def extractive_stands(row: dict) -> bool:
    """The extractive answer may stand in for the model's (ModelAnswerer.checked_extractive): not refused, the
    question's anchors in its passage, the claim cut beside its sentence, and not stopped by step 32's meaning cut
    (`extractive_blocked`, marked by `block_by_meaning`)."""
    return not (row["extractive_refused"] or row.get("extractive_missing") or row.get("extractive_blocked")
                or (row.get("extractive_claim_coverage") or 0.0) < AUTO_POLICY.min_claim_coverage)


def before_after(fit_paths: list[Path], report_paths: list[Path], decide_row, never: float, best: float,  # noqa: ANN001
                 moved_head: str, names: tuple[str, str] = ("never", "chosen")) -> None:
    """The rates of each set under `decide_row(row, value)` at `never` and at the chosen `best` (the rows named by
    `names`), with the number of rows whose answer the choice changed (`moved_head`)."""
    print(f"\n| set | rule | answerable right | not answerable refused | answerable refused | {moved_head} |")
    print("|---|---|---|---|---|---|")
    for path in [*fit_paths, *report_paths]:
        rows = load_rows(path)
        role = "fitting" if path in fit_paths else "reporting"
        for name, value in zip(names, (never, best), strict=True):
            r = rates(rows, lambda row, v=value: decide_row(row, v))
            moved = sum(decide_row(row, value) != decide_row(row, never) for row in rows)
            print(f"| {role}: {path.name} | {name} | {r['answerable']:.1f} | {r['refused']:.1f} | "
                  f"{r['wrong_refusal']:.1f} | {moved} |")


def preferred(row: dict, below: float) -> tuple[bool, str]:
    """(refused, answer text) as the default answers with the saved claim, confidence and reading cuts, and a
    Chinese factoid the model answered with a confidence below `below` answered by the extractive answerer where
    its answer passes the same question checks (not refused, the question's anchors in its passage, the claim cut
    beside its sentence), as ModelAnswerer.checked_extractive decides."""
    refused, text = read(row, AUTO_POLICY.min_claim_coverage, AUTO_POLICY.min_confidence,
                         AUTO_POLICY.waive_claim_confidence, AUTO_POLICY.confidence_statistic,
                         AUTO_POLICY.waive_claim_reading, AUTO_POLICY.min_reading)
    conf = (row.get("confidence") or {}).get(AUTO_POLICY.confidence_statistic)
    if (refused or conf is None or conf >= below or row.get("shape", "factoid") != "factoid"
            or "en" in row.get("tags", ()) or row.get("reply") is None):
        return refused, text
    return (False, row["extractive"]) if extractive_stands(row) else (refused, text)


def prefer_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.prefer_extractive_below on the fitting sets with the saved cuts: the best balanced rate, the
    sets averaged (ties: the lower cut, which hands over fewer answers). A handed-over answer is answered either
    way, so only the answerable-right rate can move. Needs study rows from --token-probs. `preferred` reads the
    rows as the "model" route answers them (no coverage or extractive-score cut), so that must be the Chinese
    factoid route; since round 21 the hand-over is read with the answer-type check as shipped (`extractive_typed`:
    an extractive answer that does not show what the question asks for leaves the model's answer standing)."""
    require_model_route(write, "--prefer-extractive fits the hand-over")
    require_form([*fit_paths, *report_paths], AUTO_POLICY.reading_form, "the saved reading check (routes.json)")
    fits = [load_rows(p) for p in fit_paths]
    missing = [str(p) for p, rows in zip(fit_paths, fits, strict=True) if not any(r.get("confidence") for r in rows)]
    if missing:
        raise SystemExit(f"{', '.join(missing)}: no token probabilities recorded; run scripts/study_model.py with "
                         "--token-probs")

    @functools.cache
    def fit_rates(below: float) -> list[dict[str, float]]:
        return [rates(rows, lambda r, b=below: extractive_typed(r, b)) for rows in fits]

    best = max(PREFER_GRID, key=lambda b: (round(mean_balanced(fit_rates(b)), 6), -b))
    fit_table(["hand over below", "balanced"], fit_paths,
              [([f"{b:g}", f"{mean_balanced(fit_rates(b)):.1f}"], fit_rates(b)) for b in PREFER_GRID])
    print(f"\nchosen: hand an answer the model gave below {best:g} to the extractive answerer (balanced "
          f"{mean_balanced(fit_rates(best)):.1f} against {mean_balanced(fit_rates(0.0)):.1f} never)")
    before_after(fit_paths, report_paths, extractive_typed, 0.0, best, "handed over")
    if write is not None:
        saved = json.loads(write.read_text(encoding="utf-8"))
        saved["prefer_extractive"] = ({"below": best, "fitted_on": [str(p) for p in fit_paths],
                                       "how": "scripts/choose_policy.py --prefer-extractive: with the saved claim, "
                                              "confidence and reading cuts, the best mean of answerable-right and "
                                              "unanswerable-refused rates, the fitting sets averaged (ties: the lower cut)"}
                                      if best > 0.0 else None)
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return 0


# A reply with no supported sentence answered by the extractive answerer instead (README step 21): the extractive
# answer logit at or above which it is (inf: never, the reply is refused), and (step 22) the reading of the extractive
# answer's sentence it must have too (0: none asked).
UNSUPPORTED_GRID = [float("inf"), 2.0, 1.0, 0.0, -1.0, float("-inf")]
FALLBACK_READING_GRID = [0.0, 0.3, 0.5, 0.65, 0.8]


def misread(row: dict) -> bool:
    """The model answered a Chinese factoid, no sentence of its reply is kept (supported, with the question's anchors in
    its passage), and it did not say the excerpts do not tell: the case ModelAnswerer.run falls back on at
    Policy.unsupported_fallback_score (study rows hold no stopped reply)."""
    return (model_factoid(row) and bool(row["checked"]) and not row["model_refused"]
            and not any(c["kept"] for c in row["checked"]))


def fallen_back(row: dict, at: float, reading_at: float = 0.0, withheld: bool = False) -> tuple[bool, str]:
    """(refused, answer text) as `extractive_typed` answers with the saved cuts, and a misread reply (`misread`)
    answered by the extractive answerer where its answer logit is at least `at`, it passes the same question checks
    (not refused, the question's anchors in its passage, the claim cut beside its sentence), it shows what the
    question asks for (the answer-type check the extractive answerer applies since round 20) and, with `reading_at` above 0,
    the model read its sentence as answering at `reading_at` or above (no reading recorded: refused, as
    ModelAnswerer.gate_fallback refuses where none can be made). With `withheld` (step 25's variant, not shipped),
    also a Chinese factoid reply a cut withheld, not one the model refused in words."""
    refused, text = extractive_typed(row)
    wanted = misread(row) or (withheld and model_factoid(row) and not row["model_refused"])
    if (not refused or not wanted or logit(row) < at or not extractive_stands(row)
            or _type_missing(row, row["extractive"])):
        return refused, text
    if reading_at > 0.0 and (row.get("extractive_reading") is None or row["extractive_reading"] < reading_at):
        return refused, text
    return False, row["extractive"]


def unsupported_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.unsupported_fallback_score and Policy.unsupported_fallback_reading on the fitting sets with the
    saved cuts: the best balanced rate, the sets averaged (ties: the higher logit, which falls back less, then the
    lower reading cut, which reads less; never, inf, is the highest logit, so a fallback is taken only if it beats
    never). The logit grid was written after a throwaway script printed the same fitting table (README step 21 says
    so); the reading grid (step 22) before any row with a reading of the extractive answer existed."""
    require_model_route(write, "--unsupported-fallback fits the fallback")
    require_form([*fit_paths, *report_paths], AUTO_POLICY.reading_form, "the saved reading check (routes.json)")
    fits = [load_rows(p) for p in fit_paths]
    read = any(r.get("extractive_reading") is not None for rows in fits for r in rows)
    readings = FALLBACK_READING_GRID if read else [0.0]
    if not read:
        print("(no fitting row records an extractive_reading, so no reading gate is tried: rerun scripts/study_model.py "
              "with --reading-below to record it)")
    never = (float("inf"), 0.0)
    grid = [never] + [(a, r) for a in UNSUPPORTED_GRID if a != float("inf") for r in readings]

    @functools.cache
    def fit_rates(rule: tuple[float, float]) -> list[dict[str, float]]:
        return [rates(rows, lambda row, a=rule[0], g=rule[1]: fallen_back(row, a, g)) for rows in fits]

    best = max(grid, key=lambda rule: (round(mean_balanced(fit_rates(rule)), 6), rule[0], -rule[1]))
    fit_table(["extractive logit at least", "its reading at least", "balanced"], fit_paths,
              [([f"{a:g}", f"{r:g}", f"{mean_balanced(fit_rates((a, r))):.2f}"], fit_rates((a, r))) for a, r in grid])
    print(f"\nchosen: a reply with no supported sentence falls back to the checked extractive answer at logit >= "
          f"{best[0]:g}" + (f" whose sentence the model reads as answering at >= {best[1]:g}" if best[1] else "")
          + f" (balanced {mean_balanced(fit_rates(best)):.2f} against {mean_balanced(fit_rates(never)):.2f} never)")
    before_after(fit_paths, report_paths, lambda row, rule: fallen_back(row, *rule), never, best, "fell back")
    if write is not None:
        saved = json.loads(write.read_text(encoding="utf-8"))
        saved["unsupported_fallback"] = ({"min_extractive_score": best[0], "min_reading": best[1],
                                          "fitted_on": [str(p) for p in fit_paths],
                                          "how": "scripts/choose_policy.py --unsupported-fallback: with the saved "
                                                 "claim, confidence, reading and hand-over cuts, the best mean of "
                                                 "answerable-right and unanswerable-refused rates, the fitting sets "
                                                 "averaged (ties: the higher logit, then the lower reading cut), taken "
                                                 "only if it beats never"}
                                         if best != never else None)
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return 0


# The English route (README step 14): an English question over Chinese text is answered by the extractive
# answerer, which refuses it when its best sentence's cosine standing is below model.json's
# cross_language_standing (first chosen on the article's dev split alone).
STANDING_GRID = [round(0.25 * i, 2) for i in range(0, 25)]  # 0 .. 6 standard deviations


def english_row(row: dict, bar: float, numbers: bool = True) -> tuple[bool, str]:
    """(refused, answer text) of the extractive answerer at standing bar `bar`, for a row study_model.py read
    as an English question over Chinese text (`cross_language`, with the answer it gives with no bar), with or
    without the check that the question's numbers stand in the answer's passage (decide.cross_language_numbers)."""
    unbarred = row["extractive_unbarred"]
    if row["extractive_standing"] < bar or unbarred["refused"] or (numbers and unbarred.get("numbers_missing")):
        return True, ""
    return False, unbarred["text"]


def english_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose model.json's cross_language_standing on the English questions of the fitting sets: the best
    balanced rate (answerable right and not-answerable refused), fitting sets averaged, with the number check the
    answerer makes (round 12; the table also shows the saved bar without it); ties: the lower bar
    (it refuses less). Rule set beforehand: taken only if it raises that rate over the saved bar. (Round 12 chose
    2.5 on DRCD dev in English and the article dev split; held out it lost answers and was not written: README,
    "How auto was chosen", step 14.)"""
    from rag.answering.decision import MODEL_FILE, load_models

    def english_rows(path: Path) -> list[dict]:
        rows = [r for r in load_rows(path) if r.get("cross_language")]
        if rows and any("extractive_unbarred" not in r for r in rows):
            raise SystemExit(f"{path}: no unbarred extractive answers recorded; run scripts/study_model.py again "
                             "(round 12 or later records them for English questions)")
        return rows

    fits = [english_rows(p) for p in fit_paths]
    empty = [str(p) for p, rows in zip(fit_paths, fits, strict=True) if not rows]
    if empty:
        raise SystemExit(f"{', '.join(empty)}: no English question over Chinese text in it (study_model.py "
                         "--translations, or --qa with a split holding English questions)")
    saved = load_models(write if write is not None else MODEL_FILE).cross_language_standing

    @functools.cache
    def fit_rates(bar: float) -> list[dict[str, float]]:
        return [rates(rows, lambda r, b=bar: english_row(r, b)) for rows in fits]

    def bal(bar: float) -> float:
        return mean_balanced(fit_rates(bar))

    best = max(STANDING_GRID, key=lambda b: (round(bal(b), 6), -b))
    if round(bal(best), 6) <= round(bal(saved), 6):
        best = saved
    fit_table(["standing bar", "balanced"], fit_paths,
              [([f"{bar:g}", f"{bal(bar):.1f}"], fit_rates(bar)) for bar in sorted({*STANDING_GRID, saved})])
    print(f"\nsaved bar {saved:g} (balanced {bal(saved):.1f}); chosen {best:g} (balanced {bal(best):.1f})")
    print("\n| set | bar | answerable right | not answerable refused | answerable refused |\n|---|---|---|---|---|")
    for path in [*fit_paths, *report_paths]:
        rows = english_rows(path)
        role = "fitting" if path in fit_paths else "reporting"
        for name, bar, numbers in (("saved, no number check", saved, False), ("saved", saved, True),
                                   ("chosen", best, True)):
            r = rates(rows, lambda row, b=bar, n=numbers: english_row(row, b, n))
            print(f"| {role}: {path.name} ({len(rows)}) | {name} {bar:g} | {r['answerable']:.1f} | {r['refused']:.1f} | "
                  f"{r['wrong_refusal']:.1f} |")
    if write is not None and best != saved:
        model = json.loads(write.read_text(encoding="utf-8"))
        model["meta"]["cross_language_standing"] = best
        model["meta"]["cross_language_standing_chosen_on"] = (
            "scripts/choose_policy.py --english-standing " + " ".join(str(p) for p in fit_paths) + ": the best mean "
            "of answerable-right and not-answerable-refused rates of their English questions, the sets averaged")
        write.write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")  # as fit_answerer.py
        print(f"wrote {write}")
    return 0


# The pick (README step 20): an English question over Chinese text answered with the sentence the model picks among
# the extractive answerer's best, refused where it gives "none of them" at least this probability (inf: never).
PICK_GRID = [float("inf"), 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05]


def pick_row(row: dict, none_at: float | None) -> tuple[bool, str]:
    """(refused, answer text) of an English question over Chinese text as scripts/study_pick.py recorded it: with
    the pick (`none_at`: its refusal cut), the answer the picked sentence gives unless "none of them" was read at
    `none_at` or more (the extractive answerer's refusal rules already in that answer); without it (None), the
    extractive answerer's own answer (the English route before step 20)."""
    if none_at is None:
        return row["extractive_refused"], row["extractive"]
    if row.get("pick") and row["pick"][0] >= none_at or row["refused"]:  # no pick (the bar refused): its answer
        return True, ""
    return False, row["answer"]


MIN_TRANSLATE_GAIN = 0.5  # balanced points the translated search must add over searching as asked (README step 23)


def pick_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None,
              untranslated: list[Path] | None = None) -> int:
    """Choose the pick's refusal cut (Policy.pick_none_at) on the fitting sets' English questions over Chinese text:
    the best balanced rate (answerable right and not-answerable refused), the sets averaged; ties: the higher cut
    (it refuses less). Rule set before the fit (round 15): taken if it beats the English route without the pick."""
    def english_rows(path: Path) -> list[dict]:
        rows = [r for r in load_rows(path) if r.get("cross_language")]
        if not rows:
            raise SystemExit(f"{path}: no English question over Chinese text recorded (scripts/study_pick.py rows)")
        if any("pick" not in r for r in rows):
            raise SystemExit(f"{path}: not scripts/study_pick.py rows (no `pick` recorded)")
        failed = [r.get("question", r.get("id", "?")) for r in rows if r.get("failure")]
        if failed:
            raise SystemExit(f"{path}: the pick failed on {len(failed)} questions (e.g. {failed[0]!r}); run "
                             "scripts/study_pick.py again")
        return rows

    fits = [english_rows(p) for p in fit_paths]
    reports = [english_rows(p) for p in report_paths]
    counts = {len(r["pick"]) - 1 for rows in [*fits, *reports] for r in rows if r.get("pick")}
    systems = {r.get("system", "pick") for rows in [*fits, *reports] for r in rows}
    if len(counts) != 1 or len(systems) != 1:
        raise SystemExit(f"the rows show the model {sorted(counts)} sentences with {sorted(systems)} system messages; "
                         "run every study with the same study_pick.py --sentences and --system")
    (count,), (system,) = counts, systems
    translated = {bool(r.get("translate")) for rows in fits for r in rows}
    if len(translated) != 1:
        raise SystemExit("some fitting rows were searched in translation and some not; run every fitting study with "
                         "or every one without study_pick.py --translate")
    (translate,) = translated
    if translate and write is not None and not untranslated:
        raise SystemExit("the fitting rows were searched in translation: give the same studies searched as asked with "
                         "--untranslated, so that the translation is saved only if it beats them (README step 23)")

    @functools.cache
    def fit_rates(none_at: float | None) -> list[dict[str, float]]:
        return [rates(rows, lambda r, c=none_at: pick_row(r, c)) for rows in fits]

    def bal(none_at: float | None) -> float:
        return mean_balanced(fit_rates(none_at))

    best = max(PICK_GRID, key=lambda c: (round(bal(c), 6), c))
    taken = round(bal(best), 6) > round(bal(None), 6)
    if translate and untranslated:
        plain = [english_rows(p) for p in untranslated]
        if any(r.get("translate") for rows in plain for r in rows):
            raise SystemExit("--untranslated: those rows were searched in translation too (study_pick.py --translate)")
        plain_best = max(mean_balanced([rates(rows, lambda r, c=c: pick_row(r, c)) for rows in plain])
                         for c in PICK_GRID)
        gain = bal(best) - plain_best
        print(f"searched in translation: balanced {bal(best):.1f} against {plain_best:.1f} searched as asked "
              f"({gain:+.2f}; taken from {MIN_TRANSLATE_GAIN:g})")
        if round(gain, 6) < MIN_TRANSLATE_GAIN:
            print("the translation is not taken: nothing is written (fit the untranslated rows to save a pick)")
            write, taken = None, False
    fit_table(["pick, refuse at none >=", "balanced"], fit_paths,
              [(["no pick (extractive)", f"{bal(None):.1f}"], fit_rates(None)),
               *(([f"{c:g}", f"{bal(c):.1f}"], fit_rates(c)) for c in PICK_GRID)])
    print(f"\nchosen: pick among {count} ({system} system message{', searched in translation' if translate else ''}), "
          f"refuse at none >= {best:g} (balanced "
          f"{bal(best):.1f} against {bal(None):.1f} without the pick): {'taken' if taken else 'not taken'}")
    print("\n| set | rule | answerable right | not answerable refused | answerable refused |\n|---|---|---|---|---|")
    for path, rows in zip([*fit_paths, *report_paths], [*fits, *reports], strict=True):
        role = "fitting" if path in fit_paths else "reporting"
        for name, cut in (("no pick", None), ("chosen", best)):
            r = rates(rows, lambda row, c=cut: pick_row(row, c))
            print(f"| {role}: {path.name} ({len(rows)}) | {name} | {r['answerable']:.1f} | {r['refused']:.1f} | "
                  f"{r['wrong_refusal']:.1f} |")
    if write is not None:
        saved = json.loads(write.read_text(encoding="utf-8"))
        saved["pick"] = ({"sentences": count, "refuse_none_at": None if best == float("inf") else best, "system": system,
                          "translate": translate,
                          # step 65's English line is chosen apart (scripts/study_english.py): a refit keeps it
                          "english_line": bool((saved.get("pick") or {}).get("english_line", False)),
                          "fitted_on": [str(p) for p in fit_paths],
                          "how": "scripts/choose_policy.py --pick: English questions over Chinese text answered with "
                                 "the sentence the model picks among the extractive answerer's best; the refusal cut "
                                 "with the best mean of answerable-right and not-answerable-refused rates, the fitting "
                                 "sets averaged (ties: the higher cut); taken only if it beats the route without it"}
                         if taken else None)
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return 0


# The answer-type check on the model's own answers (README step 24): taken only if it loses no answerable answer on
# any fitting set and gains this many balanced-rate points, the fitting sets averaged (written before the rows).
MIN_TYPE_GAIN = 0.5


def _zh_factoid(row: dict) -> bool:
    """Whether the row is a Chinese factoid: what the checks of the model's own answer (steps 82-84) read."""
    return question_language(row["question"]) == "zh" and row.get("shape", "factoid") == "factoid"


def _type_missing(row: dict, text: str) -> bool:
    return _zh_factoid(row) and bool(missing_answer_type(row["question"], strip_markers(text)))


def extractive_typed(row: dict, below: float = AUTO_POLICY.prefer_extractive_below) -> tuple[bool, str]:
    """(refused, answer text) as the default answers since round 20 with the saved cuts: an extractive answer to a
    Chinese factoid that does not show what the question asks for (question.missing_answer_type) is refused by the
    extractive answerer, so where the default preferred it to the model's unsure answer the model's answer stands
    (ModelAnswerer.run's `unsure` path), and where it stood in otherwise the answer is refused. Rows recorded since
    round 20 carry the check in their extractive fields already; on older rows this applies it."""
    refused, text = preferred(row, below)
    if refused or text != row["extractive"] or not _type_missing(row, text):
        return refused, text
    own_refused, own = preferred(row, 0.0)  # the model's answer, never handed to the extractive answerer
    return (own_refused, own) if not own_refused and own != row["extractive"] else (True, "")


def model_typed(row: dict) -> tuple[bool, str]:
    """As `shipped_before_model_type` (every other saved cut; the extractive answerer's own answers already checked, step
    24), and the model's own Chinese factoid answer (not handed over, not a fallback) refused too where it does not show
    what is asked (README step 40: measured on the pool again after every later cut; step 82: taken)."""
    refused, text = shipped_before_model_type(row)
    return (True, "") if not refused and text != row["extractive"] and _type_missing(row, text) else (refused, text)


def check_report(fit_paths: list[Path], report_paths: list[Path], before, after, step: str,  # noqa: ANN001
                 before_name: str, after_name: str) -> tuple[float, int, int]:
    """The rates as the default answers without a check that only refuses (`before`) and with it (`after`), on the
    fitting and the reporting sets, with the answers changed. Returns the balanced gain on the fitting sets (their
    mean), the right (fair) answers it refuses there, and the wrong ones (a not-answerable question answered, or an
    answerable one answered wrong): step 82's count."""
    print("| set | rule | answerable right | not answerable refused | answerable refused | answers changed |")
    print("|---|---|---|---|---|---|")
    gains, lost, wrong_refused = [], 0, 0
    for path in [*fit_paths, *report_paths]:
        rows = load_rows(path)
        role = "fitting" if path in fit_paths else "reporting"
        was, now = rates(rows, before), rates(rows, after)
        turned = []  # the rows the check refuses, with the answer given before it
        for r in rows:
            (was_refused, text), (now_refused, _) = before(r), after(r)
            if now_refused and not was_refused:
                turned.append((r, text))
        for name, rate, moved in ((before_name, was, ""), (after_name, now, f"{len(turned)} ")):
            print(f"| {role}: {path.name} | {name} | {rate['answerable']:.1f} | {rate['refused']:.1f} | "
                  f"{rate['wrong_refusal']:.1f} | {moved}|")
        for r, text in turned:
            print(f"|   | {step} refuses | {r['kind']} | {r['question']} | {strip_markers(text)[:40]} | |")
        if role == "fitting":
            gains.append(((now["answerable"] + now["refused"]) - (was["answerable"] + was["refused"])) / 2)
            right = sum(1 for r, text in turned if r["kind"] == "answerable" and fair_match(text, r["answers"]))
            lost += right
            wrong_refused += len(turned) - right
    return (sum(gains) / len(gains) if gains else 0.0), lost, wrong_refused


def step82_verdict(lost: int, wrong_refused: int, step: str) -> str:
    return (f"wrong answers refused on the fitting sets {wrong_refused}, right answers lost {lost}: "
            f"{'taken' if lost == 0 and wrong_refused > 0 else 'not taken'} under step 82's rule (no right answer lost, "
            f"a wrong one refused), {step}")


def answer_type_main(fit_paths: list[Path], report_paths: list[Path]) -> int:
    """Whether the answer-type check should also refuse the model's own answers: the rates as the default answers
    without it (`shipped_before_model_type`) and with the model's answers checked too (`model_typed`), on the fitting
    sets (the verdict: MIN_TYPE_GAIN balanced points and no answerable answer lost, step 40's rule; step 82 took it on
    its own rule, no right answer lost and a wrong one refused, printed beside it) and the reporting sets. Nothing is
    saved (routes.json's model_answer_type says what was taken; round 20 compared the cuts of its day,
    `extractive_typed`; round 31 every saved cut)."""
    gain, lost, wrong_refused = check_report(fit_paths, report_paths, shipped_before_model_type, model_typed,
                                             "step 82", "before step 82 (extractive answers checked)",
                                             "the model's answers too")
    taken = lost == 0 and round(gain, 6) >= MIN_TYPE_GAIN
    print(f"\nbalanced gain on the fitting sets {gain:.2f} (needs {MIN_TYPE_GAIN:g}), right answers lost {lost}: "
          f"{'taken' if taken else 'not taken'} for the model's own answers under step 40's rule")
    print(step82_verdict(lost, wrong_refused, "for the answer-type check"))
    return 0


def _kept_claims(row: dict) -> list[dict]:
    """The recorded claims of the model's reply that the support check kept (steps 83 and 89 read their sentences)."""
    return [c for c in row.get("checked") or [] if c.get("kept")]


def _rival_found(row: dict) -> bool:
    """Whether every sentence the model's reply was kept on names a rival of the question's subject (README step 83:
    rival.rival_subject over the recorded `claim_sentence`, with the excerpts and `claim_passage` as what was read)."""
    kept = _kept_claims(row)
    if not kept or not _zh_factoid(row):
        return False
    read = row.get("excerpts") or []
    said = strip_markers(row.get("answer") or "")
    return all(rival_subject(row["question"], c.get("claim_sentence") or c["text"],
                             shown_text(read, c.get("claim_passage") or ""), said) for c in kept)


def rival_checked(row: dict) -> tuple[bool, str]:
    """As `shipped_before_rival`, and the model's own Chinese factoid answer (not handed over, not a fallback) refused
    where the sentence it stands on names a rival of the question's subject (README step 83)."""
    refused, text = shipped_before_rival(row)
    return (True, "") if not refused and text != row["extractive"] and _rival_found(row) else (refused, text)


def refusing_check_main(fit_paths: list[Path], report_paths: list[Path], before, after, step: str,  # noqa: ANN001
                        check: str) -> int:
    """`check_report` of a check that only refuses the model's own answers (`after`, against `before`: the default
    without it), judged under step 82's rule; nothing is saved (routes.json says what was taken)."""
    _, lost, wrong_refused = check_report(fit_paths, report_paths, before, after, step, f"before {step}", check)
    print("\n" + step82_verdict(lost, wrong_refused, f"for {check}"))
    return 0


def rival_main(fit_paths: list[Path], report_paths: list[Path]) -> int:
    """Whether the model's own answers are withheld where their sentence names a rival of the question's subject
    (README step 83), under step 82's rule. Nothing is saved (routes.json's model_rival says what was taken)."""
    return refusing_check_main(fit_paths, report_paths, shipped_before_rival, rival_checked, "step 83", "the rival check")


# Round 21 (README step 25): ways to hand over or fall back better, measured against the shipped rule and not taken.
# Each is taken only if it beats the shipped rule on the fitting sets, the sets averaged; a reading gate on the hand-over
# reads every unsure factoid (about 2 s), so it must also add MIN_READING_GAIN.


def fallen_back_shipped(row: dict) -> tuple[bool, str]:
    """(refused, answer text) with routes.json's cuts up to the fallback (the hand-over and the fallback)."""
    return fallen_back(row, AUTO_POLICY.unsupported_fallback_score, AUTO_POLICY.unsupported_fallback_reading)


def score_cut(row: dict, below: float) -> tuple[bool, str]:
    """(refused, answer text) as `fallen_back_shipped` answers, and the model's own factoid answer (not handed over, not
    a fallback: its text is not the extractive answer's) refused where the extractive answer logit is below `below`
    (README step 27; ModelAnswerer.run's Policy.model_min_extractive_score)."""
    refused, text = fallen_back_shipped(row)
    if not refused and text != row["extractive"] and model_factoid(row) and logit(row) < below:
        return True, ""
    return refused, text


MEANING_FIELDS = {"window": "missing_meaning", "passage": "missing_meaning_passage"}  # Policy.meaning_scope -> field


def best_kept_of(row: dict) -> dict | None:
    """The row's kept sentence with the highest claim share (the one ModelAnswerer measures, its `best_kept`); None
    where nothing is kept."""
    kept = [c for c in row.get("checked") or [] if c["kept"]]
    return max(kept, key=lambda c: c.get("claim_coverage", 1.0)) if kept else None


def missing_meaning_of(row: dict, scope: str = "window") -> float | None:
    """Step 30's `missing_meaning` (`scope` "passage": step 31's `missing_meaning_passage`, a word missing only where
    the whole passage lacks it) of the kept sentence with the highest claim share (the one ModelAnswerer measures);
    None where nothing is kept or the row was recorded without it (scripts/annotate_meaning.py adds the window's)."""
    best = best_kept_of(row)
    return best.get(MEANING_FIELDS[scope]) if best is not None else None


def waive_by_meaning(row: dict, at: float, scope: str) -> dict:
    """The row marked `claim_waived` (which `read` honours) where step 31's waiver keeps the model's Chinese factoid
    answer below the claim cut: its meaning feature (`scope`) at `at` or above (inf: never). Only answers below the cut
    are measured in the product; above it the mark changes nothing."""
    if math.isinf(at) or not model_factoid(row):
        return row
    meaning = missing_meaning_of(row, scope)
    return {**row, "claim_waived": True} if meaning is not None and meaning >= at else row


EXTRACTIVE_MEANING_FIELDS = {"window": "extractive_meaning", "passage": "extractive_meaning_passage"}  # step 32


def extractive_meaning_of(row: dict, scope: str) -> float | None:
    """Step 32's feature: steps 30-31's meaning feature (`scope`) of the extractive answer's first cited sentence, as
    study_model.py records it; None where the extractive answerer refused or the row was recorded before round 27."""
    return row.get(EXTRACTIVE_MEANING_FIELDS[scope])


def block_by_meaning(row: dict, below: float, scope: str) -> dict:
    """The row marked `extractive_blocked` (which `extractive_stands` honours) where step 32's cut stops the extractive
    answer standing in for the model's answer to a Chinese factoid: its meaning feature (`scope`) below `below` (-inf,
    or any infinity, as the product reads it: never), as ModelAnswerer.checked_extractive decides."""
    if math.isinf(below) or not model_factoid(row) or question_language(row["question"]) != "zh":
        return row
    meaning = extractive_meaning_of(row, scope)
    return {**row, "extractive_blocked": True} if meaning is not None and meaning < below else row


def meaning_cut(row: dict, below: float, scope: str | None = None, waive_at: float | None = None,
                extractive_below: float | None = None) -> tuple[bool, str]:
    """(refused, answer text) as `score_cut` answers at routes.json's cut, with the meaning waiver at `waive_at`
    and step 32's cut of the extractive stand-in at `extractive_below` (None: routes.json's), and the model's own
    Chinese factoid answer (not handed over, not a fallback) refused where a question word missing beside its support
    has no word of like meaning there: `missing_meaning_of` (`scope`; None: routes.json's) below `below` (README steps
    30-31; ModelAnswerer.run's Policy.min_missing_meaning)."""
    scope = AUTO_POLICY.meaning_scope if scope is None else scope
    row = waive_by_meaning(row, AUTO_POLICY.waive_claim_meaning if waive_at is None else waive_at, scope)
    row = block_by_meaning(row, AUTO_POLICY.min_extractive_meaning if extractive_below is None else extractive_below,
                           scope)
    refused, text = score_cut(row, AUTO_POLICY.model_min_extractive_score)
    if not refused and text != row["extractive"] and model_factoid(row):
        meaning = missing_meaning_of(row, scope)
        if meaning is not None and meaning < below:
            return True, ""
    return refused, text


def question_surprise_of(row: dict) -> float | None:
    """Step 38's feature of a row: the log-probability of its question's least expected token after the excerpts (None
    where the row has no `question_logprobs`: scripts/annotate_surprise.py)."""
    if not row.get("question_logprobs"):
        return None
    surprise = question_surprise([tuple(tv) for tv in row["question_logprobs"]])
    return None if surprise is None else surprise[1]


def waive_by_surprise(row: dict, at: float) -> dict:
    """The row marked `claim_waived` (which `read` honours) where step 39's waiver keeps the model's Chinese factoid
    answer below the claim cut: its question's surprise (`question_surprise_of`) at `at` or above (inf: never)."""
    if math.isinf(at) or not model_factoid(row):
        return row
    surprise = question_surprise_of(row)
    return {**row, "claim_waived": True} if surprise is not None and surprise >= at else row


def surprise_cut(row: dict, below: float, waive_at: float | None = None) -> tuple[bool, str]:
    """(refused, answer text) as `meaning_cut` answers at routes.json's cuts, with step 39's waiver at `waive_at` (None:
    routes.json's), and the model's own Chinese factoid answer (not handed over, not a fallback) refused where the
    question's least expected token after the excerpts has a log-probability below `below` (README step 38; rows need
    `question_logprobs`: scripts/annotate_surprise.py; a row without them is neither waived nor refused, as the product
    does nothing with them missing)."""
    row = waive_by_surprise(row, AUTO_POLICY.waive_claim_surprise if waive_at is None else waive_at)
    refused, text = meaning_cut(row, AUTO_POLICY.min_missing_meaning)
    if not refused and text != row["extractive"] and model_factoid(row):
        surprise = question_surprise_of(row)
        if surprise is not None and surprise < below:
            return True, ""
    return refused, text


def question_gain_of(row: dict) -> float | None:
    """Step 46's feature of a row: the mean gain in log-probability per question token from the excerpts (None where
    the row lacks `question_logprobs` or `question_prior_logprobs`: scripts/annotate_surprise.py)."""
    with_excerpts, without = row.get("question_logprobs"), row.get("question_prior_logprobs")
    if not with_excerpts or not without:
        return None
    return question_gain([tuple(tv) for tv in with_excerpts], [tuple(tv) for tv in without])


def gain_cut(row: dict, below: float) -> tuple[bool, str]:
    """(refused, answer text) as `surprise_cut` answers at routes.json's cuts, and the model's own Chinese factoid
    answer (not handed over, not a fallback, not to a follow-up) refused where the question's mean gain from the
    excerpts is below `below` (README step 46; a row without the readings is not refused, as the product does nothing
    without them)."""
    refused, text = surprise_cut(row, AUTO_POLICY.min_question_logprob)
    if not refused and text != row["extractive"] and model_factoid(row) and not row.get("history"):
        gain = question_gain_of(row)
        if gain is not None and gain < below:
            return True, ""
    return refused, text


def stand_in_cut(row: dict, cuts: bool) -> tuple[bool, str]:
    """(refused, answer text) as `gain_cut` answers at routes.json's cuts, and with `cuts` (README step 47) an extractive
    answer standing in for the model's Chinese factoid answer (the hand-over, the misread fallback: its text is the
    extractive answer's) refused by the same question cuts at routes.json's values: the question's least expected token
    after the excerpts below the surprise cut, or, outside a conversation, its mean gain from the excerpts below the gain
    cut (a row without the readings is not refused, as the product does nothing without them)."""
    refused, text = gain_cut(row, AUTO_POLICY.min_question_gain)
    if not cuts or refused or text != row["extractive"] or not model_factoid(row):
        return refused, text
    return (True, "") if question_cut(row) else (refused, text)


def question_cut(row: dict) -> bool:
    """Whether the question cuts at routes.json's values refuse what answers the row (ModelAnswerer.question_cut): its
    question's least expected token after the excerpts below the surprise cut, or, outside a conversation, its mean gain
    from them below the gain cut (a row without the readings is not refused, as the product does nothing without
    them)."""
    surprise = question_surprise_of(row)
    if surprise is not None and surprise < AUTO_POLICY.min_question_logprob:
        return True
    gain = None if row.get("history") else question_gain_of(row)
    return gain is not None and gain < AUTO_POLICY.min_question_gain


def shipped_before_stand_in_cuts(row: dict) -> tuple[bool, str]:
    """(refused, answer text) as `shipped` answers without step 47 (the stand-ins not read by the question cuts)."""
    return stand_in_cut(row, False)


def shipped_before_model_type(row: dict) -> tuple[bool, str]:
    """(refused, answer text) as `shipped` answers without step 82 (the model's own answers not type-checked)."""
    return stand_in_cut(row, AUTO_POLICY.question_cuts_stand_in)


def shipped_before_rival(row: dict) -> tuple[bool, str]:
    """(refused, answer text) as `shipped` answers without step 83: the hand-over, the fallback, (step 27) the
    extractive logit below which the model's own answer is refused, (steps 30-31) the meaning waiver and cut, (steps
    38-39) the question's surprise, its cut and its waiver, (step 46) the question's gain from the excerpts, (step 47)
    the same question cuts on an extractive answer standing in for the model's, where routes.json says so, and (step
    82) the answer-type check on the model's own Chinese factoid answers, where routes.json says so."""
    return model_typed(row) if AUTO_POLICY.model_answer_type else shipped_before_model_type(row)


def shipped_before_name(row: dict) -> tuple[bool, str]:
    """(refused, answer text) as `shipped` answers without step 84: `shipped_before_rival`, and (step 83) the model's
    own answer withheld where its sentence names a rival of the question's subject, where routes.json says so."""
    return rival_checked(row) if AUTO_POLICY.model_rival else shipped_before_rival(row)


def _name_missing(row: dict, text: str) -> bool:
    return _zh_factoid(row) and bool(only_value_for_name(row["question"], strip_markers(text)))


def name_checked(row: dict) -> tuple[bool, str]:
    """As `shipped_before_name`, and the model's own Chinese factoid answer (not handed over, not a fallback) refused
    where its question asks a person, place or thing and it gives a time or number alone (README step 84)."""
    refused, text = shipped_before_name(row)
    return (True, "") if not refused and text != row["extractive"] and _name_missing(row, text) else (refused, text)


def name_main(fit_paths: list[Path], report_paths: list[Path]) -> int:
    """Whether the model's own answers giving a time or number alone to a question that asks a name are withheld
    (README step 84), under step 82's rule. Nothing is saved (routes.json's model_answer_name says what was taken)."""
    return refusing_check_main(fit_paths, report_paths, shipped_before_name, name_checked, "step 84", "the name check")


def shipped_before_contrast(row: dict) -> tuple[bool, str]:
    """(refused, answer text) as `shipped` answers without step 89: `shipped_before_name`, and (step 84) the model's
    own answer withheld where it gives a time or number alone for a name, where routes.json says so."""
    return name_checked(row) if AUTO_POLICY.model_answer_name else shipped_before_name(row)


def _contrast_found(row: dict, text: str) -> bool:
    """Whether the shipped Chinese answer `text` speaks of the other side of a contrast the question asks about (README
    step 89, contrast.contrast_swap): the extractive answer's own text, or every sentence the model's own answer was
    kept on (the recorded `claim_sentence`), on every kind of question."""
    if question_language(row["question"]) != "zh":
        return False
    if text == row["extractive"]:
        return bool(contrast_swap(row["question"], strip_markers(text)))
    kept = _kept_claims(row)
    return bool(kept) and all(contrast_swap(row["question"], c.get("claim_sentence") or c["text"]) for c in kept)


def contrast_checked(row: dict) -> tuple[bool, str]:
    """As `shipped_before_contrast`, and an answer refused where it speaks of the other side of a contrast the question
    asks about (README step 89: the extractive answer or the model's own, on every kind of Chinese question)."""
    refused, text = shipped_before_contrast(row)
    return (True, "") if not refused and text and _contrast_found(row, text) else (refused, text)


def contrast_main(fit_paths: list[Path], report_paths: list[Path]) -> int:
    """What step 89's contrast check changes on the pool, judged under step 82's rule. Nothing is saved: the check is
    part of both answerers (rag/answering/contrast.py)."""
    return refusing_check_main(fit_paths, report_paths, shipped_before_contrast, contrast_checked, "step 89",
                               "the contrast check")


def shipped(row: dict) -> tuple[bool, str]:
    """(refused, answer text) as the default answers with routes.json's cuts: `shipped_before_contrast`, and (step 89)
    an answer refused where it speaks of the other side of a contrast the question asks about."""
    return contrast_checked(row)


# README step 27: the model's own answer refused where the extractive answer logit is below a cut, chosen by the best
# balanced rate on the fitting sets among cuts under which no fitting set's answerable-right rate falls more than
# MAX_ANSWERABLE_LOSS points against no cut (the issue's "never lose more than 2 points"), taken if it gains
# MIN_SCORE_CUT_GAIN.
MODEL_SCORE_GRID = [float("-inf"), -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
MAX_ANSWERABLE_LOSS = 2.0
MIN_SCORE_CUT_GAIN = 0.5


def guarded_choice(fits: list[list[dict]], grid: list[float], decide_row,  # noqa: ANN001
                   never: float = float("-inf")) -> tuple[float, float, float, object, object]:
    """The rule of steps 27, 30 and 31 over `grid` for `decide_row(row, value)` (`never`: the value that changes
    nothing): the best balanced rate on the fitting sets among values under which no fitting set's answerable-right
    rate falls more than MAX_ANSWERABLE_LOSS points against never (ties: the value nearer never). Returns the best
    value, its balanced rate, never's, and the functions giving each value's per-set rates and whether it is
    guarded."""

    @functools.cache
    def fit_rates(value: float) -> list[dict[str, float]]:
        return [rates(rows, lambda r, v=value: decide_row(r, v)) for rows in fits]

    base = fit_rates(never)

    def guarded(value: float) -> bool:
        return all(r["answerable"] >= n["answerable"] - MAX_ANSWERABLE_LOSS - 1e-9
                   for r, n in zip(fit_rates(value), base, strict=True))

    nearer = (lambda v: -v) if never < 0 else (lambda v: v)
    best = max((v for v in grid if guarded(v)), key=lambda v: (round(mean_balanced(fit_rates(v)), 6), nearer(v)))
    return best, mean_balanced(fit_rates(best)), mean_balanced(base), fit_rates, guarded


def guarded_cut_main(fit_paths: list[Path], report_paths: list[Path], fits: list[list[dict]], grid: list[float],
                     decide_row, rule: str, section: str, option: str, write: Path | None,  # noqa: ANN001
                     saved_with: dict | None = None, never: float = float("-inf"), key: str = "below",
                     does: str = "refuse the model's own answer") -> int:
    """Choose a cut on the model's own answers, `decide_row(row, value)`, over `grid` by `guarded_choice` (a refusal
    cut: never is -inf, ties the lower; a waiver: never is inf, ties the higher), taken if it gains MIN_SCORE_CUT_GAIN.
    Prints the fitting table, the choice (`does` what, `rule` where) and the rates before and after on every set; with
    `write` saves it in routes.json's `section` at `key` (with `saved_with`; null when not taken)."""
    best, chosen, base, fit_rates, guarded = guarded_choice(fits, grid, decide_row, never)
    fit_table(["refuse below" if never < 0 else f"{does.split()[0]} at", "balanced",
               f"no set loses > {MAX_ANSWERABLE_LOSS:g}"], fit_paths,
              [([f"{b:g}", f"{mean_balanced(fit_rates(b)):.2f}", "yes" if guarded(b) else "no"], fit_rates(b))
               for b in grid])
    gain = chosen - base
    taken = best != never and round(gain, 6) >= MIN_SCORE_CUT_GAIN
    print(f"\nchosen: {does} {rule} {best:g} (balanced {chosen:.2f} against {base:.2f} never; needs "
          f"{MIN_SCORE_CUT_GAIN:g}): {'taken' if taken else 'not taken'}")
    before_after(fit_paths, report_paths, decide_row, never, best, "answers changed")
    if write is not None:
        save_section(write, section, {key: best, **(saved_with or {}), "fitted_on": [str(p) for p in fit_paths],
                                      "how": f"scripts/choose_policy.py {option}: with the saved cuts, the best mean of "
                                             "answerable-right and unanswerable-refused rates, the fitting sets "
                                             "averaged, among values under which no fitting set's answerable-right "
                                             f"rate falls more than {MAX_ANSWERABLE_LOSS:g} points (ties: the value "
                                             f"nearer never); taken if it gains {MIN_SCORE_CUT_GAIN:g}"}
                     if taken else None)
    return 0


def save_section(write: Path, section: str, value: dict | None) -> None:
    """routes.json (`write`) with its `section` set to `value` (None: null, not taken), the rest as saved."""
    saved = json.loads(write.read_text(encoding="utf-8"))
    saved[section] = value
    write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {write}")


# README step 38: the question-surprise cut, chosen as step 27's score cut is (the same objective, guard and gain), over
# SURPRISE_GRID (written before the pooled fit: artifacts/r30/rule.md).
SURPRISE_GRID = [float("-inf"), *(-17.0 + 0.5 * i for i in range(15))]


def surprise_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.min_question_logprob on the fitting sets with the saved cuts (step 27's rule), report it on the
    reporting sets, and with `write` save it in routes.json's question_surprise_cut (null when not taken)."""
    require_model_route(write, "--question-surprise-cut reads the model's own answers")
    fits = [load_rows(p) for p in fit_paths]
    require_surprise(fit_paths, fits)
    return guarded_cut_main(fit_paths, report_paths, fits, SURPRISE_GRID, surprise_cut,
                            "below a question-token log-probability of", "question_surprise_cut",
                            "--question-surprise-cut", write)


# README step 39: the claim cut waived where the question's least expected token after the excerpts is at least this
# log-probability, chosen as step 31's meaning waiver is (step 27's objective, guard and gain; never: inf) over
# SURPRISE_WAIVER_GRID (written before the pooled fit: README step 39).
SURPRISE_WAIVER_GRID = [float("inf"), *(-3.0 - 0.5 * i for i in range(25))]


# README step 46: the cut on the question's gain from the excerpts, chosen as step 27's score cut is (the same objective,
# guard and gain) over GAIN_GRID (mean gains per token; the grid of the round-34 exploration that found the feature).
GAIN_GRID = [float("-inf"), -1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0]


def gain_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.min_question_gain on the fitting sets with the saved cuts (step 27's rule), report it on the
    reporting sets, and with `write` save it in routes.json's question_gain_cut (null when not taken)."""
    require_model_route(write, "--question-gain-cut reads the model's own answers")
    fits = [load_rows(p) for p in fit_paths]
    for path, rows in zip(fit_paths, fits, strict=True):
        if not any(r.get("question_prior_logprobs") for r in rows):
            raise SystemExit(f"{path} has no question_prior_logprobs: run scripts/annotate_surprise.py on it first")
    return guarded_cut_main(fit_paths, report_paths, fits, GAIN_GRID, gain_cut,
                            "below a mean question-token gain from the excerpts of", "question_gain_cut",
                            "--question-gain-cut", write)


def stand_in_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """README step 47: whether the question cuts at routes.json's values also refuse an extractive answer standing in for
    the model's Chinese factoid answer. Taken where the fitting sets' mean balanced rate gains MIN_SCORE_CUT_GAIN and
    no fitting set's answerable-right rate falls more than MAX_ANSWERABLE_LOSS points (step 27's rule, no value fitted);
    with `write` saved in routes.json's stand_in_question_cuts (null when not taken)."""
    require_model_route(write, "--stand-in-question-cuts reads the model's prompts")
    fits = [load_rows(p) for p in fit_paths]
    require_surprise(fit_paths, fits)

    # step 27's guarded choice over the two settings (never: off); a tie leaves no gain, so it is not taken either way
    best, _, base, fit_rates, guarded = guarded_choice(fits, [False, True], stand_in_cut, never=False)
    fit_table(["stand-ins cut", "balanced", f"no set loses > {MAX_ANSWERABLE_LOSS:g}"], fit_paths,
              [([name, f"{mean_balanced(fit_rates(v)):.2f}", "yes" if guarded(v) else "no"], fit_rates(v))
               for name, v in (("no", False), ("yes", True))])
    on = mean_balanced(fit_rates(True))
    gain = on - base
    taken = best is True and round(gain, 6) >= MIN_SCORE_CUT_GAIN
    print(f"\nthe question cuts on the extractive stand-ins: balanced {on:.2f} against {base:.2f} without (needs "
          f"{MIN_SCORE_CUT_GAIN:g}, no set losing > {MAX_ANSWERABLE_LOSS:g}): {'taken' if taken else 'not taken'}")
    before_after(fit_paths, report_paths, stand_in_cut, False, True, "answers changed")
    if write is not None:
        saved = json.loads(write.read_text(encoding="utf-8"))
        saved["stand_in_question_cuts"] = (
            {"apply": True, "fitted_on": [str(p) for p in fit_paths],
             "how": "scripts/choose_policy.py --stand-in-question-cuts: the saved question cuts (question_surprise_cut, "
                    "question_gain_cut) also refuse an extractive answer standing in for the model's Chinese factoid "
                    f"answer, taken as the fitting sets' mean balanced rate gained {gain:.2f} (needs "
                    f"{MIN_SCORE_CUT_GAIN:g}) with no set losing more than {MAX_ANSWERABLE_LOSS:g} points of "
                    "answerable right"} if taken else None)
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return 0


# README step 48 (measured, not taken): the question cuts on the model's own answer to a Chinese question of another
# shape than a factoid; each setting is the shapes they would read besides factoids
OPEN_CUT_SHAPES: tuple[tuple[str, ...], ...] = ((), ("open",), ("open", "entity"))


def open_question_cut(row: dict, shapes: tuple[str, ...]) -> tuple[bool, str]:
    """(refused, answer text) as `shipped` answers, and the model's own answer (not the "auto" route's extractive
    fallback) to a Chinese question of one of `shapes` refused by the question cuts at routes.json's values (its
    question's least expected token after the excerpts below the surprise cut, or, outside a conversation, its mean
    gain from them below the gain cut; a row without the readings is not refused: `annotate_surprise.py --open`)."""
    refused, text = shipped(row)
    if refused or text == row["extractive"] or not model_asked(row, shapes):
        return refused, text
    return (True, "") if question_cut(row) else (refused, text)


def model_asked(row: dict, shapes: tuple[str, ...]) -> bool:
    """The model was asked the row's question, a Chinese one of one of `shapes` (as `model_factoid` says for factoids;
    English questions take the extractive route)."""
    return (row.get("reply") is not None and row.get("shape", "factoid") in shapes and "en" not in row.get("tags", ())
            and question_language(row["question"]) == "zh")


def open_cuts_main(fit_paths: list[Path], report_paths: list[Path]) -> int:
    """README step 48: whether the question cuts at routes.json's values should also refuse the model's own answer to a
    Chinese open (or open and entity) question: step 27's rule over OPEN_CUT_SHAPES, no value fitted. Measurement
    only: the product reads no such switch (a round that takes it adds one), so nothing is saved."""
    fits = [load_rows(p) for p in fit_paths]
    require_surprise(fit_paths, fits)
    shapes = set(OPEN_CUT_SHAPES[-1])
    if not any(r.get("shape") in shapes and r.get("question_logprobs") for rows in fits for r in rows):
        raise SystemExit("no open or entity row of the fitting sets has question_logprobs: run "
                         "scripts/annotate_surprise.py --open on them first (without it nothing could move)")
    # setting -i reads OPEN_CUT_SHAPES[i]: with never 0, guarded_choice breaks a tie towards fewer shapes
    settings = [-i for i in range(len(OPEN_CUT_SHAPES))]
    best, _, base, fit_rates, guarded = guarded_choice(fits, settings,
                                                       lambda row, v: open_question_cut(row, OPEN_CUT_SHAPES[-v]),
                                                       never=0)
    names = {0: "factoids only (shipped)", -1: "+ open", -2: "+ open, entity"}
    fit_table(["the question cuts read", "balanced", f"no set loses > {MAX_ANSWERABLE_LOSS:g}"], fit_paths,
              [([names[v], f"{mean_balanced(fit_rates(v)):.2f}", "yes" if guarded(v) else "no"], fit_rates(v))
               for v in settings])
    gain = mean_balanced(fit_rates(best)) - base
    taken = best != 0 and round(gain, 6) >= MIN_SCORE_CUT_GAIN
    print(f"\nbest: {names[best]}, balanced {base + gain:.2f} against {base:.2f} (needs {MIN_SCORE_CUT_GAIN:g}, no set "
          f"losing > {MAX_ANSWERABLE_LOSS:g}): {'would be taken' if taken else 'not taken'}")
    shown = best if best != 0 else settings[-1]
    before_after(fit_paths, report_paths, lambda row, v: open_question_cut(row, OPEN_CUT_SHAPES[-int(v)]), 0, shown,
                 f"answers changed by {names[shown]}", ("shipped", names[shown] + (" (best)" if shown == best else "")))
    return 0


# README step 75 (measured, not taken): the gain from the excerpts of the question's words that the answer's passage
# lacks, a refusal cut after the shipped cascade; the grid written in the rule before any figure
MISSING_GAIN_GRID = [float("-inf"), -1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0]


def missing_gain_of(row: dict) -> tuple[str, float] | None:
    """Step 75's feature of a row: of the question's words missing from the whole passage of the kept sentence with the
    highest claim share (meaning.missing_words over its recorded claim context and passage, step 31's scope), the one
    the excerpts make least more expected, with its mean gain per token (confidence.missing_gain); None where nothing
    is kept, the row lacks either reading or its claim context, or no word is missing."""
    with_excerpts, without = row.get("question_logprobs"), row.get("question_prior_logprobs")
    best = best_kept_of(row)
    if not with_excerpts or not without or best is None or best.get("claim_context") is None:
        return None
    words = missing_words(row["question"], f"{best['claim_context']}\n{best.get('claim_passage') or ''}")
    return missing_gain(row["question"], [tuple(tv) for tv in with_excerpts], [tuple(tv) for tv in without], words)


def missing_gain_cut(row: dict, below: float) -> tuple[bool, str]:
    """(refused, answer text) as `shipped` answers, and the model's own Chinese factoid answer (not handed over, not a
    fallback, not to a follow-up) refused where its question's missing words' gain (`missing_gain_of`) is below
    `below` (-inf: never; a row without the feature is not refused)."""
    refused, text = shipped(row)
    if math.isinf(below) or refused or text == row["extractive"] or not model_factoid(row) or row.get("history"):
        return refused, text
    found = missing_gain_of(row)
    return (True, "") if found is not None and found[1] < below else (refused, text)


def missing_gain_main(fit_paths: list[Path], report_paths: list[Path]) -> int:
    """README step 75: step 27's rule over MISSING_GAIN_GRID for `missing_gain_cut` on the fitting sets, the reporting
    sets printed after. Measurement only: not taken, so the product reads no such cut and nothing is saved."""
    fits = [load_rows(p) for p in fit_paths]
    for path, rows in zip(fit_paths, fits, strict=True):
        if not any(r.get("question_prior_logprobs") for r in rows):
            raise SystemExit(f"{path} has no question_prior_logprobs: run scripts/annotate_surprise.py on it first")
    best, chosen, base, fit_rates, guarded = guarded_choice(fits, MISSING_GAIN_GRID, missing_gain_cut)
    fit_table(["refuse below", "balanced", f"no set loses > {MAX_ANSWERABLE_LOSS:g}"], fit_paths,
              [([f"{g:g}", f"{mean_balanced(fit_rates(g)):.2f}", "yes" if guarded(g) else "no"], fit_rates(g))
               for g in MISSING_GAIN_GRID])
    taken = best != float("-inf") and round(chosen - base, 6) >= MIN_SCORE_CUT_GAIN
    print(f"\nbest: refuse below a missing-word gain of {best:g}, balanced {chosen:.2f} against {base:.2f} never (needs "
          f"{MIN_SCORE_CUT_GAIN:g}, no set losing > {MAX_ANSWERABLE_LOSS:g}): {'would be taken' if taken else 'not taken'}")
    shown = best if best != float("-inf") else MISSING_GAIN_GRID[1]
    before_after(fit_paths, report_paths, missing_gain_cut, float("-inf"), shown, f"answers changed at {shown:g}",
                 ("shipped", f"below {shown:g}" + (" (best)" if shown == best else "")))
    return 0


def require_surprise(fit_paths: list[Path], fits: list[list[dict]]) -> None:
    for path, rows in zip(fit_paths, fits, strict=True):
        if not any(r.get("question_logprobs") for r in rows):
            raise SystemExit(f"{path} has no question_logprobs: run scripts/annotate_surprise.py on it first")


def surprise_waiver_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.waive_claim_surprise on the fitting sets with the saved cuts (step 38's cut as routes.json has it),
    report it, and with `write` save it in routes.json's question_surprise_waiver (null when not taken)."""
    require_model_route(write, "--question-surprise-waiver reads the model's own answers")
    fits = [load_rows(p) for p in fit_paths]
    require_surprise(fit_paths, fits)
    return guarded_cut_main(fit_paths, report_paths, fits, SURPRISE_WAIVER_GRID,
                            lambda row, at: surprise_cut(row, AUTO_POLICY.min_question_logprob, at),
                            "where the question's least expected token has a log-probability of at least",
                            "question_surprise_waiver", "--question-surprise-waiver", write,
                            never=float("inf"), key="at", does="waive the claim cut for the model's own answer")


def model_score_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.model_min_extractive_score on the fitting sets with the saved cuts (rule above), report it on the
    reporting sets, and with `write` save it in routes.json (none when not taken)."""
    require_model_route(write, "--model-score-cut reads the model's own answers")
    return guarded_cut_main(fit_paths, report_paths, [load_rows(p) for p in fit_paths], MODEL_SCORE_GRID, score_cut,
                            "below an extractive logit of", "model_score_cut", "--model-score-cut", write)


# README step 30: the meaning cut, chosen as step 27's score cut is (the same objective, guard and gain), over
# MEANING_GRID (written before the pooled fit: artifacts/r25/rule.md).
MEANING_GRID = [float("-inf"), 0.85, 0.86, 0.865, 0.87, 0.875, 0.88, 0.885, 0.89, 0.9]


def meaning_provenance(paths: list[Path], sets: list[list[dict]], scopes: tuple[str, ...] = ("window",)) -> dict:
    """The one embedder (`meaning_embedder`: name and weights' fingerprint) whose cosines every row the cut reads was
    measured with; exits naming the file where a model factoid's kept sentence has no meaning feature of one of
    `scopes` (the cut would silently skip it) or where the rows disagree on the embedder."""
    seen: dict[tuple[str, str], str] = {}
    for path, rows in zip(paths, sets, strict=True):
        read = [r for r in rows if model_factoid(r) and any(c["kept"] for c in r.get("checked") or [])]
        for scope in scopes:
            bare = sum(missing_meaning_of(r, scope) is None for r in read)
            if bare:
                raise SystemExit(f"{path}: {bare} of its {len(read)} model factoid rows with a kept sentence have no "
                                 f"{MEANING_FIELDS[scope]}; run scripts/study_model.py at this code (the window's: "
                                 "scripts/annotate_meaning.py)")
        for r in read:
            e = r.get("meaning_embedder") or {}
            seen.setdefault((str(e.get("name", "")), str(e.get("fingerprint", ""))), str(path))
    if len(seen) != 1 or not next(iter(seen))[0]:
        found = "; ".join(f"{name or '(none recorded)'} {fp} in {path}" for (name, fp), path in seen.items()) or "none"
        raise SystemExit(f"the fitting rows' missing_meaning must come from one recorded embedder (found: {found}); "
                         "annotate every file again with scripts/annotate_meaning.py")
    name, fingerprint = next(iter(seen))
    return {"name": name, "fingerprint": fingerprint}


def require_cut_embedder(embedder: dict) -> None:
    """Exits where the rows' cosines (`embedder`, from meaning_provenance) are another embedder's than the saved
    meaning cut's: a fit after the cut (the waiver, step 32's cut) reads the cut's feature."""
    cut = (AUTO_POLICY.meaning_embedder, AUTO_POLICY.meaning_fingerprint)
    if cut[0] and (embedder["name"], embedder["fingerprint"]) != cut:
        raise SystemExit(f"the rows' cosines are from {embedder['name']} {embedder['fingerprint']}, the saved meaning "
                         f"cut's from {cut[0]} {cut[1]}: refit the cut on these rows first (--meaning-cut --write)")


def null_later_meaning_fits(write: Path | None, section: str) -> None:
    """In `write` (routes.json), sets to null the meaning sections fitted after `section` (model.MEANING_SECTIONS'
    order: the cut, the waiver, step 32's cut), which were fitted with the old one, and says which to rerun."""
    if write is None:
        return
    saved = json.loads(write.read_text(encoding="utf-8"))
    order = list(MEANING_SECTIONS)
    later = [k for k in order[order.index(section) + 1:] if saved.get(k) is not None]
    if later:
        for k in later:
            saved[k] = None
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"{write}: {' and '.join(later)} set to null (fitted with the old {section.split('_')[-1]}); rerun "
              + " and ".join(f"{MEANING_SECTIONS[k][0]} --write" for k in later))


# README step 31: which scopes --meaning-cut compares (the window of step 30 and the whole passage); the passage is
# taken on a tie within MEANING_SCOPE_TIE balanced points (artifacts/r26/rule.md, written before the fit).
MEANING_SCOPE_TIE = 0.01


def meaning_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None,
                 scopes: tuple[str, ...] = ("window",)) -> int:
    """Choose Policy.min_missing_meaning on the fitting sets with the saved cuts (the rule above) for each of `scopes`,
    the scope with the best guarded balanced rate (the passage on a tie), report it on the reporting sets, and with
    `write` save it in routes.json with the embedder its cosines are from and its scope (none when not taken). The
    meaning waiver and step 32's cut of the extractive stand-in are held at never while the cut is fitted (they are
    fitted after it)."""
    require_model_route(write, "--meaning-cut reads the model's own answers")
    fits = [load_rows(p) for p in fit_paths]
    embedder = meaning_provenance(fit_paths, fits, scopes)
    found = {}
    for scope in scopes:
        def decide_row(row: dict, below: float, scope: str = scope) -> tuple[bool, str]:
            return meaning_cut(row, below, scope, float("inf"), float("-inf"))
        best, chosen, base, _, _ = guarded_choice(fits, MEANING_GRID, decide_row)
        found[scope] = (chosen, decide_row)
        print(f"scope {scope}: best guarded cut {best:g}, balanced {chosen:.2f} (never {base:.2f})")
    scope = max(scopes, key=lambda sc: (round(found[sc][0] + (MEANING_SCOPE_TIE if sc == "passage" else 0.0), 6),
                                        sc == "passage"))
    print(f"scope taken: {scope}\n")
    null_later_meaning_fits(write, "meaning_cut")
    return guarded_cut_main(fit_paths, report_paths, fits, MEANING_GRID, found[scope][1],
                            "where a missing question word's meaning is below", "meaning_cut", "--meaning-cut", write,
                            {"embedder": embedder["name"], "fingerprint": embedder["fingerprint"], "scope": scope,
                             "scope_chosen_from": ", ".join(f"{sc} {found[sc][0]:.2f}" for sc in scopes)
                             + f" (the best guarded balanced rate; the passage on a tie within {MEANING_SCOPE_TIE:g})"})


# README step 31: the meaning waiver of the claim cut, over WAIVER_GRID (1.0: only where no question word is missing),
# chosen by the same objective, guard and gain, ties the higher (it waives less); written before the fit. The order of
# the meaning fits: the cut, this waiver, then step 32's cut of the extractive stand-in (each held at never while an
# earlier one is fitted, and a write nulls the later ones); the fits before step 30 read rows without them
# (`waive_by_meaning` and `block_by_meaning` are applied by `meaning_cut`, hence `shipped`, only).
WAIVER_GRID = [float("inf"), 0.88, 0.89, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 1.0]


def meaning_waiver_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.waive_claim_meaning on the fitting sets with the saved cuts (the meaning cut and its scope as
    routes.json has them), report it, and with `write` save it in routes.json beside the cut (none when not taken)."""
    require_model_route(write, "--meaning-waiver reads the model's own answers")
    fits = [load_rows(p) for p in fit_paths]
    scope = AUTO_POLICY.meaning_scope
    embedder = meaning_provenance(fit_paths, fits, (scope,))
    require_cut_embedder(embedder)

    def decide_row(row: dict, at: float) -> tuple[bool, str]:  # step 32's cut, fitted after this, held at never
        return meaning_cut(row, AUTO_POLICY.min_missing_meaning, scope, at, float("-inf"))

    null_later_meaning_fits(write, "meaning_waiver")
    return guarded_cut_main(fit_paths, report_paths, fits, WAIVER_GRID, decide_row,
                            "where every missing question word's meaning is at least", "meaning_waiver",
                            "--meaning-waiver", write,
                            {"embedder": embedder["name"], "fingerprint": embedder["fingerprint"], "scope": scope},
                            never=float("inf"), key="at", does="waive the claim cut for the model's own answer")


def extractive_meaning_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.min_extractive_meaning (README step 32) on the fitting sets with the saved cuts (the meaning cut,
    its scope and its waiver as routes.json has them) over MEANING_GRID, by step 27's objective, guard and gain, report
    it, and with `write` save it in routes.json beside the cut (none when not taken)."""
    require_model_route(write, "--extractive-meaning-cut reads the extractive answers standing in for the model's")
    fits = [load_rows(p) for p in fit_paths]
    scope = AUTO_POLICY.meaning_scope
    embedder = meaning_provenance(fit_paths, fits, (scope,))
    for path, rows in [*zip(fit_paths, fits, strict=True), *((p, load_rows(p)) for p in report_paths)]:
        bare = sum(extractive_meaning_of(r, scope) is None for r in rows
                   if model_factoid(r) and not r["extractive_refused"] and question_language(r["question"]) == "zh")
        if bare:
            raise SystemExit(f"{path}: {bare} Chinese factoid rows with an extractive answer have no "
                             f"{EXTRACTIVE_MEANING_FIELDS[scope]}; run scripts/study_model.py at this code "
                             "(scripts/rebuild_studies.sh)")
    require_cut_embedder(embedder)

    def decide_row(row: dict, below: float) -> tuple[bool, str]:
        return meaning_cut(row, AUTO_POLICY.min_missing_meaning, scope, None, below)

    return guarded_cut_main(fit_paths, report_paths, fits, MEANING_GRID, decide_row,
                            "where a missing question word's meaning beside it is below", "extractive_meaning_cut",
                            "--extractive-meaning-cut", write,
                            {"embedder": embedder["name"], "fingerprint": embedder["fingerprint"], "scope": scope},
                            does="refuse the extractive answer standing in for the model's")


# README step 33: a Chinese open answer of the model's quotes the sentences it stands on. Taken if, on the fitting sets
# pooled (too few open rows per set for a per-set guard), the open answerable-right rate gains OPEN_QUOTE_GAIN points
# and no set loses more than OPEN_QUOTE_MAX_LOSS right open answers (artifacts/r27/rule.md, written before the fit).
OPEN_QUOTE_GAIN = 2.0
OPEN_QUOTE_MAX_LOSS = 1


def open_quoted(row: dict, quote: bool) -> tuple[bool, str]:
    """(refused, answer text) as the default answers (`shipped`; study_model.py records the "model" answerer's own
    outcome, not the default's), and with `quote` a Chinese open question's answer in the model's words (not refused,
    not the extractive answer) replaced by its quoted supports, as ModelAnswerer.run's quote_support makes them
    (`open_quote`, which study_model.py records with that very function since round 27)."""
    refused, text = shipped(row)
    if (not quote or refused or row.get("reply") is None or text == row["extractive"] or row.get("shape") != "open"
            or question_language(row["question"]) != "zh" or not any(c["kept"] for c in row["checked"])):
        return refused, text
    return False, row["open_quote"]


def open_quotes_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Choose Policy.quote_open on the fitting sets' Chinese open questions (the rule above), report every set, and with
    `write` save it in routes.json (null when not taken)."""
    def open_rows(path: Path) -> list[dict]:
        rows = [r for r in load_rows(path) if r.get("shape") == "open" and question_language(r["question"]) == "zh"]
        bare = sum(r.get("open_quote") is None for r in rows if r.get("reply") is not None
                   and any(c["kept"] for c in r["checked"]))
        if bare:
            raise SystemExit(f"{path}: {bare} Chinese open rows with a kept sentence have no open_quote; run "
                             "scripts/study_model.py at this code (scripts/rebuild_studies.sh)")
        return rows

    print("| set | open answerable | right, model's words | right, quoted | open not answerable refused (either) |")
    print("|---|---|---|---|---|")
    pooled = {False: 0, True: 0}
    answerable_fit, worst = 0, 0
    for path in [*fit_paths, *report_paths]:
        rows = open_rows(path)
        right = {q: sum(r["kind"] == "answerable" and not refused and fair_match(text, r["answers"])
                        for r in rows for refused, text in [open_quoted(r, q)]) for q in (False, True)}
        refusals = {q: sum(r["kind"] != "answerable" and open_quoted(r, q)[0] for r in rows) for q in (False, True)}
        if refusals[False] != refusals[True]:
            raise SystemExit(f"{path}: quoting changed which not-answerable open questions are refused "
                             f"({refusals[False]} -> {refusals[True]}); it must change only the answer's text")
        answerable = sum(r["kind"] == "answerable" for r in rows)
        others = len(rows) - answerable
        if path in fit_paths:
            answerable_fit += answerable
            for q in (False, True):
                pooled[q] += right[q]
            worst = max(worst, right[False] - right[True])
        refused = f"{100 * refusals[False] / others:.1f}" if others else "-"
        print(f"| {'fitting' if path in fit_paths else 'reporting'}: {path.name} | {answerable} | {right[False]} | "
              f"{right[True]} | {refused} |")
    before, after = (100 * pooled[q] / answerable_fit if answerable_fit else 0.0 for q in (False, True))
    taken = after - before >= OPEN_QUOTE_GAIN - 1e-9 and worst <= OPEN_QUOTE_MAX_LOSS
    print(f"\nfitting sets pooled: {answerable_fit} open answerable, right {before:.1f} with the model's words, {after:.1f} "
          f"quoted (needs +{OPEN_QUOTE_GAIN:g}; the worst set loses {worst}, at most {OPEN_QUOTE_MAX_LOSS}): "
          f"{'taken' if taken else 'not taken'}")
    if write is not None:
        saved = json.loads(write.read_text(encoding="utf-8"))
        saved["open_quotes"] = ({"quote": True, "fitted_on": [str(p) for p in fit_paths],
                                 "how": f"scripts/choose_policy.py --open-quotes: the fitting sets' Chinese open "
                                        f"answerable-right rate, pooled, gains {OPEN_QUOTE_GAIN:g} points and no set "
                                        f"loses more than {OPEN_QUOTE_MAX_LOSS} right open answer",
                                 "right": f"{before:.1f} -> {after:.1f} of {answerable_fit}"}
                                if taken else None)
        write.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {write}")
    return 0


def handed_over(row: dict) -> bool:
    """The shipped default gives the extractive answer where the model's own answer stood: step 16's hand-over."""
    refused, text = shipped(row)
    own = extractive_typed(row, 0.0)
    return not refused and text == row["extractive"] and not misread(row) and own != (refused, text)


def on_same_sentence(row: dict) -> bool:
    """The extractive answer quotes the sentence the model's best kept claim stands on (its `claim_sentence`)."""
    kept = [c for c in row["checked"] if c["kept"]]
    if not kept:
        return False
    sentence = (max(kept, key=lambda c: c["claim_coverage"]).get("claim_sentence") or "").strip()
    extractive = strip_markers(row["extractive"]).strip()
    return bool(sentence) and bool(extractive) and (sentence in extractive or extractive in sentence)


def same_sentence_only(row: dict) -> tuple[bool, str]:
    """The hand-over only where the extractive answer is the sentence the model's answer stands on."""
    return extractive_typed(row, 0.0) if handed_over(row) and not on_same_sentence(row) else shipped(row)


def gated_hand_over(row: dict, gate: float) -> tuple[bool, str]:
    """The hand-over only where the model read the extractive answer's sentence as answering at `gate` or more
    (`extractive_reading`, recorded for these rows by study_model.py --read-extractive-below)."""
    reading = row.get("extractive_reading")
    if handed_over(row) and (reading is None or reading < gate):
        return extractive_typed(row, 0.0)
    return shipped(row)


def wider_fallback(row: dict, at: float, reading_at: float) -> tuple[bool, str]:
    """The fallback at (`at`, `reading_at`) for a misread reply and for a Chinese factoid reply a cut withheld (not one
    the model refused in words: none of round 21's fitting rows has one, so that scope cannot be measured there)."""
    return fallen_back(row, at, reading_at, withheld=True)


def variants_main(fit_paths: list[Path], report_paths: list[Path]) -> int:
    """Report every variant's balanced rate on the fitting sets against the shipped rule, whether each family's best
    beats it (the reading gate by MIN_READING_GAIN), and on every set the shipped rule, the same-sentence hand-over,
    every reading gate and the wider fallback's best rule. Needs rows read in routes.json's reading form."""
    require_model_route(None, "--hand-over-variants reads the hand-over and the fallback")
    require_form([*fit_paths, *report_paths], AUTO_POLICY.reading_form, "the saved reading check (routes.json)")
    fits = [load_rows(p) for p in fit_paths]
    rules: list[tuple[str, object]] = [("shipped", shipped), ("same sentence only", same_sentence_only)]
    rules += [(f"hand-over read >= {g:g}", functools.partial(gated_hand_over, gate=g))
              for g in FALLBACK_READING_GRID if g > 0]
    rules += [(f"fallback withheld, logit >= {a:g}, read >= {g:g}", functools.partial(wider_fallback, at=a, reading_at=g))
              for a in UNSUPPORTED_GRID if a != float("inf") for g in FALLBACK_READING_GRID]
    score = {name: mean_balanced([rates(rows, rule) for rows in fits]) for name, rule in rules}  # type: ignore[arg-type]
    base = score["shipped"]
    print("| variant | balanced on the fitting sets |\n|---|---|")
    for name, _ in rules:
        print(f"| {name} | {score[name]:.2f} |")
    shown = {"shipped", "same sentence only"} | {n for n, _ in rules if n.startswith("hand-over read")}
    for family in ("same sentence only", "hand-over read", "fallback withheld"):
        best = max((n for n, _ in rules if n.startswith(family)), key=lambda n: round(score[n], 6))
        gain = round(score[best] - base, 6)
        taken = gain >= MIN_READING_GAIN if family == "hand-over read" else gain > 0
        shown.add(best)
        print(f"{family}: best {best} ({score[best]:.2f} against the shipped {base:.2f}): "
              f"{'beats' if taken else 'does not beat'} the shipped rule")
    print("\n| set | rule | answerable right | not answerable refused | answerable refused |\n|---|---|---|---|---|")
    for path in [*fit_paths, *report_paths]:
        rows = load_rows(path)
        for name, rule in rules:
            if name in shown:
                r = rates(rows, rule)  # type: ignore[arg-type]
                print(f"| {path.name} | {name} | {r['answerable']:.1f} | {r['refused']:.1f} | {r['wrong_refusal']:.1f} |")
    return 0


# README step 71: a learned waiver of the claim cut in place of the reading waiver (rag/answering/waiver.py): one
# logistic over the measures the default has where a Chinese factoid answer of the model falls below the claim cut,
# fitted on the fitting sets' rows where that waiver decides, each fitting set scored by the logistic of the others
# (leave one set out); the probability at which it waives chosen over LEARNED_WAIVER_GRID by guarded_choice's rule
# against the shipped cascade, taken if it gains MIN_SCORE_CUT_GAIN (written before any figure:
# artifacts/r46/rule.md).
LEARNED_WAIVER_GRID = [float("inf"), 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]


def kept_sentences(row: dict) -> list[dict]:
    return [c for c in row.get("checked") or [] if c["kept"]]


def waiver_measures(row: dict) -> dict[str, float | None]:
    """The learned waiver's measures of a study row (waiver.FEATURES), as ModelAnswerer.run takes them."""
    kept = kept_sentences(row)
    return {"reading": row.get("reading"),
            "claim": max((c.get("claim_coverage", 1.0) for c in kept), default=0.0),
            "confidence": (row.get("confidence") or {}).get(AUTO_POLICY.confidence_statistic),
            "score": logit(row),
            "meaning": missing_meaning_of(row, AUTO_POLICY.meaning_scope),
            "surprise": question_surprise_of(row)}


def waiver_decides(row: dict) -> bool:
    """The row is one the claim-cut waiver decides in the product: the model's Chinese factoid answer with a kept
    sentence, not "not found", at or above the confidence cut, below the claim cut, its reading made."""
    if not model_factoid(row) or question_language(row["question"]) != "zh" or row["model_refused"]:
        return False
    kept = kept_sentences(row)
    conf = (row.get("confidence") or {}).get(AUTO_POLICY.confidence_statistic)
    return (bool(kept) and (conf is None or conf >= AUTO_POLICY.min_confidence) and row.get("reading") is not None
            and max(c.get("claim_coverage", 1.0) for c in kept) < AUTO_POLICY.min_claim_coverage)


def waiver_label(row: dict) -> int:
    """1 where the kept answer is right (an answerable question, a gold inside it), else 0."""
    text = "".join(c["text"] for c in kept_sentences(row))
    return int(row["kind"] == "answerable" and fair_match(text, row["answers"]))


def fit_learned_waiver(sets: list[list[dict]], at: float = 0.5) -> LearnedWaiver:
    """The logistic (standardized measures, L2, C=1, classes balanced) fitted on the rows of `sets` the waiver
    decides; a measure not taken reads as its mean."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rows = [r for rows in sets for r in rows if waiver_decides(r)]
    labels = [waiver_label(r) for r in rows]
    if len(set(labels)) < 2:
        raise SystemExit(f"the learned waiver needs right and other rows below the claim cut; the fitting rows have "
                         f"{len(rows)}, all labelled {labels[0] if labels else '-'}")
    raw = np.array([[np.nan if v is None else v for v in
                     (clipped(n, waiver_measures(r)[n]) for n in WAIVER_FEATURES)] for r in rows], dtype=float)
    taken = ~np.isnan(raw)
    means = np.array([raw[taken[:, j], j].mean() if taken[:, j].any() else 0.0 for j in range(raw.shape[1])])
    scales = np.array([raw[taken[:, j], j].std() if taken[:, j].any() else 1.0 for j in range(raw.shape[1])])
    scales[~(scales > 0)] = 1.0
    z = np.where(np.isnan(raw), 0.0, (raw - means) / scales)
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(z, labels)
    return LearnedWaiver(tuple(float(m) for m in means), tuple(float(s) for s in scales),
                         tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]), at)


def with_waiver_probability(rows: list[dict], waiver: LearnedWaiver) -> list[dict]:
    """The rows with `_waiver_p`, the waiver's probability, on those it decides."""
    return [{**r, "_waiver_p": waiver.probability(waiver_measures(r))} if waiver_decides(r) else r for r in rows]


def saved_learned_waiver(row: dict) -> bool | None:
    """Whether routes.json's learned waiver (step 71) keeps the row's answer below the claim cut (None where none is
    saved: the reading waiver decides), as ModelAnswerer.run decides it."""
    waiver = AUTO_POLICY.learned_waiver
    if waiver is None:
        return None
    return waiver_decides(row) and waiver.probability(waiver_measures(row)) >= waiver.at


def learned_waived(row: dict, at: float) -> tuple[bool, str]:
    """(refused, answer text) as `shipped` answers, with the reading waiver replaced by the learned one at `at` (inf:
    the shipped cascade, reading waiver and all): the reading is dropped from the row (it is read by the reading
    waiver alone while min_reading is 0) and the row marked `claim_waived` where `_waiver_p` reaches `at`."""
    if math.isinf(at):
        return shipped(row)
    if AUTO_POLICY.min_reading > 0.0:
        raise SystemExit("--learned-waiver replaces the reading waiver only while routes.json's min_reading is 0")
    marked = {**row, "reading": None}
    if row.get("_waiver_p") is not None and row["_waiver_p"] >= at:
        marked["claim_waived"] = True
    return shipped(marked)


def auc(scores: list[float], labels: list[int]) -> float:
    """The probability that a right row scores above another (ties half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return float("nan")
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def learned_waiver_main(fit_paths: list[Path], report_paths: list[Path], write: Path | None = None) -> int:
    """Fit the learned waiver (rule above), print the fitting table (leave one set out), the choice and every set's
    rates before and after, and with `write` save it in routes.json's learned_waiver (null when not taken)."""
    require_model_route(write, "--learned-waiver reads the model's own answers")
    if AUTO_POLICY.learned_waiver is not None:
        raise SystemExit(f"{ROUTES_FILE} saves a learned waiver already; --learned-waiver fits one against the reading "
                         "waiver: write learned_waiver: null there first")
    require_form([*fit_paths, *report_paths], AUTO_POLICY.reading_form, "the saved reading check (routes.json)")
    fits = [load_rows(p) for p in fit_paths]
    require_surprise(fit_paths, fits)
    crossed = [with_waiver_probability(rows, fit_learned_waiver([f for j, f in enumerate(fits) if j != i]))
               for i, rows in enumerate(fits)]
    whole = fit_learned_waiver(fits)
    reports = [with_waiver_probability(load_rows(p), whole) for p in report_paths]
    print("the learned waiver fitted on every fitting set (standardized weights):")
    print("  " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(WAIVER_FEATURES, whole.weights, strict=True))
          + f", bias {whole.bias:+.2f}")
    for name, sets in (("fitting (left-out scores)", crossed), ("reporting", reports)):
        rows = [r for rows in sets for r in rows if waiver_decides(r)]
        if rows:
            labels = [waiver_label(r) for r in rows]
            print(f"{name}: {len(rows)} rows below the claim cut ({sum(labels)} right); AUC learned "
                  f"{auc([r['_waiver_p'] for r in rows], labels):.3f}, reading alone "
                  f"{auc([r['reading'] for r in rows], labels):.3f}")
    best, chosen, base, fit_rates, guarded = guarded_choice(crossed, LEARNED_WAIVER_GRID, learned_waived,
                                                            float("inf"))
    print()
    fit_table(["waive at", "balanced", f"no set loses > {MAX_ANSWERABLE_LOSS:g}"], fit_paths,
              [([f"{b:g}", f"{mean_balanced(fit_rates(b)):.2f}", "yes" if guarded(b) else "no"], fit_rates(b))
               for b in LEARNED_WAIVER_GRID])
    taken = not math.isinf(best) and round(chosen - base, 6) >= MIN_SCORE_CUT_GAIN
    print(f"\nchosen: waive the claim cut at a learned probability of {best:g} (balanced {chosen:.2f} against "
          f"{base:.2f} shipped, left-out scores; needs {MIN_SCORE_CUT_GAIN:g}): {'taken' if taken else 'not taken'}")
    # the rates beside the shipped cascade's at the choice, or where none is taken at the best guarded probability
    finite = [v for v in LEARNED_WAIVER_GRID if not math.isinf(v) and guarded(v)]
    shown = best if not math.isinf(best) or not finite else max(finite, key=lambda v: mean_balanced(fit_rates(v)))
    print("\n| set | rule | answerable right | not answerable refused | answerable refused | answers changed |")
    print("|---|---|---|---|---|---|")
    for role, paths, sets in (("fitting", fit_paths, crossed), ("reporting", report_paths, reports)):
        for path, rows in zip(paths, sets, strict=True):
            for name, value in (("shipped", float("inf")), (f"learned at {shown:g}", shown)):
                r = rates(rows, lambda row, v=value: learned_waived(row, v))
                moved = sum(learned_waived(row, value) != shipped(row) for row in rows)
                print(f"| {role}: {path.name} | {name} | {r['answerable']:.1f} | {r['refused']:.1f} | "
                      f"{r['wrong_refusal']:.1f} | {moved} |")
    if write is not None:
        save_section(write, "learned_waiver",
                     {**replace(whole, at=best).to_json(), "fitted_on": [str(p) for p in fit_paths],
                      "how": "scripts/choose_policy.py --learned-waiver: a logistic over the measures below the claim "
                             "cut, fitted on the fitting sets' rows; the probability chosen on left-out scores by the "
                             "best mean of answerable-right and unanswerable-refused rates, no set losing more than "
                             f"{MAX_ANSWERABLE_LOSS:g} points of answerable right, taken if it gains "
                             f"{MIN_SCORE_CUT_GAIN:g} over the reading waiver"}
                     if taken else None)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("fit", type=Path, nargs="+")
    ap.add_argument("--report", type=Path, action="append", default=[])
    ap.add_argument("--claim-cut", action="store_true",
                    help="choose the default's factoid claim cut (Policy.min_claim_coverage) on the fitting sets")
    ap.add_argument("--write", type=Path, help="with --claim-cut: save the choice (rag/answering/routes.json)")
    ap.add_argument("--claim-field", default="claim_coverage",
                    help="with --claim-cut: the study's measure to cut on (claim_coverage_soft: a variant)")
    ap.add_argument("--confidence", action="store_true",
                    help="choose the claim cut with the model's confidence cuts (study rows from --token-probs)")
    ap.add_argument("--max-answerable-refused", type=float, default=None, metavar="PERCENT",
                    help="with --confidence: only rules refusing at most PERCENT of each fitting set's answerable "
                         "questions")
    ap.add_argument("--english-standing", action="store_true",
                    help="choose model.json's cross_language_standing (the extractive answerer's bar for English "
                         "questions over Chinese text) on the English questions of the study files; --write "
                         "rag/answering/model.json saves it")
    ap.add_argument("--reading", action="store_true",
                    help="choose the reading check's cuts (Policy.waive_claim_reading, and Policy.min_reading where "
                         "every factoid was read) with the saved claim and confidence cuts (study rows from "
                         "--reading-below; 2 reads every factoid)")
    ap.add_argument("--waiver-only", action="store_true",
                    help="with --reading: fit the waiver cut only, no refusal cut (which reads every Chinese factoid: "
                         "about 2 s more per answer, README step 19)")
    ap.add_argument("--prefer-extractive", action="store_true",
                    help="choose the confidence below which a Chinese factoid the model answered is answered by the "
                         "extractive answerer instead (Policy.prefer_extractive_below), with the saved cuts (study rows "
                         "from --token-probs)")
    ap.add_argument("--unsupported-fallback", action="store_true",
                    help="choose the extractive answer logit at which a Chinese factoid reply with no supported "
                         "sentence is answered by the extractive answerer instead (Policy.unsupported_fallback_score), "
                         "with the saved cuts")
    ap.add_argument("--pick", action="store_true",
                    help="choose the pick's refusal cut (Policy.pick_none_at) for English questions over Chinese text, "
                         "on scripts/study_pick.py's rows")
    ap.add_argument("--untranslated", type=Path, nargs="+", default=None,
                    help="with --pick on rows searched in translation (study_pick.py --translate): the same studies "
                         "searched as asked; the translation is saved only if it beats them by MIN_TRANSLATE_GAIN")
    ap.add_argument("--answer-type", action="store_true",
                    help="report whether the answer-type check (question.missing_answer_type) should refuse the model's "
                         "own Chinese factoid answers too, with the saved cuts (README step 24); nothing is saved")
    ap.add_argument("--rival", action="store_true",
                    help="report whether the model's own Chinese factoid answers should be withheld where their sentence "
                         "names a rival of the question's subject (rival.rival_subject, README step 83), with the saved "
                         "cuts; nothing is saved")
    ap.add_argument("--answer-name", action="store_true",
                    help="report whether the model's own Chinese factoid answers should be withheld where their question "
                         "asks a person, place or thing and they give a time or number alone (question."
                         "only_value_for_name, README step 84), with the saved cuts; nothing is saved")
    ap.add_argument("--contrast", action="store_true",
                    help="report what the contrast check (contrast.contrast_swap, README step 89: an answer speaking of "
                         "the other side of a contrast the question asks about, 月活 for 日活) changes on the pool; "
                         "nothing is saved")
    ap.add_argument("--hand-over-variants", action="store_true",
                    help="report the hand-over and fallback variants of README step 25 against the shipped rule (the "
                         "hand-over only onto the model's own sentence, a reading gate on it, the fallback for withheld "
                         "replies too); nothing is saved")
    ap.add_argument("--question-surprise-cut", action="store_true",
                    help="choose the log-probability of the question's least expected token after the excerpts below "
                         "which the model's own Chinese factoid answer is refused (Policy.min_question_logprob, README "
                         "step 38); rows from scripts/annotate_surprise.py")
    ap.add_argument("--question-gain-cut", action="store_true",
                    help="choose the mean gain in log-probability per question token from the excerpts below which the "
                         "model's own Chinese factoid answer is refused (Policy.min_question_gain, README step 46); "
                         "rows from scripts/annotate_surprise.py")
    ap.add_argument("--stand-in-question-cuts", action="store_true",
                    help="whether the saved question cuts (surprise, gain) also refuse an extractive answer standing in "
                         "for the model's Chinese factoid answer (Policy.question_cuts_stand_in, README step 47); rows "
                         "from scripts/annotate_surprise.py")
    ap.add_argument("--open-question-cuts", action="store_true",
                    help="whether the saved question cuts (surprise, gain) should also refuse the model's own answer to a "
                         "Chinese open (or open and entity) question (README step 48: measured, nothing saved); rows "
                         "from scripts/annotate_surprise.py --open")
    ap.add_argument("--missing-gain-cut", action="store_true",
                    help="whether to refuse the model's own Chinese factoid answer where the question's words missing "
                         "from its passage gain too little from the excerpts (README step 75: measured, nothing saved); "
                         "rows from scripts/annotate_surprise.py")
    ap.add_argument("--question-surprise-waiver", action="store_true",
                    help="choose the log-probability of the question's least expected token after the excerpts at or "
                         "above which the claim cut is waived for the model's own Chinese factoid answer "
                         "(Policy.waive_claim_surprise, README step 39); rows from scripts/annotate_surprise.py")
    ap.add_argument("--model-score-cut", action="store_true",
                    help="choose the extractive answer logit below which the model's own Chinese factoid answer is "
                         "refused (Policy.model_min_extractive_score, README step 27), with the saved cuts")
    ap.add_argument("--meaning-cut", action="store_true",
                    help="choose the cosine below which the model's own Chinese factoid answer is refused when a question "
                         "word missing beside its support has no word of like meaning there (Policy.min_missing_meaning, "
                         "README step 30), with the saved cuts; rows need missing_meaning (scripts/annotate_meaning.py)")
    ap.add_argument("--meaning-scope", choices=["window", "passage", "both"], default="window",
                    help="with --meaning-cut: where a question word counts as missing (README step 31); both: fit each "
                         "and take the better (the passage on a tie)")
    ap.add_argument("--meaning-waiver", action="store_true",
                    help="choose the cosine at which every question word missing beside the support having a word of "
                         "like meaning there waives the claim cut (Policy.waive_claim_meaning, README step 31), with the "
                         "saved cuts")
    ap.add_argument("--extractive-meaning-cut", action="store_true",
                    help="choose the cosine below which the extractive answer may not stand in for the model's on a "
                         "Chinese factoid (hand-over, fallback) when a question word missing beside its sentence has no "
                         "word of like meaning there (Policy.min_extractive_meaning, README step 32), with the saved "
                         "cuts; rows from scripts/study_model.py since round 27")
    ap.add_argument("--learned-waiver", action="store_true",
                    help="fit a logistic waiver of the claim cut over the measures below it, in place of the reading "
                         "waiver (README step 71), from rows with readings and question_logprobs")
    ap.add_argument("--open-quotes", action="store_true",
                    help="choose whether a Chinese open answer of the model's quotes the passage sentences it stands on "
                         "(Policy.quote_open, README step 33), from the recorded answers")
    args = ap.parse_args(argv)
    if args.learned_waiver:
        return learned_waiver_main(args.fit, args.report, args.write)
    if args.open_quotes:
        return open_quotes_main(args.fit, args.report, args.write)
    if args.extractive_meaning_cut:
        return extractive_meaning_main(args.fit, args.report, args.write)
    if args.meaning_cut:
        scopes = ("window", "passage") if args.meaning_scope == "both" else (args.meaning_scope,)
        return meaning_main(args.fit, args.report, args.write, scopes)
    if args.meaning_waiver:
        return meaning_waiver_main(args.fit, args.report, args.write)
    if args.model_score_cut:
        return model_score_main(args.fit, args.report, args.write)
    if args.question_surprise_cut:
        return surprise_main(args.fit, args.report, args.write)
    if args.question_surprise_waiver:
        return surprise_waiver_main(args.fit, args.report, args.write)
    if args.question_gain_cut:
        return gain_main(args.fit, args.report, args.write)
    if args.stand_in_question_cuts:
        return stand_in_main(args.fit, args.report, args.write)
    if args.open_question_cuts:
        if args.write is not None:
            ap.error("--open-question-cuts saves nothing (measured, not taken: README step 48); drop --write")
        return open_cuts_main(args.fit, args.report)
    if args.missing_gain_cut:
        if args.write is not None:
            ap.error("--missing-gain-cut saves nothing (measured, not taken: README step 75); drop --write")
        return missing_gain_main(args.fit, args.report)
    if args.hand_over_variants:
        return variants_main(args.fit, args.report)
    if args.answer_type:
        return answer_type_main(args.fit, args.report)
    if args.rival:
        return rival_main(args.fit, args.report)
    if args.answer_name:
        return name_main(args.fit, args.report)
    if args.contrast:
        return contrast_main(args.fit, args.report)
    if args.pick:
        return pick_main(args.fit, args.report, args.write, args.untranslated)
    if args.waiver_only and not args.reading:
        ap.error("--waiver-only goes with --reading (it fits the reading check's waiver alone)")
    if args.prefer_extractive:
        return prefer_main(args.fit, args.report, args.write)
    if args.unsupported_fallback:
        return unsupported_main(args.fit, args.report, args.write)
    if args.english_standing:
        return english_main(args.fit, args.report, args.write)
    if args.reading:
        return reading_main(args.fit, args.report, args.write, args.waiver_only)
    if args.max_answerable_refused is not None and not args.confidence:
        ap.error("--max-answerable-refused bounds the --confidence choice; add --confidence")
    if args.confidence:
        return confidence_main(args.fit, args.report, args.write, args.max_answerable_refused)
    if args.claim_cut:
        return claim_main(args.fit, args.report, args.write, args.claim_field)
    args.fit = args.fit[0]
    fit = load_rows(args.fit)
    lines = table(fit)
    show(f"fitting set: {args.fit} ({len(fit)} questions)", lines)
    allowed = [ln for ln in lines[1:] if ln[1]["wrong_refusal"] <= 100 * MAX_WRONG_REFUSALS]
    best = max(allowed or lines[1:], key=lambda ln: (ln[1]["answerable"] + ln[1]["absent"] + ln[1]["adversarial"]) / 3)
    print(f"\nchosen on {args.fit.name} (at most {100 * MAX_WRONG_REFUSALS:.0f}% of answerable refused): {best[0]}")
    for path in args.report:
        rows = load_rows(path)
        shown = table(rows)
        show(f"reporting set: {path} ({len(rows)} questions)",
             [shown[0], *[ln for ln in shown if ln[0] in (best[0], MODEL_ONLY)]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
