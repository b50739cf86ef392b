"""Steps 68 and 69 (README, "How auto was chosen"): whether a factoid's bold span should be shown only where the span
model is sure of it (68), and whether the enumeration pick should stay (69). Records, for every question of a set, the
extractive answerer's answer as the product gives it (no bold gate), its span, the span model's logit
(Analysis.span_logit; inf for an enumeration item picked by position) and whether the answer is correct, and fits the
gate: the logit below which the bold is not shown.

    python scripts/study_spans.py --dataset ../shared/datasets/drcd_dev.json --t2s --limit 1200 \
        --out artifacts/r45/spans-drcd-dev.jsonl
    python scripts/study_spans.py --dataset ../shared/datasets/cmrc2018_dev.json --limit 300 --out artifacts/r45/spans-cmrc.jsonl
    python scripts/study_spans.py --qa eval/qa_article.jsonl --split test --out artifacts/r45/spans-article-test.jsonl
    python scripts/study_spans.py --fit artifacts/r45/spans-drcd-dev.jsonl --fit-part calibrate \
        --report artifacts/r45/spans-cmrc.jsonl artifacts/r45/spans-article-test.jsonl

Step 69 records the same set twice, the second time with `--no-list-pick`, and compares:

    python scripts/study_spans.py --qa eval/qa_article.jsonl --split dev --out artifacts/r45/lp-on-article-dev.jsonl
    python scripts/study_spans.py --qa eval/qa_article.jsonl --split dev --no-list-pick \
        --out artifacts/r45/lp-off-article-dev.jsonl
    python scripts/study_spans.py --compare artifacts/r45/lp-on-article-dev.jsonl artifacts/r45/lp-off-article-dev.jsonl

The gate is fitted on DRCD dev's CALIBRATE part only (--fit-part calibrate: the 30% of its paragraphs, by
fit_answerer.part_of, that the span model was not fitted on; on the FIT part its logits are in-sample). A SQuAD-format
set is indexed as `rag eval --limit N` indexes it (index/eval-<name>-<N>, made when missing; with --t2s the name is
<name>_s); our QA set reads the article's evaluation index. No language model runs: about 0.6 s a question.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_answerer import part_of  # noqa: E402 - DRCD dev's FIT/CALIBRATE split, defined once

from rag.answering.base import Evidence
from rag.answering.extractive import ExtractiveAnswerer
from rag.config import Config
from rag.embedding import load_embedder
from rag.evaluation.evaluate import default_index_dir, load_dataset
from rag.evaluation.metrics import fair_match, near_match
from rag.evaluation.runs import open_engine

GRID = (-math.inf, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
GAIN = 0.05  # the objective must beat no gate by this share of the spans (README step 68, set before the fit)
KEEP = 0.75  # and keep this share of the right spans


def simplified(dataset: Path) -> Path:
    """A copy of a SQuAD-format set in simplified Chinese (OpenCC t2s, as fit_answerer.py reads DRCD), beside the
    system's temporary files, named <name>_s.json."""
    import tempfile

    from rag.script import to_simplified

    data = json.loads(dataset.read_text(encoding="utf-8"))
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraph["context"] = to_simplified(paragraph["context"])
            for qa in paragraph["qas"]:
                qa["question"] = to_simplified(qa["question"])
                for a in qa.get("answers", []):
                    a["text"] = to_simplified(a["text"])
    out = Path(tempfile.gettempdir()) / f"{dataset.stem}_s.json"
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return out


