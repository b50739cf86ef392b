"""README step 43: the excerpt ranker, which sentences the language model reads (features.excerpt_features, the saved
"excerpt" model, Analysis.excerpt_order, Policy.excerpt_ranker, scripts/fit_excerpt_ranker.py)."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.answering.context import select_excerpts
from rag.answering.decision import MODEL_FILE, LinearModel, load_models
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.features import (
    EXCERPT_FEATURES,
    SENTENCE_FEATURES,
    QuestionTerms,
    SentenceCandidate,
    excerpt_features,
    local_weights,
)
from rag.answering.generation import Control
from rag.answering.model import DEFAULT_POLICY, ModelAnswerer, Policy
from rag.errors import ModelError
from rag.schema import Chunk, Hit, Sentence
from tests.answering.test_model_answerer import Scripted, retrieved

ROOT = Path(__file__).resolve().parents[2]


def candidates(*texts: str, previous: dict[int, str] | None = None) -> list[SentenceCandidate]:
    """One passage's sentences, each with the sentence features given by its position (cov = 0.1 * i, the others 0)."""
    text = "".join(texts)
    hit = Hit(chunk=Chunk("c", "d", "doc.txt", 0, len(text), "", text), score=1.0, rank=1)
    out, at = [], 0
    for i, t in enumerate(texts):
        f = np.zeros(len(SENTENCE_FEATURES))
        f[SENTENCE_FEATURES.index("cov")] = 0.1 * i
        prev = (previous or {}).get(i)
        out.append(SentenceCandidate(i, Sentence("d", at, at + len(t), t), hit,
                                     Sentence("d", 0, len(prev), prev) if prev else None, f))
        at += len(t)
    return out


def column(x: np.ndarray, name: str) -> list[float]:
    return [round(float(v), 6) for v in x[:, EXCERPT_FEATURES.index(name)]]


def test_a_word_in_every_sentence_weighs_nothing_and_a_rare_one_carries_the_local_coverage():
    # the subject 美图 is in all three sentences, 净利润 in one
    cands = candidates("美图的总部在北京。", "美图的收入很高。", "美图的净利润很高。")
    terms = QuestionTerms({"美图": 5.0, "净利润": 2.0}, 0.0, frozenset(), frozenset())
    weights = local_weights(terms, [{"美图", "总部"}, {"美图", "收入"}, {"美图", "净利润"}])
    assert weights["美图"] == 0.0 and weights["净利润"] == pytest.approx(2.0 * math.log(4 / 2))
    x = excerpt_features(terms, cands)
    assert x.shape == (3, len(EXCERPT_FEATURES))
    assert np.array_equal(x[:, :len(SENTENCE_FEATURES)], np.stack([c.features for c in cands]))  # the sentence features
    assert column(x, "local") == [0.0, 0.0, 1.0]  # all of the local weight is 净利润's
    assert column(x, "local_gap") == [-1.0, -1.0, 0.0]
    assert column(x, "cov_gap") == [-0.2, -0.1, 0.0]  # against the best candidate's cov


def test_the_previous_sentence_counts_for_the_local_context_and_nothing_local_is_zero():
    # 美图 in one sentence of two (weight 5 ln 1.5), 净利润 in the other (2 ln 1.5); the second's previous sentence
    # (a sentence of another passage here; the features read only its words) names 美图
    cands = candidates("美图的总部在北京。", "它的净利润很高。", previous={1: "美图的收入很高。"})
    terms = QuestionTerms({"美图": 5.0, "净利润": 2.0}, 0.0, frozenset(), frozenset())
    x = excerpt_features(terms, cands)
    assert column(x, "local") == [pytest.approx(5 / 7, abs=1e-6), pytest.approx(2 / 7, abs=1e-6)]
    assert column(x, "local_ctx") == [pytest.approx(5 / 7, abs=1e-6), 1.0]
    assert column(x, "local_ctx_gap") == [pytest.approx(5 / 7 - 1, abs=1e-6), 0.0]
    # no known word at all: no local weight to share, zeros (not NaN)
    empty = excerpt_features(QuestionTerms({}, 1.0, frozenset(), frozenset()), cands)
    assert column(empty, "local") == [0.0, 0.0] and not np.isnan(empty).any()


def saved(tmp_path: Path, features: tuple[str, ...] | None) -> Path:
    raw = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    raw.pop("excerpt", None)
    if features is not None:
        n = len(features)
        raw["excerpt"] = {"features": list(features), "mean": [0.0] * n, "scale": [1.0] * n,
                          "weights": [0.0] * n, "bias": 0.0, "threshold": 0.0}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return path


def test_the_saved_ranker_is_read_and_a_stale_one_names_its_script(tmp_path):
    assert load_models(saved(tmp_path, None)).excerpt is None
    assert load_models(saved(tmp_path, EXCERPT_FEATURES)).excerpt.features == EXCERPT_FEATURES
    with pytest.raises(ModelError, match="scripts/fit_excerpt_ranker.py"):
        load_models(saved(tmp_path, SENTENCE_FEATURES))
    assert load_models().excerpt is not None  # the shipped file has one


