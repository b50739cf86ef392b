"""Fit the extractive answerer's models (sentence ranking, span choice, answer-or-refuse) on DRCD dev.

    .venv/bin/python scripts/fit_answerer.py            # writes rag/answering/model.json

Data: DRCD dev (/work/shared/datasets/drcd_dev.json or $RAG_DATASETS), converted to simplified Chinese with
OpenCC t2s. Its 1,000 paragraphs are indexed once (index/fit-drcd_dev, reused by later runs); paragraphs
are split 70/30 by a fixed hash into a FIT part (the models are fitted on its questions) and a CALIBRATE
part (the refusal threshold is chosen there and the held-out figures below are measured there).
Unanswerable examples are the realistic failure: each question asked again with its own paragraph's
passages removed from the retrieved hits. Nothing from CMRC 2018 or the article is used: those are
where the answerer is reported. Deterministic: fixed split, lbfgs, no sampling without a seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.answering.decision import MODEL_FILE, AnswerModels, LinearModel
from rag.answering.features import (
    DECISION_FEATURES,
    EXCERPT_FEATURES,
    SENTENCE_FEATURES,
    decision_features,
    question_terms,
    sentence_candidates,
    standing,
)
from rag.answering.question import answer_shape, wanted_type
from rag.answering.spans import SPAN_FEATURES, best_span, span_candidates
from rag.chat import Engine
from rag.config import PROJECT_ROOT as ROOT
from rag.config import Config
from rag.documents import make_document
from rag.embedding import load_embedder
from rag.errors import IndexMissingError
from rag.evaluation.metrics import cmrc_f1
from rag.indexer import empty_index
from rag.retrieval import retrieve
from rag.store import load_index
from rag.tokenize import tokenize

DATASETS = Path(os.environ.get("RAG_DATASETS", ROOT.parent / "shared" / "datasets"))


def fit_logistic(x: np.ndarray, y: np.ndarray, features: tuple[str, ...], c: float = 1.0) -> LinearModel:
    """Standardize, then L2-regularized logistic regression (scikit-learn's lbfgs: deterministic)."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit((x - mean) / scale, y)
    return LinearModel(features, mean, scale, clf.coef_[0].astype(np.float64), float(clf.intercept_[0]))
CALIBRATE_SHARE = 0.3
TARGET_WRONG_REFUSALS = 0.03  # the refusal threshold refuses at most this share of answerable CALIBRATE questions
# Embedding all 1,000 DRCD dev paragraphs takes ~10 minutes on 2 quiet cores; the first 400 (about 1,400
# questions) fit these few-dozen-weight models as well and keep a refit within a few minutes.
PARAGRAPHS = 400
SPAN_NEGATIVES = 80  # negatives kept per question for the span model (a fixed-seed sample)
SPAN_POSITIVE_F1 = 0.8  # a candidate span counts as the answer when its CMRC F1 with the gold is this high


def part_of(source: str) -> str:
    """"calibrate" or "fit": the part of DRCD dev a paragraph (named '<id>#<n>') falls in, by a fixed sha1 of its name."""
    return "calibrate" if int(hashlib.sha1(source.encode()).hexdigest(), 16) % 100 < CALIBRATE_SHARE * 100 else "fit"


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    source: str  # document (paragraph) name
    start: int  # answer offset in the paragraph
    part: str  # "fit" or "calibrate"


def load_drcd(path: Path) -> tuple[list, list[QA]]:
    from rag.script import to_simplified

    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    documents, qas, moved = [], [], 0
    for article in data:
        for p_no, paragraph in enumerate(article["paragraphs"]):
            source = f"{article.get('id', article.get('title'))}#{p_no}"
            context = to_simplified(paragraph["context"])
            documents.append(make_document(source, context))
            part = part_of(source)
            for qa in paragraph["qas"]:
                gold = qa["answers"][0]
                answer = to_simplified(gold["text"]).strip()
                start = gold["answer_start"]
                if context[start:start + len(answer)] != answer:  # conversion moved it: nearest occurrence
                    found = [i for i in range(len(context)) if context.startswith(answer, i)]
                    if not found:
                        continue
                    start = min(found, key=lambda i: abs(i - start))
                    moved += 1
                qas.append(QA(to_simplified(qa["question"]), answer, source, start, part))
    print(f"DRCD: {len(documents)} paragraphs, {len(qas)} questions ({moved} answers re-found after t2s)",
          file=sys.stderr)
    return documents, qas


def open_index(documents: list, config: Config, index_dir: Path, embedder):
    try:
        index = load_index(index_dir, config)
        if len(index.manifest.get("documents", [])) == len(documents):
            return index
    except IndexMissingError:
        pass
    engine = Engine(config, index_dir, embedder, empty_index(embedder))
    engine.rebuild(documents, progress=lambda m: print(m, file=sys.stderr, flush=True))
    return engine.index


def examples(qas: list[QA], index, embedder, config: Config):
    """Per question: sentence candidates (answerable version) and the decision inputs of both versions."""
    doc_of = {d["source"]: d["doc_id"] for d in index.manifest["documents"]}
    started = time.perf_counter()
    vectors = embedder.embed_queries([q.question for q in qas])
    print(f"embedded {len(qas)} questions in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    out = []
    for qa, vector in zip(qas, vectors, strict=True):
        doc_id = doc_of[qa.source]
        deep = retrieve(index, vector, tokenize(qa.question), config.k * 3, config.mode, config.rrf_k,
                        config.fusion_depth)
        present = [replace(h, rank=r) for r, h in enumerate(deep[:config.k], start=1)]
        absent = [replace(h, rank=r) for r, h in enumerate([h for h in deep if h.chunk.doc_id != doc_id][:config.k],
                                                            start=1)]
        english = False
        want = wanted_type(qa.question)
        terms = question_terms(qa.question, "", index)
        all_cos = index.sentence_vectors @ vector
        versions = {}
        for name, hits in (("present", present), ("absent", absent)):
            cands = sentence_candidates(terms, want, english, vector, index, hits) if hits else []
            labels = [int(c.sentence.doc_id == doc_id and c.sentence.start <= qa.start < c.sentence.end)
                      for c in cands]
            versions[name] = (hits, cands, labels)
        out.append((qa, vector, terms, all_cos, want, versions))
    return out


def sentence_rows(exs, part: str):
    x, y = [], []
    for qa, _v, _t, _c, _w, versions in exs:
        _hits, cands, labels = versions["present"]
        if qa.part == part and any(labels):
            x += [c.features for c in cands]
            y += labels
    return np.array(x), np.array(y)


def decision_rows(exs, model: LinearModel, span_model: LinearModel, part: str):
    x, y = [], []
    for qa, _v, terms, all_cos, want, versions in exs:
        if qa.part != part:
            continue
        factoid = answer_shape(qa.question) == "factoid"
        for name, (hits, cands, labels) in versions.items():
            if not cands:
                continue
            logits = model.logits(np.stack([c.features for c in cands]))
            order = [int(i) for i in np.argsort(-logits, kind="stable")]
            best = cands[order[0]]
            second = float(logits[order[1]]) if len(order) > 1 else float(logits[order[0]]) - 5.0
            z = standing(float(best.features[0]), all_cos)
            span, span_logit, _ = best_span(qa.question, want, cands, logits, order, span_model) if factoid \
                else (None, 0.0, 0)
            x.append(decision_features(float(logits[order[0]]), second, best, z, terms, hits, False, want,
                                       span_logit if factoid and span is not None else None))
            y.append(int(name == "present" and any(labels)))
    return np.array(x), np.array(y)


def span_rows(exs, model: LinearModel, part: str, seed: int = 0):
    """Span candidates of the 3 best sentences (by the fitted sentence model) of answerable questions."""
    rng = np.random.default_rng(seed)
    x, y, groups = [], [], []
    for g, (qa, _v, _t, _c, want, versions) in enumerate(exs):
        _hits, cands, labels = versions["present"]
        if qa.part != part or not any(labels) or answer_shape(qa.question) != "factoid":
            continue
        logits = model.logits(np.stack([c.features for c in cands]))
        for i in np.argsort(-logits, kind="stable")[:3]:
            c = cands[i]
            context = c.previous.text if c.previous else ""
            spans = span_candidates(qa.question, want, c.sentence.text, float(logits[i]), context)
            rel = qa.start - c.sentence.start if labels[i] else -1
            lab = [int(rel >= 0 and cmrc_f1(s.text, [qa.answer]) >= SPAN_POSITIVE_F1) for s in spans]
            keep = [k for k, v in enumerate(lab) if v]
            neg = [k for k, v in enumerate(lab) if not v]
            if part == "fit" and len(neg) > SPAN_NEGATIVES:
                neg = sorted(rng.choice(neg, SPAN_NEGATIVES, replace=False).tolist())
            for k in keep + neg:
                x.append(spans[k].features)
                y.append(lab[k])
                groups.append(g)
    return np.array(x), np.array(y), np.array(groups)


def held_out_span_quality(exs, sentence_model: LinearModel, span_model: LinearModel) -> dict[str, float]:
    """On CALIBRATE factoid questions with the gold paragraph retrieved: how often the chosen sentence
    holds the answer, and span EM/F1 against the gold."""
    from rag.evaluation.metrics import cmrc_em

    n = sent_ok = 0
    em = f1 = 0.0
    for qa, _v, _t, _c, want, versions in exs:
        _hits, cands, labels = versions["present"]
        if qa.part != "calibrate" or not cands or answer_shape(qa.question) != "factoid":
            continue
        n += 1
        logits = sentence_model.logits(np.stack([c.features for c in cands]))
        order = [int(i) for i in np.argsort(-logits, kind="stable")]
        sent_ok += labels[order[0]]
        span, _, _ = best_span(qa.question, want, cands, logits, order, span_model)  # as the answerer does
        best = span.text if span is not None else ""
        em += cmrc_em(best, [qa.answer])
        f1 += cmrc_f1(best, [qa.answer])
    return {"questions": n, "best_sentence_holds_answer": sent_ok / max(n, 1), "span_em": em / max(n, 1),
            "span_f1": f1 / max(n, 1)}


def article_dev_scores(models: AnswerModels, config: Config, embedder) -> list[tuple[float, bool, bool, float]]:
    """(answer score, answerable, cross-language, standing) for every case of the article QA set's DEV split."""
    from rag.answering.base import Evidence
    from rag.answering.extractive import ExtractiveAnswerer
    from rag.chat import clean_question
    from rag.evaluation.datasets import load_jsonl_cases, select_split

    engine = Engine.open(config, ROOT / "index" / "eval-article", embedder=embedder, seed=True)
    answerer = ExtractiveAnswerer(config.max_answer_chars, models)
    out = []
    for case in select_split(load_jsonl_cases(ROOT / "eval" / "qa_article.jsonl"), "dev"):
        text, _ = clean_question(case.question, config.max_question_chars)
        question, _ = engine.resolve(text, list(case.history), engine.index, config)  # as Engine.ask (steps 36, 52)
        found = engine.search(question, engine.index, config)
        a = answerer.analyse(question, list(found.hits), Evidence(engine.index, found.answer_vector, embedder))
        if a.shape == "summary" or not a.candidates:
            continue
        out.append((a.score, case.answerable, a.cross_language, a.standing))
    return out


def balanced_threshold(scores: list[float], positive: list[bool]) -> float:
    """The cut that maximizes (share of positives kept + share of negatives cut) / 2; ties: the lower cut."""
    values = sorted(set(scores))
    cuts = [values[0] - 1e-6] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]

    def balanced(t: float) -> float:
        return (sum(s >= t for s in pos) / max(len(pos), 1) + sum(s < t for s in neg) / max(len(neg), 1)) / 2

    return max(cuts, key=lambda t: (balanced(t), -t))


def tradeoff(x: np.ndarray, y: np.ndarray, model: LinearModel) -> list[dict[str, float]]:
    logits = model.logits(x)
    rows = []
    for t in np.quantile(logits, np.linspace(0.02, 0.6, 15)):
        refused = logits < t
        rows.append({"threshold": float(t), "answerable_refused": float(refused[y == 1].mean()),
                     "unanswerable_refused": float(refused[y == 0].mean())})
    return rows


def kept_excerpt(previous: dict) -> tuple[dict, dict] | None:
    """The excerpt ranker (scripts/fit_excerpt_ranker.py) of the model file being replaced, and its meta, where its
    features are the code's: it reads the sentence features, not the models fitted here, so a refit keeps it (its meta's
    "sentence_model" figures stay those of the sentence model of its own fit). None where there is none or it is stale
    (the answers then read the sentence model's order until it is refit)."""
    if tuple(previous.get("excerpt", {}).get("features", ())) != EXCERPT_FEATURES:
        return None
    return previous["excerpt"], previous.get("meta", {}).get("excerpt", {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASETS / "drcd_dev.json")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--reuse-features", action="store_true",
                        help="reuse the sentence features saved by the last run (only when features.py is unchanged)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (a quick check)")
    parser.add_argument("--paragraphs", type=int, default=PARAGRAPHS,
                        help=f"use the first N paragraphs of the dataset (default {PARAGRAPHS}; 0 = all)")
    args = parser.parse_args()
    config = Config.from_env()
    documents, qas = load_drcd(args.dataset)
    if args.paragraphs:
        documents = documents[:args.paragraphs]
        keep = {d.source for d in documents}
        qas = [q for q in qas if q.source in keep]
    if args.limit:
        qas = qas[:args.limit]
        keep = {q.source for q in qas}
        documents = [d for d in documents if d.source in keep]
    embedder = load_embedder(config, progress=lambda m: print(m, file=sys.stderr))
    index_dir = ROOT / "index" / f"fit-{args.dataset.stem}-{len(documents)}"
    started = time.perf_counter()
    cache = ROOT / "index" / f"fit-{args.dataset.stem}-{len(documents)}.examples.pkl"  # reused by --reuse-features
    if args.reuse_features and cache.exists():
        exs = pickle.loads(cache.read_bytes())
    else:
        index = open_index(documents, config, index_dir, embedder)
        exs = examples(qas, index, embedder, config)
        cache.write_bytes(pickle.dumps(exs))
    print(f"features for {len(exs)} questions in {time.perf_counter() - started:.0f}s", file=sys.stderr)

    xs, ys = sentence_rows(exs, "fit")
    sentence_model = fit_logistic(xs, ys, SENTENCE_FEATURES)
    xp, yp, _ = span_rows(exs, sentence_model, "fit")
    span_model = fit_logistic(xp, yp, SPAN_FEATURES)
    xd, yd = decision_rows(exs, sentence_model, span_model, "fit")
    answer_model = fit_logistic(xd, yd, DECISION_FEATURES)
    xc, yc = decision_rows(exs, sentence_model, span_model, "calibrate")
    logits = answer_model.logits(xc)
    threshold = float(np.quantile(logits[yc == 1], TARGET_WRONG_REFUSALS))
    answer_model = replace(answer_model, threshold=threshold)
    refused = logits < threshold
    # English questions over Chinese text share no words with it and DRCD has none: their cut on the
    # standing alone is chosen on the article's DEV split.
    dev = article_dev_scores(AnswerModels(sentence_model, span_model, answer_model, {}), config, embedder)
    cross = [(z, a) for _, a, c, z in dev if c]
    cross_standing = balanced_threshold([z for z, _ in cross], [a for _, a in cross]) if cross else 2.2
    refused = logits < threshold
    held_out = held_out_span_quality(exs, sentence_model, span_model)
    held_out.update({"answerable_refused": float(refused[yc == 1].mean()),
                     "absent_paragraph_refused": float(refused[yc == 0].mean())})
    meta = {"fitted_on": f"{args.dataset.name} (t2s), FIT part ({1 - CALIBRATE_SHARE:.0%} of paragraphs by sha1 "
                         "of the paragraph name)",
            "threshold_chosen_on": f"{args.dataset.name} CALIBRATE part: at most {TARGET_WRONG_REFUSALS:.0%} of "
                                   "answerable questions refused",
            "cross_language_standing": round(float(cross_standing), 4),
            "cross_language_standing_chosen_on": f"eval/qa_article.jsonl DEV split, {len(cross)} English questions "
                                                 "sharing no words with the text, same balanced cut",
            "rows": {"sentence": int(len(ys)), "span": int(len(yp)), "answer": int(len(yd))},
            "held_out_calibrate": {k: round(v, 4) for k, v in held_out.items()},
            "tradeoff_calibrate": [{k: round(v, 4) for k, v in r.items()} for r in tradeoff(xc, yc, answer_model)],
            "script": "scripts/fit_answerer.py"}
    models = AnswerModels(sentence_model, span_model, answer_model, meta)
    payload = {"sentence": models.sentence.to_json(), "span": models.span.to_json(),
               "answer": models.answer.to_json(), "meta": meta}
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    kept = kept_excerpt(previous)
    if kept is not None:
        payload["excerpt"], meta["excerpt"] = kept
    elif "excerpt" in previous:
        print("the saved excerpt ranker was fitted on other features: dropped; refit it with "
              "scripts/fit_excerpt_ranker.py", file=sys.stderr)
    args.out.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(meta["held_out_calibrate"], indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