def record(dataset: Path, limit: int | None, split: str, out: Path, list_pick: bool = True) -> None:
    config = Config.from_env()
    documents, cases = load_dataset(dataset, limit, split)
    index_dir = default_index_dir(dataset)
    if documents is not None and limit:
        index_dir = index_dir.parent / f"{index_dir.name}-{limit}"
    embedder = load_embedder(config, progress=lambda m: print(m, file=sys.stderr))
    engine = open_engine(config, index_dir, embedder, documents, lambda m: print(m, file=sys.stderr))
    answerer = engine.answerer("extractive")
    if not isinstance(answerer, ExtractiveAnswerer):
        raise SystemExit("the extractive answerer is not an ExtractiveAnswerer here; nothing to study")
    answerer.span_shown_at = -math.inf  # every span the finder picks, to fit the gate on
    answerer.list_pick = list_pick
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for i, case in enumerate(cases):
            q, _ = engine.resolve(case.question, list(case.history) or None, engine.index)
            found = engine.search(q, engine.index)
            hits = list(found.hits)
            evidence = Evidence(engine.index, found.answer_vector, embedder)
            analysis = answerer.analyse(q, hits, evidence)
            answer = answerer.answer_from(q, hits, evidence, analysis)
            source = getattr(case, "source", None) or ""
            row = {"id": case.id, "source": source, "part": part_of(source) if source else "",
                   "question": case.question, "answers": list(case.answers),
                   "answerable": case.answerable, "shape": analysis.shape, "refused": answer.refused,
                   "answer": answer.text, "span": answer.span.text if answer.span else "",
                   "span_logit": analysis.span_logit if answer.span else None,
                   "correct": correct(case.answerable, answer.refused, answer.text, case.answers),
                   "language": q.language}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if (i + 1) % 100 == 0:
                print(f"[{i + 1}/{len(cases)}]", file=sys.stderr)


def rows_of(path: Path) -> list[dict]:
    """The rows `record` wrote to `path`."""
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def correct(answerable: bool, refused: bool, text: str, answers: list[str] | tuple[str, ...]) -> bool:
    """The evaluation's "correct" for a factoid (metrics.correctness with fair_match of the whole text): an answerable
    question answered with the gold in it, or an unanswerable one refused."""
    return (not refused and fair_match(text, list(answers))) if answerable else refused


def compare(before: Path, after: Path) -> str:
    """Step 69's table: the same questions' rows recorded two ways (today, and a variant): bolds right and wrong,
    answers correct, and every row whose answer or bold changed."""
    a, b = ({r["id"]: r for r in rows_of(path)} for path in (before, after))
    if a.keys() != b.keys():
        raise SystemExit(f"{before} and {after} hold different questions; record both from the same set")

    def bolds(rs: dict[str, dict]) -> tuple[int, int]:
        shown = [r for r in rs.values() if not r["refused"] and r["span"]]
        right = sum(bool(r["answerable"] and near_match(r["span"], r["answers"], r["question"])) for r in shown)
        return right, len(shown) - right

    (r0, w0), (r1, w1) = bolds(a), bolds(b)
    c0, c1 = sum(r["correct"] for r in a.values()), sum(r["correct"] for r in b.values())
    lines = [f"| {before.name} → {after.name} | bolds right / wrong | right − wrong | correct |", "|---|---|---|---|",
             f"| before | {r0} / {w0} | {r0 - w0} | {c0} of {len(a)} |", f"| after | {r1} / {w1} | {r1 - w1} | {c1} of {len(b)} |",
             "", "changed rows (question | before: bold, correct | after: bold, correct):"]
    for k in a:
        x, y = a[k], b[k]
        if (x["answer"], x["span"], x["refused"]) != (y["answer"], y["span"], y["refused"]):
            lines.append(f"- {x['question']} | {x['span'] or '(no bold)'}, {x['correct']} | "
                         f"{y['span'] or '(no bold)'}, {y['correct']}")
    return "\n".join(lines)


def spans_of(path: Path, part: str | None = None) -> list[dict]:
    """The answered rows that show a bold span, each marked right (near_match of the span) or not; with `part`, only
    the rows of that part of DRCD dev (fit_answerer.part_of)."""
    out = []
    for r in rows_of(path):
        if r["refused"] or not r["span"] or (part and r.get("part") != part):
            continue
        right = r["answerable"] and near_match(r["span"], r["answers"], r["question"])
        fair = r["answerable"] and fair_match(r["span"], r["answers"])
        logit = math.inf if r["span_logit"] is None or r["span_logit"] == "Infinity" else float(r["span_logit"])
        out.append({"right": right, "fair": fair, "logit": logit})
    return out


