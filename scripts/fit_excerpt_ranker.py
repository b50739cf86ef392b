"""Fit the excerpt ranker (which sentences the language model reads; README step 43) on DRCD dev.

    .venv/bin/python scripts/fit_excerpt_ranker.py                     # writes the "excerpt" model into model.json
    .venv/bin/python scripts/fit_excerpt_ranker.py --reuse-features    # the DRCD features of the last run

Data: as scripts/fit_answerer.py (DRCD dev in simplified Chinese, its paragraphs split 70/30 by a fixed hash into FIT
and CALIBRATE), but all 1,000 paragraphs by default. A logistic regression over features.EXCERPT_FEATURES is fitted
on the FIT part's answerable questions: a candidate sentence is positive where the gold answer starts in it. Reported
on the CALIBRATE part, for the sentence model's order and the ranker's: the sentence holding the answer among the
best 1, 2 and 3, and the answer inside the excerpts the model would read (context.select_excerpts with the default
policy's top sentences, budget and fill). Nothing from CMRC or the article is used: those are where it is reported
(scripts/excerpt_recall.py; README step 43). Deterministic: fixed split, lbfgs.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_answerer import DATASETS, ROOT, examples, fit_logistic, load_drcd, open_index  # noqa: E402

from rag.answering.context import select_excerpts  # noqa: E402
from rag.answering.decision import MODEL_FILE, LinearModel  # noqa: E402
from rag.answering.features import EXCERPT_FEATURES, excerpt_features  # noqa: E402
from rag.answering.model import DEFAULT_POLICY  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402

PARAGRAPHS = 1000


def rows(exs, part: str) -> tuple[list, np.ndarray, np.ndarray]:
    """(the questions' examples, features, labels) of one part's answerable questions with their paragraph found."""
    kept, xs, ys = [], [], []
    for ex in exs:
        qa, _v, terms, _c, _w, versions = ex
        _hits, cands, labels = versions["present"]
        if qa.part == part and cands and any(labels):
            kept.append(ex)
            xs.append(excerpt_features(terms, cands))
            ys += labels
    return kept, (np.vstack(xs) if xs else np.zeros((0, len(EXCERPT_FEATURES)))), np.array(ys)


def recall(exs, order_of) -> dict[str, float]:
    """Shares of the questions whose answer is in the best 1/2/3 sentences of `order_of(example)`, and inside the
    excerpts the default policy sends."""
    p = DEFAULT_POLICY
    at = {1: 0, 2: 0, 3: 0}
    sent = 0
    for ex in exs:
        qa, _v, _t, _c, _w, versions = ex
        _hits, cands, labels = versions["present"]
        order = order_of(ex)
        for k in at:
            at[k] += max(labels[i] for i in order[:k])
        doc = cands[next(i for i, v in enumerate(labels) if v)].sentence.doc_id
        excerpts = select_excerpts(cands, order, p.top_sentences, p.max_excerpt_chars, fill=p.excerpt_fill)
        sent += any(e.hit.chunk.doc_id == doc and e.hit.chunk.start <= qa.start < e.hit.chunk.end for e in excerpts)
    n = max(len(exs), 1)
    return {"questions": len(exs), **{f"answer_in_top{k}": at[k] / n for k in at}, "answer_in_excerpts": sent / n}


def saved_sentence_model(path: Path) -> LinearModel:
    """The sentence model of the model file, read alone: a saved ranker fitted on other features than the code's (the
    reason to refit it) must not stop its own refit, as loading the whole file would."""
    return LinearModel.from_json("sentence", json.loads(path.read_text(encoding="utf-8"))["sentence"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=DATASETS / "drcd_dev.json")
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    ap.add_argument("--paragraphs", type=int, default=PARAGRAPHS, help=f"the first N paragraphs (default {PARAGRAPHS})")
    ap.add_argument("--reuse-features", action="store_true", help="reuse the DRCD features saved by the last run")
    args = ap.parse_args(argv)
    if not args.out.is_file():
        raise SystemExit(f"no model file {args.out}: fit the extractive answerer first (scripts/fit_answerer.py)")
    config = Config.from_env()
    documents, qas = load_drcd(args.dataset)
    documents = documents[:args.paragraphs]
    keep = {d.source for d in documents}
    qas = [q for q in qas if q.source in keep]
    cache = ROOT / "index" / f"fit-{args.dataset.stem}-{len(documents)}.examples.pkl"
    started = time.perf_counter()
    if args.reuse_features and cache.exists():
        exs = pickle.loads(cache.read_bytes())
    else:
        embedder = load_embedder(config, progress=lambda m: print(m, file=sys.stderr))
        index = open_index(documents, config, ROOT / "index" / f"fit-{args.dataset.stem}-{len(documents)}", embedder)
        exs = examples(qas, index, embedder, config)
        cache.write_bytes(pickle.dumps(exs))
    print(f"features for {len(exs)} questions in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    fit, x, y = rows(exs, "fit")
    ranker = fit_logistic(x, y, EXCERPT_FEATURES)
    calibrate, _, _ = rows(exs, "calibrate")

    sentence_model = saved_sentence_model(args.out)

    def by_sentence_model(ex) -> list[int]:
        return sentence_model.ranked(np.stack([c.features for c in ex[5]["present"][1]]))

    def by_ranker(ex) -> list[int]:
        return ranker.ranked(excerpt_features(ex[2], ex[5]["present"][1]))

    held_out = {"sentence_model": recall(calibrate, by_sentence_model), "excerpt_ranker": recall(calibrate, by_ranker)}
    raw = json.loads(args.out.read_text(encoding="utf-8"))
    raw["excerpt"] = ranker.to_json()
    raw.setdefault("meta", {})["excerpt"] = {
        "fitted_on": f"{args.dataset.name} (t2s), first {len(documents)} paragraphs, FIT part ({len(fit)} questions, "
                     f"{len(y)} sentences)",
        "held_out_calibrate": {k: {m: round(v, 4) for m, v in r.items()} for k, r in held_out.items()},
        "script": "scripts/fit_excerpt_ranker.py"}
    args.out.write_text(json.dumps(raw, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(raw["meta"]["excerpt"], ensure_ascii=False, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