def test_the_model_reads_the_ranker_s_order_and_without_a_ranker_the_sentence_model_s(fake_engine):
    q, hits, evidence = retrieved(fake_engine, "美图2023年的净利润是多少？")
    shipped = ExtractiveAnswerer()
    models = shipped.models
    plain = shipped.analyse(q, hits, evidence)
    assert plain.excerpt_order != plain.order  # the shipped ranker reorders this question's candidates
    assert sorted(plain.excerpt_order) == list(range(len(plain.candidates)))
    # a ranker whose logits are all equal: passage order (a stable sort)
    flat = LinearModel(EXCERPT_FEATURES, np.zeros(len(EXCERPT_FEATURES)), np.ones(len(EXCERPT_FEATURES)),
                       np.zeros(len(EXCERPT_FEATURES)), 0.0)
    tied = ExtractiveAnswerer(models=replace(models, excerpt=flat)).analyse(q, hits, evidence)
    assert tied.excerpt_order == list(range(len(tied.candidates)))
    none = ExtractiveAnswerer(models=replace(models, excerpt=None)).analyse(q, hits, evidence)
    assert none.excerpt_order == none.order == plain.order

    def sent(ranker_name: str, answerer: ExtractiveAnswerer) -> str:
        generator = Scripted("3.7亿元[1]")
        policy = replace(DEFAULT_POLICY, excerpt_ranker=ranker_name)
        ModelAnswerer(generator, answerer, policy, "model").run(q, hits, evidence, Control())
        return generator.messages[0][-1]["content"]

    def first_excerpt(order: list[int]) -> str:  # the first excerpt as the prompt shows it (lines joined)
        e = select_excerpts(plain.candidates, order, DEFAULT_POLICY.top_sentences, DEFAULT_POLICY.max_excerpt_chars)
        return " ".join(e[0].hit.chunk.text.split())

    by_ranker, by_sentence = sent("excerpt", shipped), sent("sentence", shipped)
    assert by_ranker != by_sentence
    assert first_excerpt(plain.excerpt_order) in by_ranker.split("[1]")[1].split("\n")[0]
    assert first_excerpt(plain.order) in by_sentence.split("[1]")[1].split("\n")[0]
    assert first_excerpt(plain.excerpt_order) not in by_sentence
    # no saved ranker: the sentence model's order whatever the policy says
    assert sent("excerpt", ExtractiveAnswerer(models=replace(models, excerpt=None))) == by_sentence


def test_an_unknown_ranker_is_named():
    with pytest.raises(ModelError, match="unknown excerpt ranker 'best'"):
        Policy(excerpt_ranker="best")


def test_the_fitting_script_counts_answers_in_the_best_sentences_and_in_the_excerpts():
    sys.path.insert(0, str(ROOT / "scripts"))
    import fit_excerpt_ranker as fit

    cands = candidates("甲" * 9 + "。", "乙" * 9 + "。", "丙" * 9 + "。", "丁" * 9 + "。", "戊" * 9 + "。")

    class QA:
        part, start = "calibrate", 45  # the answer starts in the fifth sentence ([40, 50))

    labels = [0, 0, 0, 0, 1]
    terms = QuestionTerms({"戊": 1.0}, 0.0, frozenset(), frozenset())
    ex = (QA, None, terms, None, "other", {"present": ([cands[0].hit], cands, labels)})
    kept, x, y = fit.rows([ex], "calibrate")
    assert len(kept) == 1 and x.shape == (5, len(EXCERPT_FEATURES)) and y.tolist() == labels
    assert fit.rows([ex], "fit")[0] == []
    # best first: the fourth sentence, then the first; the answer is the fourth's neighbour
    got = fit.recall([ex], lambda _: [3, 0, 1, 2, 4])
    assert got == {"questions": 1, "answer_in_top1": 0.0, "answer_in_top2": 0.0, "answer_in_top3": 0.0,
                   "answer_in_excerpts": 1.0}
    assert fit.recall([ex], lambda _: [1, 4, 0, 2, 3])["answer_in_top2"] == 1.0
    assert fit.recall([ex], lambda _: [0, 1, 2, 3, 4])["answer_in_excerpts"] == 0.0


def test_the_recall_script_finds_the_answer_s_rank_and_whether_the_excerpts_hold_it():
    sys.path.insert(0, str(ROOT / "scripts"))
    import excerpt_recall

    from rag.answering.extractive import Analysis

    cands = candidates("美图的总部在厦门。", "美图的收入是27亿元。", "美图的净利润是3.7亿元。", "它的用户很多。")
    analysis = Analysis("factoid", "number", cands, np.zeros(4), [0, 3, 1, 2], excerpt_order=[2, 0, 1, 3])
    golds = ["3.7亿"]
    # the sentence model's order: the answer's sentence fourth, but it neighbours the second-best (3) in the excerpts
    assert excerpt_recall.standing(analysis, analysis.order, golds) == (3, True)
    assert excerpt_recall.standing(analysis, analysis.excerpt_order, golds) == (0, True)
    assert excerpt_recall.standing(analysis, [0, 1, 3, 2], ["厦门"]) == (0, True)
    assert excerpt_recall.standing(analysis, [0, 1, 2, 3], ["用户很多"]) == (3, False)  # s0-s2 sent, s3 not
    assert excerpt_recall.standing(analysis, [0, 1, 2, 3], ["9.11亿"]) == (None, False)
    assert excerpt_recall.holds("净利润3.7 亿元", ["3.7亿"])  # normalized as the evaluation compares


def test_a_stale_ranker_neither_stops_its_refit_nor_survives_an_answerer_refit(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import fit_answerer
    import fit_excerpt_ranker

    stale = saved(tmp_path, SENTENCE_FEATURES)  # a ranker fitted on other features than the code's
    with pytest.raises(ModelError):
        load_models(stale)
    assert fit_excerpt_ranker.saved_sentence_model(stale).features == SENTENCE_FEATURES  # its refit can read the file
    raw = json.loads(stale.read_text(encoding="utf-8"))
    assert fit_answerer.kept_excerpt(raw) is None  # dropped by a refit of the answerer's models
    current = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    ranker, meta = fit_answerer.kept_excerpt(current)
    assert ranker == current["excerpt"] and meta["script"] == "scripts/fit_excerpt_ranker.py"
    assert fit_answerer.kept_excerpt({}) is None
