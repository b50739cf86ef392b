"""README step 55: whether the extractive answerer should check a Chinese question's anchors (its numbers, years,
Latin-script names, quoted titles, people's names: support.question_anchors) in the passage of its answer's sentence,
as the model's answers and an extractive stand-in on the model's route already must (`checked_extractive`). No model
call: each case is answered once by the extractive answerer as shipped, and the row records what the check would say.

    python scripts/study_anchors.py --dataset ../shared/datasets/drcd_dev.json --t2s --questions 300 --absent 150 \
        --adversarial 150 --noun-swaps 150 --out anchors-drcd-dev.jsonl
    python scripts/study_anchors.py --choose anchors-drcd-dev.jsonl --report anchors-cmrc.jsonl

The cases are scripts/study_model.py's (`dataset_cases`): answerable questions, the same with a year, number or name
swapped for one the paragraph lacks ("adversarial"), with a noun swapped ("noun"), and questions whose paragraph is not
indexed ("absent"). Rule written before the figures (artifacts/r40/rule.md): the check is taken where, on the fitting
rows, balanced (answerable right + the unanswerable kinds' mean refusal, halved) gains MIN_GAIN and answerable right
loses at most MAX_LOSS points.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from study_model import dataset_cases  # noqa: E402

from rag.answering.claim import cited_claim_share  # noqa: E402
from rag.answering.features import question_terms  # noqa: E402
from rag.answering.meaning import WordVectors, scope_text, weakest_word  # noqa: E402
from rag.answering.own_meaning import CLAIM_SECTION as OWN_CLAIM_SECTION  # noqa: E402
from rag.answering.own_meaning import SECTION as OWN_MEANING_SECTION  # noqa: E402
from rag.answering.own_meaning import load_own_meaning_cut  # noqa: E402
from rag.answering.support import (  # noqa: E402
    NAME_READING,
    PLACE_MIN_CHARS,
    anchors_missing,
    document_lead,
    passage_text,
    question_anchors,
    question_glued,
    question_places,
)
from rag.chat import Engine  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.evaluation.metrics import fair_match  # noqa: E402
from rag.indexer import empty_index  # noqa: E402

KINDS = ("answerable", "adversarial", "noun", "absent")
MIN_GAIN, MAX_LOSS = 0.5, 2.0
MAX_KIND_LOSS = 1.0  # README step 56: no unanswerable kind may lose more than this under another names reading


def study(args: argparse.Namespace) -> int:
    cases, documents = dataset_cases(args, random.Random(0))
    # the extractive answerer as it was before step 55 (each row records what the check would say), whatever the
    # environment or the saved default says
    config = Config.from_env(extractive_anchors=False)
    embedder = load_embedder(config, progress=lambda m: print(m, file=sys.stderr))
    engine = Engine(config, Path(tempfile.mkdtemp(prefix="anchors-index-")), embedder, empty_index(embedder))
    engine.add_documents(documents)
    print(f"{len(cases)} cases over {len(documents)} documents", file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        for case in cases:
            answer = engine.ask(case["question"], answerer="extractive")
            hit = answer.citations[0].hit if not answer.refused and answer.citations else None
            # where the check looks (the first cited passage with its title, and its document's lead), kept so a
            # reading of the question's names is judged later on the same answers (--names, README step 56)
            passage, lead = (passage_text(hit), document_lead(engine.index, hit)) if hit else ("", "")
            # "missing" as step 55 measured it (names as jieba tags them), so its figures rebuild whatever the default
            missing = anchors_missing(question_anchors(case["question"], "tagged"), passage, lead) if hit else []
            kind = "noun" if case["id"].endswith("-noun") else case["kind"]  # dataset_cases calls both swaps adversarial
            # README step 72: the share of the question's word weight beside the cited sentence (its neighbours and the
            # title), as the model route asks of an extractive stand-in; for a factoid answer only
            share = (cited_claim_share(question_terms(case["question"], "", engine.index), engine.index,
                                       answer.citations[0], case["question"]) if hit and answer.kind == "factoid" else None)
            claim = round(share, 4) if share is not None else None
            f.write(json.dumps({**case, "kind": kind, "answer": answer.text, "refused": answer.refused,
                                "right": (not answer.refused) and fair_match(answer.text, case["answers"]),
                                "anchors": sorted(question_anchors(case["question"], "tagged")), "missing": missing,
                                "cited": hit is not None, "passage": passage, "lead": lead, "claim": claim},
                               ensure_ascii=False) + "\n")
    return 0


def missing_read(row: dict, reading: str | None, places: int = 0, tags: frozenset[str] = frozenset({"ns"})) -> list[str]:
    """The anchors the row's cited passage lacks: as recorded (`reading` None), or with the question's names read
    as `reading` says (support.NAME_READINGS) and its places of `places` characters or more among them (0: none;
    README step 58; of jieba's `tags`, step 59), on the passage and lead the row recorded."""
    if reading is None:
        return row["missing"]
    if "passage" not in row:
        raise SystemExit(f"row {row['id']} has no recorded passage: --names and --places need rows made by this "
                         "script since README step 56 (make them again with --dataset ... --out)")
    if not row["cited"]:
        return []
    anchors = question_anchors(row["question"], reading)
    found = question_places(row["question"], places, anchors, tags, reading)
    glued = question_glued(row["question"], anchors, found, reading)
    return anchors_missing(anchors, row["passage"], row["lead"], found, glued)


def rates(rows: list[dict], checked: bool, reading: str | None = None, places: int = 0,
          tags: frozenset[str] = frozenset({"ns"})) -> dict[str, float]:
    """Per kind, percent: answerable right, the others refused; answered with the check (`checked`) or without,
    the question's names read as `reading` says (None: as the rows recorded), its places as `places` says."""
    return rates_where(rows, lambda r: bool(checked and missing_read(r, reading, places, tags)))


def rates_where(rows: list[dict], refuses: Callable[[dict], bool]) -> dict[str, float]:
    """Per kind, percent: answerable right, the others refused, where a check refuses the rows `refuses` says."""
    out: dict[str, float] = {}
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        lacks = [refuses(r) for r in mine]
        if kind == "answerable":
            out[kind] = 100 * sum(r["right"] and not x for r, x in zip(mine, lacks, strict=True)) / len(mine)
        else:
            out[kind] = 100 * sum(r["refused"] or x for r, x in zip(mine, lacks, strict=True)) / len(mine)
    return out


def balanced(per: dict[str, float]) -> float:
    refused = [v for k, v in per.items() if k != "answerable"]
    return (per["answerable"] + sum(refused) / len(refused)) / 2


def table(title: str, rows: list[dict], what: str, lines: list[tuple[str, dict[str, float]]]) -> None:
    """A markdown table of per-kind rates (`rates`), one line a variant, with the balanced mean."""
    counts = {k: sum(r["kind"] == k for r in rows) for k in KINDS}
    print(f"\n{title}\n| {what} | " + " | ".join(f"{k} (n={counts[k]})" for k in KINDS) + " | balanced |")
    print("|---|" + "---|" * (len(KINDS) + 1))
    for name, per in lines:
        print(f"| {name} | " + " | ".join(f"{per[k]:.1f}" if k in per else "-" for k in KINDS)
              + f" | {balanced(per):.2f} |")


def show(title: str, rows: list[dict]) -> None:
    table(title, rows, "extractive answerer", [("as shipped", rates(rows, False)), ("anchors checked", rates(rows, True))])


STEP56_READINGS = ("tagged", "strip", "retag")  # the readings step 56's rule compared (step 60's "passage" has --glue)


def show_readings(title: str, rows: list[dict]) -> None:
    table(title, rows, "names read (check on)", [(reading, rates(rows, True, reading)) for reading in STEP56_READINGS])


def choose_reading(rows: list[dict], shipped: str = "tagged") -> str:
    """README step 56's rule (artifacts/r41/rule.md): the other reading with the higher balanced mean is taken if
    its balanced mean is above the shipped reading's, its answerable right is higher, and no unanswerable kind loses
    more than MAX_KIND_LOSS points."""
    base = rates(rows, True, shipped)
    others = sorted((r for r in STEP56_READINGS if r != shipped), key=lambda r: -balanced(rates(rows, True, r)))
    best = others[0]
    per = rates(rows, True, best)
    ok = (balanced(per) > balanced(base) + 1e-9 and per["answerable"] > base["answerable"] + 1e-9
          and all(per[k] >= base[k] - MAX_KIND_LOSS - 1e-9 for k in per if k != "answerable"))
    return best if ok else shipped


# README step 58 (artifacts/r41/rule.md): places among the question's anchors, names read as shipped since step 56
PLACE_VARIANTS = (0, 3, 2)  # no places (as shipped), places of 3+ characters, of 2+
PLACE_MIN_GAIN, PLACE_MAX_LOSS = 0.5, 1.0


def show_places(title: str, rows: list[dict], reading: str = "strip") -> None:
    table(title, rows, "places (check on)", [("none (before step 58)" if not least else f"{least}+ characters",
                                             rates(rows, True, reading, least)) for least in PLACE_VARIANTS])


def choose_places(rows: list[dict], reading: str = "strip") -> int:
    """Step 58's rule: the variant with the higher balanced mean is taken if it gains PLACE_MIN_GAIN over no places and
    answerable right loses at most PLACE_MAX_LOSS points; 0 (no places) otherwise."""
    return best_taken(0, {least: rates(rows, True, reading, least) for least in PLACE_VARIANTS})


# README step 59 (artifacts/r41/rule.md): jieba's organisations (nt) and other proper nouns (nz) read as step 58 reads
# places, 3+ characters, against the shipped places alone
TAG_VARIANTS = {"places (as shipped)": frozenset({"ns"}), "and organisations": frozenset({"ns", "nt"}),
                "and other proper nouns": frozenset({"ns", "nt", "nz"})}


def tag_rates(rows: list[dict], tags: frozenset[str]) -> dict[str, float]:
    return rates(rows, True, "strip", 3, tags)


def show_tags(title: str, rows: list[dict]) -> None:
    table(title, rows, "names of 3+ characters (check on)",
          [(name, tag_rates(rows, tags)) for name, tags in TAG_VARIANTS.items()])


def choose_tags(rows: list[dict]) -> str:
    """Step 59's rule: the variant with the higher balanced mean is taken if it gains PLACE_MIN_GAIN over the shipped
    places and answerable right loses at most PLACE_MAX_LOSS points; the shipped places otherwise."""
    return best_taken("places (as shipped)", {name: tag_rates(rows, tags) for name, tags in TAG_VARIANTS.items()})


# README step 60 (artifacts/r41/rule.md): the passage decides a glued name's or place's glue ("passage"), against the
# glue read off before the check ("strip", shipped by steps 56 and 58); taken unless balanced falls more than this
GLUE_MAX_LOSS = 0.5


def show_glue(title: str, rows: list[dict]) -> None:
    table(title, rows, "glue read (places 3+)", [(reading, rates(rows, True, reading, 3)) for reading in ("strip", "passage")])


def choose_glue(rows: list[dict]) -> str:
    """Step 60's rule: "passage" unless its balanced mean falls more than GLUE_MAX_LOSS below "strip"'s."""
    loss = balanced(rates(rows, True, "strip", 3)) - balanced(rates(rows, True, "passage", 3))
    return "passage" if loss <= GLUE_MAX_LOSS + 1e-9 else "strip"


# README step 61 (artifacts/r42/rule.md): the meaning cut on the extractive answerer's own answers. The question's
# weakest word missing from the cited passage and its lead (meaning.weakest_word, e5 against that text's words) refuses
# the answer below a cut of MEANING_GRID; the cut with the best balanced mean among those losing at most
# PLACE_MAX_LOSS points of answerable right is taken where it gains PLACE_MIN_GAIN (ties: the lowest cut).
MEANING_GRID = tuple(round(0.80 + 0.01 * i, 2) for i in range(11))


def shipped_missing(row: dict) -> list[str]:
    """The anchors the row's passage lacks under the check as shipped (support.NAME_READING, PLACE_MIN_CHARS, places
    only): what step 61's cut comes after."""
    return missing_read(row, NAME_READING, PLACE_MIN_CHARS)


def meaning_of(rows: list[dict], embed) -> dict[str, tuple[str, float]]:  # noqa: ANN001 - words -> unit vectors
    """Row id -> (weakest missing word, its cosine) for the rows the shipped check answers (cited, not refused, no
    anchor missing); the scope is the row's recorded passage and lead, as ExtractiveAnswerer.meaning_missing reads."""
    out = {}
    for r in rows:
        if "passage" not in r:
            raise SystemExit(f"row {r['id']} has no recorded passage: --meaning needs rows made by this script since "
                             "README step 56 (make them again with --dataset ... --out)")
        if r["cited"] and not r["refused"] and not shipped_missing(r):
            out[r["id"]] = weakest_word(r["question"], scope_text(r["passage"], r["lead"]), embed)
    return out


def meaning_rates(rows: list[dict], meaning: dict[str, tuple[str, float]], cut: float | None) -> dict[str, float]:
    """`rates` with the shipped check (`shipped_missing`) and, where `cut` is set, the meaning cut."""
    return rates_where(rows, lambda r: bool(shipped_missing(r))
                       or (cut is not None and r["id"] in meaning and meaning[r["id"]][1] < cut))


def show_meaning(title: str, rows: list[dict], meaning: dict[str, tuple[str, float]]) -> None:
    table(title, rows, "meaning cut (anchors on)", [("none (shipped)", meaning_rates(rows, meaning, None))]
          + [(f"{cut:.2f}", meaning_rates(rows, meaning, cut)) for cut in MEANING_GRID])


def choose_meaning(rows: list[dict], meaning: dict[str, tuple[str, float]]) -> float | None:
    """Step 61's rule: the cut of MEANING_GRID with the best balanced mean among those losing at most PLACE_MAX_LOSS
    points of answerable right (the lowest on a tie), taken if it gains PLACE_MIN_GAIN; None (no cut) otherwise."""
    shipped = meaning_rates(rows, meaning, None)
    kept = [(cut, meaning_rates(rows, meaning, cut)) for cut in MEANING_GRID]
    kept = [(cut, per) for cut, per in kept if per["answerable"] >= shipped["answerable"] - PLACE_MAX_LOSS - 1e-9]
    if not kept:
        return None
    cut, per = max(kept, key=lambda item: (round(balanced(item[1]), 9), -item[0]))
    return cut if gains(shipped, per, PLACE_MIN_GAIN, PLACE_MAX_LOSS) else None


def save_meaning(path: Path, cut: float | None, embedder, fitted_on: list[Path], figures: str) -> None:  # noqa: ANN001
    """Writes routes.json's extractive_own_meaning_cut (null when no cut was taken), keeping every other choice."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    saved[OWN_MEANING_SECTION] = None if cut is None else {
        "below": cut, "embedder": embedder.name, "fingerprint": getattr(embedder, "fingerprint", None) or "",
        "scope": "passage", "fitted_on": [str(p) for p in fitted_on], "figures": figures,
        "how": "scripts/study_anchors.py --choose ROWS --meaning: the extractive answerer's own answers (anchors on) "
               "refused where the question's weakest word missing from the cited passage and its lead has no word "
               "there of e5 cosine at the cut; the best balanced mean among cuts losing at most 1 point of answerable "
               "right, taken if it gains 0.5 (README step 61)"}
    path.write_text(json.dumps(saved, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def gains(before: dict[str, float], after: dict[str, float], min_gain: float, max_loss: float) -> bool:
    """Whether `after` gains `min_gain` balanced points over `before` with answerable right losing at most `max_loss`."""
    return (balanced(after) - balanced(before) >= min_gain - 1e-9
            and after["answerable"] >= before["answerable"] - max_loss - 1e-9)


def best_taken(shipped, variants: dict) -> object:
    """Steps 58 and 59's rule over `variants` (key -> rates, `shipped` among them): the other variant with the higher
    balanced mean (the first listed on a tie) where it `gains` PLACE_MIN_GAIN with PLACE_MAX_LOSS; `shipped` otherwise."""
    best = max((k for k in variants if k != shipped), key=lambda k: balanced(variants[k]))
    return best if gains(variants[shipped], variants[best], PLACE_MIN_GAIN, PLACE_MAX_LOSS) else shipped


def taken(rows: list[dict]) -> bool:
    return gains(rates(rows, False), rates(rows, True), MIN_GAIN, MAX_LOSS)


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows or "missing" not in rows[0]:
        raise SystemExit(f"{path} holds no study_anchors.py rows: make them with --dataset ... --out {path}")
    if not any(r["kind"] == "answerable" for r in rows) or all(r["kind"] == "answerable" for r in rows):
        raise SystemExit(f"{path} needs answerable rows and unanswerable ones (--absent, --adversarial, --noun-swaps)")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", type=Path, help="a SQuAD-format set to study (CMRC 2018, DRCD)")
    ap.add_argument("--t2s", action="store_true", help="convert traditional to simplified Chinese (DRCD)")
    ap.add_argument("--skip", type=int, default=0, help="paragraphs to skip first")
    ap.add_argument("--questions", type=int, default=300, help="answerable questions (one per paragraph)")
    ap.add_argument("--absent", type=int, default=150)
    ap.add_argument("--adversarial", type=int, default=150, help="year/number/name-swapped questions")
    ap.add_argument("--noun-swaps", type=int, default=150, help="noun-swapped questions")
    ap.add_argument("--out", type=Path, help="the study's rows")
    ap.add_argument("--choose", type=Path, nargs="+", help="no study: choose on these rows (fitting)")
    ap.add_argument("--report", type=Path, nargs="*", default=[], help="... and report on these (held out)")
    ap.add_argument("--places", action="store_true",
                    help="with --choose: whether the question's places join its anchors (README step 58)")
    ap.add_argument("--tags", action="store_true",
                    help="with --choose: whether organisations and other proper nouns join the anchors (README step 59)")
    ap.add_argument("--glue", action="store_true",
                    help="with --choose: whether the passage decides a glued name's glue (README step 60)")
    ap.add_argument("--names", action="store_true",
                    help="with --choose: choose how the question's people's names are read (README step 56)")
    ap.add_argument("--meaning", action="store_true",
                    help="with --choose: the meaning cut on the extractive answerer's own answers (README step 61)")
    ap.add_argument("--claim", action="store_true",
                    help="with --choose: the claim cut on the extractive answerer's own answers (README step 72)")
    ap.add_argument("--write", type=Path, help="with --meaning or --claim: save the chosen cut in this routes.json")
    args = ap.parse_args(argv)
    if args.write and not (args.meaning or args.claim):
        ap.error("--write saves step 61's or step 72's cut: give it with --choose ROWS --meaning (or --claim)")
    if (args.meaning or args.claim) and not args.choose:
        ap.error("--meaning and --claim choose a cut on recorded rows: give them with --choose ROWS")
    if args.choose and args.meaning:
        return meaning_main(args)
    if args.choose and args.claim:
        return claim_main(args)
    if args.choose:
        fit = [r for p in args.choose for r in load(p)]
        for wanted, shown, chosen in (
                (args.places, show_places, lambda rows: f"PLACE_MIN_CHARS = {choose_places(rows) or None}"),
                (args.names, show_readings, lambda rows: f"names read {choose_reading(rows)!r}"),
                (args.tags, show_tags, lambda rows: f"anchors: {choose_tags(rows)!r}"),
                (args.glue, show_glue, lambda rows: f"names read {choose_glue(rows)!r}")):
            if wanted:  # README steps 56, 58, 59 and 60, rules in artifacts/r41/rule.md
                shown(f"fitting rows ({len(fit)})", fit)
                print(f"\nchosen: {chosen(fit)} (rule: artifacts/r41/rule.md)")
                for path in args.report:
                    shown(f"reported: {path} (held out)", load(path))
                return 0
        show(f"fitting rows ({len(fit)})", fit)
        before, after = balanced(rates(fit, False)), balanced(rates(fit, True))
        print(f"\nchosen: extractive_anchors = {taken(fit)} (balanced {before:.2f} -> {after:.2f}; needs "
              f"+{MIN_GAIN:g} and answerable right losing at most {MAX_LOSS:g})")
        for path in args.report:
            show(f"reported: {path} (held out)", load(path))
        return 0
    if not args.dataset or not args.out:
        ap.error("give --dataset and --out to study, or --choose ROWS")
    return study(args)


def meaning_main(args: argparse.Namespace) -> int:
    """Step 61: the cosines read once per row set with the shipped embedder, the grid, the choice, the held-out sets."""
    fit = [r for p in args.choose for r in load(p)]
    reports = [(p, load(p)) for p in args.report]
    if args.write and not args.write.is_file():
        raise SystemExit(f"--write {args.write}: no such file; give the routes.json to update "
                         "(rag/answering/routes.json)")
    embedder = load_embedder(Config())
    words = WordVectors(embedder, keep=200_000)
    meaning = meaning_of(fit, words)
    show_meaning(f"fitting rows ({len(fit)})", fit, meaning)
    cut = choose_meaning(fit, meaning)
    before, after = meaning_rates(fit, meaning, None), meaning_rates(fit, meaning, cut)
    figures = (f"fitting rows: balanced {balanced(before):.2f} -> {balanced(after):.2f}, answerable right "
               f"{before['answerable']:.1f} -> {after['answerable']:.1f}")
    print(f"\nchosen: {OWN_MEANING_SECTION} below {cut} ({figures}; rule: artifacts/r42/rule.md)")
    for path, rows in reports:
        show_meaning(f"reported: {path} (held out)", rows, meaning_of(rows, words))
    if args.write:
        save_meaning(args.write, cut, embedder, args.choose, figures)
        print(f"saved in {args.write}")
    return 0


# README step 72 (artifacts/r46/rule72.md): the claim cut on the extractive answerer's own factoid answers, after the
# anchors and step 61's saved meaning cut: the share of the question's word weight beside the cited sentence (`claim`,
# recorded since step 72) below a cut of CLAIM_GRID refuses; chosen by step 61's rule.
CLAIM_GRID = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def claim_rates(rows: list[dict], meaning: dict[str, tuple[str, float]], meaning_below: float | None,
                cut: float | None) -> dict[str, float]:
    """`rates` with the shipped check, step 61's cut at `meaning_below` (None: none) and, where `cut` is set, the
    claim cut (a row without a recorded claim share, not a factoid answer, is not cut)."""
    if any("claim" not in r for r in rows):
        raise SystemExit("rows without `claim`: --claim needs rows made by this script since README step 72 (make "
                         "them again with --dataset ... --out)")
    return rates_where(rows, lambda r: bool(shipped_missing(r))
                       or (meaning_below is not None and r["id"] in meaning and meaning[r["id"]][1] < meaning_below)
                       or (cut is not None and r["claim"] is not None and not r["refused"] and r["claim"] < cut))


def choose_claim(rows: list[dict], meaning: dict[str, tuple[str, float]], meaning_below: float | None) -> float | None:
    """Step 72's rule (step 61's): the cut of CLAIM_GRID with the best balanced mean among those losing at most
    PLACE_MAX_LOSS points of answerable right (the lowest on a tie), taken if it gains PLACE_MIN_GAIN; None otherwise."""
    shipped = claim_rates(rows, meaning, meaning_below, None)
    kept = [(cut, claim_rates(rows, meaning, meaning_below, cut)) for cut in CLAIM_GRID]
    kept = [(cut, per) for cut, per in kept if per["answerable"] >= shipped["answerable"] - PLACE_MAX_LOSS - 1e-9]
    if not kept:
        return None
    cut, per = max(kept, key=lambda item: (round(balanced(item[1]), 9), -item[0]))
    return cut if gains(shipped, per, PLACE_MIN_GAIN, PLACE_MAX_LOSS) else None


def claim_main(args: argparse.Namespace) -> int:
    """Step 72: the claim cut after the shipped checks (the anchors, step 61's saved meaning cut), its grid, the choice,
    the held-out sets; with --write saved in routes.json's extractive_own_claim_cut (null when not taken)."""
    fit = [r for p in args.choose for r in load(p)]
    reports = [(p, load(p)) for p in args.report]
    if args.write and not args.write.is_file():
        raise SystemExit(f"--write {args.write}: no such file; give the routes.json to update "
                         "(rag/answering/routes.json)")
    saved = load_own_meaning_cut()
    embedder = load_embedder(Config())
    words = WordVectors(embedder, keep=200_000)
    below = saved.below if saved is not None and saved.applies(embedder) else None

    def show_claim(title: str, rows: list[dict], meaning: dict[str, tuple[str, float]]) -> None:
        table(title, rows, f"claim cut (anchors on, meaning cut {below})",
              [("none (shipped)", claim_rates(rows, meaning, below, None))]
              + [(f"{cut:.2f}", claim_rates(rows, meaning, below, cut)) for cut in CLAIM_GRID])

    meaning = meaning_of(fit, words) if below is not None else {}
    show_claim(f"fitting rows ({len(fit)})", fit, meaning)
    cut = choose_claim(fit, meaning, below)
    before, after = claim_rates(fit, meaning, below, None), claim_rates(fit, meaning, below, cut)
    figures = (f"fitting rows: balanced {balanced(before):.2f} -> {balanced(after):.2f}, answerable right "
               f"{before['answerable']:.1f} -> {after['answerable']:.1f}")
    print(f"\nchosen: {OWN_CLAIM_SECTION} below {cut} ({figures}; rule: artifacts/r46/rule72.md)")
    for path, rows in reports:
        show_claim(f"reported: {path} (held out)", rows, meaning_of(rows, words) if below is not None else {})
    if args.write:
        saved_routes = json.loads(args.write.read_text(encoding="utf-8"))
        saved_routes[OWN_CLAIM_SECTION] = None if cut is None else {
            "below": cut, "fitted_on": [str(p) for p in args.choose], "figures": figures,
            "how": "scripts/study_anchors.py --choose ROWS --claim: the extractive answerer's own Chinese factoid "
                   "answers (anchors and the meaning cut on) refused where less than the cut of the question's word "
                   "weight stands beside the cited sentence; the best balanced mean among cuts losing at most 1 point "
                   "of answerable right, taken if it gains 0.5 (README step 72)"}
        args.write.write_text(json.dumps(saved_routes, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"saved in {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
