"""Sanity checks for the hand-written evaluation set eval/qa_article.jsonl.

Fast, no model: the set must be well-formed, its evidence must be verbatim text of the
article file, its answers must be extractive (contained in the evidence), and it must meet
the coverage minimums (unanswerable share, paraphrase / multi-sentence / English / follow-up).
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from tests.conftest import ROOT

QA_PATH = ROOT / "eval" / "qa_article.jsonl"
ARTICLE_PATH = ROOT / "data" / "meitu_ai_article.txt"

REQUIRED_FIELDS = {
    "id": str,
    "question": str,
    "answers": list,
    "evidence": list,
    "history": list,
    "tags": list,
}
MIN_CASES = 95
MIN_UNANSWERABLE_SHARE = 0.15
TAG_MINIMUMS = {
    "paraphrase": 25,
    "summary": 6,
    "entity": 8,
    "open": 12,
    "list": 8,
    "multi_sentence": 5,
    "english": 10,
    "followup": 6,
    # broad topical coverage
    "number": 10,
    "name": 10,
    "date": 10,
    "product": 10,
}
EVIDENCE_MIN_CHARS = 10
EVIDENCE_MAX_CHARS = 80

_WS = re.compile(r"\s+")  # str regex: also matches NBSP / full-width space


def _squash(s: str) -> str:
    return _WS.sub("", s)


def _load_lines() -> list[str]:
    return [ln for ln in QA_PATH.read_text(encoding="utf-8").splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def article() -> str:
    return ARTICLE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return [json.loads(ln) for ln in _load_lines()]


def test_every_line_parses_as_object():
    lines = _load_lines()
    assert lines, "empty QA set"
    for n, ln in enumerate(lines, 1):
        obj = json.loads(ln)
        assert isinstance(obj, dict), f"line {n} is not a JSON object"


def test_required_fields_and_types(cases):
    for c in cases:
        for field, typ in REQUIRED_FIELDS.items():
            assert field in c, f"{c.get('id')}: missing {field}"
            assert isinstance(c[field], typ), f"{c['id']}: {field} should be {typ.__name__}"
        assert c["question"].strip(), c["id"]
        assert all(isinstance(a, str) and a.strip() for a in c["answers"]), c["id"]
        assert all(isinstance(e, str) and e.strip() for e in c["evidence"]), c["id"]
        assert all(isinstance(t, str) and t for t in c["tags"]), c["id"]
        assert len(set(c["answers"])) == len(c["answers"]), f"{c['id']}: duplicate answers"
        for turn in c["history"]:
            assert isinstance(turn, dict), c["id"]
            assert turn.get("role") in {"user", "assistant"}, c["id"]
            assert isinstance(turn.get("content"), str) and turn["content"].strip(), c["id"]


def test_ids_unique(cases):
    ids = [c["id"] for c in cases]
    dupes = [i for i, k in Counter(ids).items() if k > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_evidence_is_verbatim_in_article(cases, article):
    for c in cases:
        for ev in c["evidence"]:
            assert ev in article, f"{c['id']}: evidence not found verbatim: {ev!r}"


def test_evidence_length_is_a_clause(cases):
    for c in cases:
        for ev in c["evidence"]:
            assert EVIDENCE_MIN_CHARS <= len(ev) <= EVIDENCE_MAX_CHARS, (
                f"{c['id']}: evidence length {len(ev)}: {ev!r}"
            )


def test_answers_are_extractive(cases):
    for c in cases:
        evs = [_squash(e) for e in c["evidence"]]
        for ans in c["answers"]:
            a = _squash(ans)
            assert any(a in e for e in evs), f"{c['id']}: answer {ans!r} not in its evidence"


def test_answerable_and_unanswerable_are_consistent(cases):
    for c in cases:
        tags = set(c["tags"])
        if c["answers"] or c.get("facts"):
            assert c["evidence"], f"{c['id']}: answerable case without evidence"
            assert "answerable" in tags and "unanswerable" not in tags, c["id"]
        else:
            assert c["evidence"] == [], f"{c['id']}: unanswerable case must have no evidence"
            assert "unanswerable" in tags and "answerable" not in tags, c["id"]


def test_facts_are_in_the_article(cases, article):
    """Every required-fact group can be met by the article's own words, and `need` is reachable."""
    with_facts = [c for c in cases if c.get("facts")]
    assert len(with_facts) >= 30
    for c in with_facts:
        groups, need = c["facts"]["groups"], c["facts"]["need"]
        assert 1 <= need <= len(groups), c["id"]
        met = [g for g in groups if any(_WS.sub("", s) in _WS.sub("", article) for s in g)]
        assert len(met) >= need, f"{c['id']}: only {len(met)} of its fact groups occur in the article"


def test_splits(cases):
    """Every case is in dev or test; each kind of case has some of both."""
    assert {c.get("split") for c in cases} == {"dev", "test"}
    for tag in ("summary", "entity", "open", "list", "paraphrase", "unanswerable", "followup"):
        splits = {c["split"] for c in cases if tag in c["tags"]}
        assert splits == {"dev", "test"}, f"tag {tag}: splits {splits}"


def test_language_tags(cases):
    for c in cases:
        tags = set(c["tags"])
        assert len(tags & {"zh", "en"}) == 1, f"{c['id']}: needs exactly one of zh/en"
        if "en" in tags:
            assert "english" in tags, c["id"]
        if "english" in tags:
            assert "en" in tags, c["id"]


def test_followups_carry_history(cases):
    for c in cases:
        if "followup" in c["tags"]:
            roles = [t["role"] for t in c["history"]]
            assert "user" in roles and "assistant" in roles, (
                f"{c['id']}: follow-up needs a user and assistant turn"
            )


def test_minimum_size(cases):
    assert len(cases) >= MIN_CASES


def test_unanswerable_share(cases):
    n_unans = sum(1 for c in cases if not c["answers"])
    assert n_unans / len(cases) >= MIN_UNANSWERABLE_SHARE, f"{n_unans}/{len(cases)} unanswerable"


@pytest.mark.parametrize("tag,minimum", sorted(TAG_MINIMUMS.items()))
def test_tag_minimums(cases, tag, minimum):
    n = sum(1 for c in cases if tag in c["tags"])
    assert n >= minimum, f"tag {tag}: {n} < {minimum}"


def test_some_unanswerable_in_english(cases):
    assert any(not c["answers"] and "en" in c["tags"] for c in cases)


def test_questions_unique(cases):
    keys = [(c["question"], json.dumps(c["history"], ensure_ascii=False)) for c in cases]
    dupes = [k[0] for k, n in Counter(keys).items() if n > 1]
    assert not dupes, f"duplicate questions: {dupes}"