def kept(spans: list[dict], tau: float) -> tuple[int, int, int]:
    """(right kept, wrong kept, fair kept) at the gate `tau`."""
    on = [s for s in spans if s["logit"] >= tau]
    return sum(s["right"] for s in on), sum(not s["right"] for s in on), sum(s["fair"] for s in on)


def fit(fit_paths: list[Path], report_paths: list[Path], part: str | None = None) -> str:
    pooled = [s for p in fit_paths for s in spans_of(p, part)]
    if not pooled:
        raise SystemExit("no answered row with a span in the fitting files")
    lines = ["| gate | right kept | wrong kept | right kept − wrong kept |", "|---|---|---|---|"]
    scores = {}
    for tau in GRID:
        right, wrong, _ = kept(pooled, tau)
        scores[tau] = right - wrong
        lines.append(f"| {tau:g} | {right} | {wrong} | {right - wrong} |")
    best = max(GRID, key=lambda t: (scores[t], -t))  # ties: the lower gate
    total_right = sum(s["right"] for s in pooled)
    right, _, _ = kept(pooled, best)
    gain = scores[best] - scores[-math.inf]
    taken = gain >= GAIN * len(pooled) and right >= KEEP * total_right
    lines.append(f"\nchosen: {best:g} ({gain:+d} against no gate over {len(pooled)} spans, needs "
                 f"{GAIN * len(pooled):.1f}; keeps {right} of {total_right} right spans, needs {KEEP * total_right:.1f}): "
                 f"{'taken' if taken else 'not taken'}")
    lines.append("\n| set | spans | right / wrong, no gate | right / wrong kept at the choice | fair kept |\n|---|---|---|---|---|")
    for path in [*fit_paths, *report_paths]:
        spans = spans_of(path, part if path in fit_paths else None)
        r0, w0, f0 = kept(spans, -math.inf)
        r1, w1, f1 = kept(spans, best)
        role = (f"fitting ({part} part)" if part else "fitting") if path in fit_paths else "reporting"
        lines.append(f"| {role}: {path.name} | {len(spans)} | {r0} / {w0} | {r1} / {w1} | {f0} → {f1} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, help="a SQuAD-format set")
    ap.add_argument("--qa", type=Path, help="our QA set (JSONL)")
    ap.add_argument("--split", default="all", help="with --qa: dev, test or all")
    ap.add_argument("--t2s", action="store_true", help="with --dataset: convert traditional to simplified Chinese (DRCD)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--fit", type=Path, nargs="+", help="row files to fit the gate on")
    ap.add_argument("--no-list-pick", action="store_true",
                    help="record with the enumeration pick off (ExtractiveAnswerer.list_pick, README step 69)")
    ap.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"),
                    help="two row files of the same questions: bolds right and wrong, correct, and the rows that changed")
    ap.add_argument("--fit-part", choices=("calibrate", "fit"), default=None,
                    help="fit on this part of DRCD dev only (fit_answerer.part_of); calibrate: the span model's held-out part")
    ap.add_argument("--report", type=Path, nargs="*", default=[], help="row files to report the chosen gate on")
    args = ap.parse_args(argv)
    if args.fit:
        print(fit(args.fit, args.report, args.fit_part))
        return 0
    if args.compare:
        print(compare(*args.compare))
        return 0
    if not args.out or not (args.dataset or args.qa):
        ap.error("give --dataset or --qa with --out, or --fit")
    if args.t2s and not args.dataset:
        ap.error("--t2s converts a SQuAD-format --dataset")
    dataset = simplified(args.dataset) if args.t2s else (args.dataset or args.qa)
    record(dataset, args.limit, args.split, args.out, not args.no_list_pick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
