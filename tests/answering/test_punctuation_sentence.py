"""README step 99: a "sentence" of punctuation alone (the 。 after a closing quote, `…大道也…」。`) is no candidate."""

from __future__ import annotations

import pytest

from rag.answering.features import sentences_in_hits
from tests.answering.test_document_lead import passage_with  # the last chunk holding a text, as a hit

# DRCD dev 4885-4 (traditional → simplified), cut short: the quote ends with 」 and the full stop stands alone
QUOTED = ("称号「继宫」和名字「明仁」都是昭和天皇所起，出自「立极垂统、列皇相承、继之述之，宣明治教以宣扬惟神之大道也…」。"
          "1936年，明仁开始接受教育。\n")


@pytest.fixture()
def engine(engine_over):
    return engine_over({"akihito.txt": QUOTED})


def test_a_lone_full_stop_is_indexed_but_never_a_candidate(engine):
    hit = passage_with(engine, "1936年")
    indexed = [engine.index.sentences[r].text for r in engine.index.sentence_rows_in(hit.chunk)]
    assert "。" in indexed  # the splitter's cut, kept in the index as built
    candidates = [engine.index.sentences[r].text for r, _ in sentences_in_hits(engine.index, [hit])]
    assert candidates == [t for t in indexed if t != "。"]
    assert candidates[-1] == "1936年，明仁开始接受教育。" and len(candidates) == len(indexed) - 1


def test_the_extractive_answerer_reads_the_sentence_after_the_quote_as_its_neighbour(engine):
    from rag.answering.features import previous_in_paragraph

    hit = passage_with(engine, "1936年")
    pairs = sentences_in_hits(engine.index, [hit])
    before = previous_in_paragraph(engine.index, pairs, len(pairs) - 1)
    assert before is not None and before.text.endswith("大道也…」")  # not the lone 。
