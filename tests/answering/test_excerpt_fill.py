"""How the excerpt budget is spent (README step 37): the best sentences first, then their neighbours where they fit."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.context import FILLS, select_excerpts
from rag.answering.features import SentenceCandidate
from rag.schema import Chunk, Hit, Sentence

# One passage of eight sentences; offsets s0 [0,30) s1 [30,90) s2 [90,130) s3 [130,180) s4 [180,210) s5 [210,240)
# s6 [240,280) s7 [280,300). The question's best sentence is s1, the next best s6: with its neighbours the first run
# is [0,130), 130 characters, the second's [210,300), 90; they do not touch.
LENGTHS = (30, 60, 40, 50, 30, 30, 40, 20)
TEXT = "".join(chr(ord("甲") + i) * (n - 1) + "。" for i, n in enumerate(LENGTHS))


def passage() -> tuple[Hit, list[SentenceCandidate]]:
    chunk = Chunk("c1", "d1", "doc.txt", 0, len(TEXT), "", TEXT)
    hit = Hit(chunk=chunk, score=1.0, rank=1)
    candidates, at = [], 0
    for row, n in enumerate(LENGTHS):
        s = Sentence("d1", at, at + n, TEXT[at:at + n])
        candidates.append(SentenceCandidate(row, s, hit, None, np.zeros(1)))
        at += n
    return hit, candidates


ORDER = [1, 6, 3, 0, 2, 4, 5, 7]  # best first: s1, then s6, s3, ...


def texts(excerpts) -> list[str]:  # noqa: ANN001
    return [e.hit.chunk.text for e in excerpts]


def test_neighbours_leave_out_a_second_run_that_does_not_fit_whole():
    _, candidates = passage()
    excerpts = select_excerpts(candidates, ORDER, 2, 200)  # the fill of rounds 3-29
    assert texts(excerpts) == [TEXT[0:130]]  # 130 + 90 > 200: s6 is not shown at all
    assert select_excerpts(candidates, ORDER, 2, 240) == select_excerpts(candidates, ORDER, 2, 240, fill="neighbours")
    assert texts(select_excerpts(candidates, ORDER, 2, 240)) == [TEXT[0:130], TEXT[210:300]]


def test_sentences_first_keeps_the_second_best_sentence_and_widens_where_it_fits():
    _, candidates = passage()
    excerpts = select_excerpts(candidates, ORDER, 2, 200, fill="sentences")
    # s1 and s6 (100), then s1's neighbours (170); s6's would make 220
    assert texts(excerpts) == [TEXT[0:130], TEXT[240:280]]
    assert [e.rank for e in excerpts] == [0, 1]
    # at 240 both runs fit: the same excerpts as the neighbours fill
    assert texts(select_excerpts(candidates, ORDER, 2, 240, fill="sentences")) == [TEXT[0:130], TEXT[210:300]]


def test_sentences_first_widens_the_second_where_the_first_cannot_grow():
    _, candidates = passage()
    # budget 150: s1 and s6 (100); s1's run would make 170, s6's makes 150
    assert texts(select_excerpts(candidates, ORDER, 2, 150, fill="sentences")) == [TEXT[30:90], TEXT[210:300]]
    # a third best sentence, s3, fits beside them (150); s1's run then touches it and they merge ([0,180): 220 with
    # s6); s6's run (270) and s3's (250) no longer fit
    assert texts(select_excerpts(candidates, ORDER, 3, 240, fill="sentences")) == [TEXT[0:180], TEXT[240:280]]


def test_excerpts_stay_exact_slices_of_their_passage_and_the_best_is_cut_when_alone_too_long():
    hit, candidates = passage()
    for fill in FILLS:
        for budget in (10, 60, 100, 200, 400):
            excerpts = select_excerpts(candidates, ORDER, 3, budget, fill=fill)
            assert excerpts, (fill, budget)
            assert sum(len(t) for t in texts(excerpts)) <= budget
            for e in excerpts:
                c = e.hit.chunk
                assert TEXT[c.start:c.end] == c.text and e.origin == hit
    assert texts(select_excerpts(candidates, ORDER, 2, 10, fill="sentences")) == [TEXT[30:40]]


def test_an_unknown_fill_is_named():
    _, candidates = passage()
    with pytest.raises(ValueError, match="excerpt fill 'words' is not one of neighbours, sentences"):
        select_excerpts(candidates, ORDER, 2, 240, fill="words")
