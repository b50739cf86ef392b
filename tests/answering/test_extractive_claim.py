"""Step 72: with its anchor check on, the extractive answerer also refuses a Chinese factoid answer where too little of
the question's word weight stands beside its cited sentence (the claim cut the model route asks of its answers;
routes.json's `extractive_own_claim_cut`, `Config.extractive_claim`), and `study_anchors.py --claim` chooses the cut by
the rule written first."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.answering import own_claim_cut
from rag.answering.claim import claim_share, context_of
from rag.answering.features import question_terms
from rag.answering.own_meaning import load_own_claim_cut
from rag.config import Config
from rag.errors import ModelError
from tests.answering.test_extractive_meaning import replace_attrs
from tests.answering.test_model_answerer import retrieved
from tests.answering.test_prefer_extractive import extractive_with

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import study_anchors  # noqa: E402

QUESTION = "美图2023年的纯利是多少？"  # 纯利 (net profit in other words): the article writes 净利润


def checked(cut: float | None, anchors: bool = True):  # noqa: ANN201
    """The extractive answerer that always answers (its threshold -inf), its anchors checked, with the claim `cut`."""
    return replace_attrs(extractive_with(-np.inf), check_anchors=anchors, claim_cut=cut)


def share_of(engine, answer, question: str = QUESTION) -> float:  # noqa: ANN001
    first = answer.citations[0]
    return claim_share(question_terms(question, "", engine.index), context_of(engine.index, first.hit, first.sentence))


def test_a_factoid_answer_is_refused_below_the_claim_cut_and_kept_at_it(fake_engine):
    q, hits, evidence = retrieved(fake_engine, QUESTION)
    kept = checked(None).answer(q, hits, evidence)
    assert not kept.refused and kept.citations and kept.kind == "factoid"
    share = share_of(fake_engine, kept)
    assert 0.0 < share < 1.0
    at = checked(share).answer(q, hits, evidence)
    assert (at.refused, at.text) == (False, kept.text)  # at the cut: kept, word for word
    refused = checked(share + 0.001).answer(q, hits, evidence)
    assert refused.refused and refused.answerer == "extractive"
    assert refused.reason == (f"beside the extractive answer's sentence stand {share:.2f} of the question's word weight, "
                              f"below {share + 0.001:.2f}: the value may belong to something other than what was "
                              "asked")
    assert not checked(share + 0.001, anchors=False).answer(q, hits, evidence).refused  # only with the anchor check


def test_an_open_question_is_not_cut(fake_engine):
    question = "美图为什么要做AI？"
    q, hits, evidence = retrieved(fake_engine, question)
    answer = checked(None).answer(q, hits, evidence)
    assert not answer.refused and answer.kind != "factoid"
    assert checked(1.0).answer(q, hits, evidence).text == answer.text


def test_routes_json_claim_cut_loads_and_a_bad_one_is_named(tmp_path, monkeypatch):
    path = tmp_path / "routes.json"
    assert load_own_claim_cut(path) is None  # no file
    path.write_text(json.dumps({"extractive_own_claim_cut": None}), encoding="utf-8")
    assert load_own_claim_cut(path) is None
    path.write_text(json.dumps({"extractive_own_claim_cut": {"below": 0.15}}), encoding="utf-8")
    assert load_own_claim_cut(path) == 0.15
    for bad in (0, 1.5, "0.2", True, None):
        path.write_text(json.dumps({"extractive_own_claim_cut": {"below": bad}}), encoding="utf-8")
        with pytest.raises(ModelError, match=r"its `below` must be a share.*--claim --write.*extractive_own_claim_cut: "
                                             r"null"):
            load_own_claim_cut(path)
    # Config's switches: the cut comes with the anchor check and RAG_EXTRACTIVE_CLAIM, both on by default
    monkeypatch.setenv("RAG_EXTRACTIVE_CLAIM", "0")
    assert own_claim_cut(Config.from_env()) is None
    monkeypatch.delenv("RAG_EXTRACTIVE_CLAIM")
    assert own_claim_cut(Config.from_env(extractive_anchors=False)) is None
    assert own_claim_cut(Config.from_env()) == load_own_claim_cut() is None  # routes.json saves null: step 72 not taken


def _row(kind: str, right: bool, claim: float | None, refused: bool = False, missing: list | None = None) -> dict:
    return {"id": f"{kind}-{claim}-{right}-{refused}", "kind": kind, "question": "项目哪一年完工？", "answers": ["2018"],
            "refused": refused, "right": right, "missing": missing or [], "cited": not refused, "passage": "项目于2018年完工。",
            "lead": "", "claim": claim}


def test_study_anchors_cuts_by_the_recorded_claim_share_and_chooses_by_step_61s_rule(monkeypatch):
    monkeypatch.setattr(study_anchors, "shipped_missing", lambda row: row["missing"])  # the anchors as recorded
    rows = ([_row("answerable", True, 0.5)] * 8 + [_row("answerable", True, 0.12)] + [_row("answerable", False, 0.1)]
            + [_row("absent", False, 0.08)] * 4 + [_row("absent", False, 0.5)] * 4
            + [_row("adversarial", False, None, refused=True)] * 2 + [_row("noun", False, 0.04)] * 2)
    none = study_anchors.claim_rates(rows, {}, None, None)
    assert none == {"answerable": 90.0, "adversarial": 100.0, "noun": 0.0, "absent": 0.0}
    at_01 = study_anchors.claim_rates(rows, {}, None, 0.1)  # 0.08 and 0.04 cut; 0.1 and 0.12 kept
    assert at_01 == {"answerable": 90.0, "adversarial": 100.0, "noun": 100.0, "absent": 50.0}
    at_015 = study_anchors.claim_rates(rows, {}, None, 0.15)  # a right answer at 0.12 lost: 10 points
    assert at_015["answerable"] == 80.0
    assert study_anchors.choose_claim(rows, {}, None) == 0.1  # 0.15 and up lose more than 1 point; 0.1 beats 0.05
    assert study_anchors.choose_claim([r for r in rows if r["kind"] != "noun" and r["claim"] != 0.08], {}, None) is None
    with pytest.raises(SystemExit, match="rows without `claim`"):
        study_anchors.claim_rates([{k: v for k, v in rows[0].items() if k != "claim"}], {}, None, 0.1)


def test_the_cited_sentences_share_is_the_one_beside_its_sentence_and_none_without_a_sentence(fake_engine):
    from dataclasses import replace

    from rag.answering.claim import cited_claim_share, cited_context

    q, hits, evidence = retrieved(fake_engine, QUESTION)
    first = checked(None).answer(q, hits, evidence).citations[0]
    terms = question_terms(QUESTION, "", fake_engine.index)
    assert cited_context(fake_engine.index, first) == context_of(fake_engine.index, first.hit, first.sentence)
    assert cited_claim_share(terms, fake_engine.index, first) == claim_share(
        terms, context_of(fake_engine.index, first.hit, first.sentence))
    bare = replace(first, sentence=None)  # a citation of a passage, not of one of its sentences
    assert cited_context(fake_engine.index, bare) is None and cited_claim_share(terms, fake_engine.index, bare) is None
