"""README step 78: the extractive answerer quotes a sentence of an English passage up to max_chars times
Config.latin_answer_scale (the same content takes about four times the characters in English); Chinese passages keep
max_chars."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.extractive import OPEN_CHARS, ExtractiveAnswerer
from rag.answering.features import SentenceCandidate
from rag.config import Config
from rag.errors import InputError
from rag.schema import Chunk, Hit, Sentence

# one sentence of 163 characters: over 120, within 240
LONG = ("As a young woman she met Charles Babbage and studied his proposed mechanical computer, the Analytical Engine, "
        "for many years afterwards with great interest and care.")


def candidate(text: str) -> SentenceCandidate:
    chunk = Chunk(id="c0", doc_id="d", source="ada.txt", start=0, end=len(text), title="", text=text)
    return SentenceCandidate(0, Sentence("d", 0, len(text), text), Hit(chunk=chunk, score=1.0, rank=1), None,
                             np.zeros(1))


def hit_of(text: str) -> Hit:
    return candidate(text).hit


def test_the_budget_scales_english_passages_only():
    answerer = ExtractiveAnswerer(120, latin_scale=2)
    assert answerer.budget(hit_of(LONG), 120) == 240
    assert answerer.budget(hit_of(LONG), OPEN_CHARS) == 500
    assert answerer.budget(hit_of("美图2023年的营收为27亿元。"), 120) == 120
    # the passage decides, not the sentence: a Chinese passage holding a sentence mostly in Latin letters is Chinese
    assert answerer.budget(hit_of("2023年,ChatGPT席卷全球;美图推出了视觉大模型，用于设计和影像处理。"), 120) == 120
    assert ExtractiveAnswerer(120).budget(hit_of(LONG), 120) == 120  # scale 1: as before


def test_a_long_english_sentence_is_quoted_whole_at_scale_two_and_cut_to_a_clause_window_at_one():
    c = candidate(LONG)
    keep = (LONG.index("Charles"), LONG.index("Charles") + len("Charles Babbage"))
    whole = ExtractiveAnswerer(120, latin_scale=2)._cut(c, 0, len(LONG), keep)
    assert whole.text == LONG and (whole.start, whole.end) == (0, len(LONG))
    window = ExtractiveAnswerer(120, latin_scale=1)._cut(c, 0, len(LONG), keep)
    assert window.text == ("As a young woman she met Charles Babbage and studied his proposed mechanical computer, "
                           "the Analytical Engine")


def test_a_long_chinese_sentence_is_cut_alike_at_any_scale():
    text = "，".join(f"第{i}季度美图的营收增长了百分之{i}十左右并且用户数也继续上升" for i in range(1, 6)) + "。"
    assert len(text) > 120
    cuts = {ExtractiveAnswerer(120, latin_scale=s)._cut(candidate(text), 0, len(text), (0, 4)).text for s in (1, 2, 6)}
    assert len(cuts) == 1 and len(cuts.pop()) <= 120


def test_the_latin_answer_scale_is_checked_and_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("RAG_LATIN_ANSWER_SCALE", "3")
    assert Config.from_env().latin_answer_scale == 3
    for bad in (0, 7):
        with pytest.raises(InputError, match=f"latin_answer_scale={bad} is out of range; use 1..6"):
            Config(latin_answer_scale=bad)
    assert "latin_answer_scale" not in Config().index_settings()  # an answer setting: the index is not rebuilt for it


def test_make_answerer_passes_the_scale_to_the_extractive_answerer_and_the_models_stand_in():
    from rag.answering import make_answerer

    assert make_answerer(Config(latin_answer_scale=3), "extractive").latin_scale == 3
    assert make_answerer(Config(latin_answer_scale=3), "auto").extractive.latin_scale == 3


def test_an_english_open_answer_holds_more_sentences_at_scale_two():
    from rag.answering.question import Question

    sentences = [
        "The walls were built in the early fifth century because the population of the city was growing rapidly and "
        "the old walls could no longer hold it.",
        "The land outside the city was a flat and open plain, so the defensive system was designed to be extremely "
        "complex, with a moat and two walls.",
        "The defenders could also close the harbour with a great chain, which kept hostile fleets away from the "
        "sea walls for many centuries.",
    ]
    text = " ".join(sentences)
    chunk = Chunk(id="c0", doc_id="d", source="walls.txt", start=0, end=len(text), title="", text=text)
    hit = Hit(chunk=chunk, score=1.0, rank=1)
    at, candidates = 0, []
    for k, s in enumerate(sentences):
        candidates.append(SentenceCandidate(k, Sentence("d", at, at + len(s), s), hit, None, np.zeros(1)))
        at += len(s) + 1
    question = Question.make("Why were the walls so complex?", None)
    logits, order = np.zeros(3), [0, 1, 2]
    wide = ExtractiveAnswerer(120, latin_scale=2)._open(question, candidates, logits, order, [hit], "open")
    assert [c.sentence.text for c in wide.citations] == sentences  # 136 + 135 + 130 characters, within 500
    narrow = ExtractiveAnswerer(120, latin_scale=1)._open(question, candidates, logits, order, [hit], "open")
    # at scale 1 the bound is 250: after the first (136, one clause, kept whole) neither 135 nor 130 more fits
    assert [c.sentence.text for c in narrow.citations] == sentences[:1]
