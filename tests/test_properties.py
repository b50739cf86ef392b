"""Properties that must hold for any text: offsets map back exactly, cleaning invents nothing, and a
citation never points outside the retrieved passages. Hypothesis generates the texts; no model is used."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from rag.answering.citations import check_citations
from rag.answering.sentence import Query, answer_question
from rag.chunking import chunk_document, document_sentences
from rag.config import Config
from rag.documents import clean, make_document
from rag.errors import InputError
from rag.indexer import add_documents, empty_index
from rag.retrieval import retrieve
from rag.schema import dedup_key
from rag.tokenize import tokenize
from tests.fakes import HashEmbedder

EMBEDDER = HashEmbedder()
CONFIG = Config(model=EMBEDDER.name, chunk_size=60, chunk_overlap=10)

# Characters that exercise every branch: CJK, Latin, digits, sentence ends, clause marks, closing quotes,
# bullets, heading marks, and every kind of whitespace Python knows (some of which str.split() and
# str.splitlines() treat as line breaks while the readers only break on "\n").
ALPHABET = list("美图公司收入利润增长亿元的是在了AIai模型用户Meitu0123456789") + \
    list("。！？!?；;…，,、：:“”「」）)\"'#•·-|") + list(" \t\n\n\n\r\x0b\x0c\x1c\x85\u2028\u3000\xa0")
LINES = ["# 标题", "1、第一部分", "第二章 市场", "• 相关新闻一", "• 相关新闻二", "分享", "4.4k", "扫一扫下载APP",
         "图源：美图官网", "美图2023年总收入27亿元，同比增长29.3%。", "净利润3.7亿元。", "AI的魔法显灵了。",
         "Meitu earned 2.7 billion yuan in 2023.", "这是一段很长的正文。" * 12, "", "   "]
free_text = st.text(alphabet=st.sampled_from(ALPHABET), max_size=600)
structured_text = st.lists(st.one_of(st.sampled_from(LINES), st.text(st.sampled_from(ALPHABET), max_size=80)),
                           max_size=25).flatmap(
    lambda lines: st.sampled_from(["\n", "\n\n", "\n \n", "\r\n"]).map(lambda sep: sep.join(lines)))
any_text = st.one_of(free_text, structured_text, st.text(max_size=300))
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def document_or_reject(text: str):
    try:
        return make_document("t.txt", text)
    except InputError:
        assume(False)


def stripped_lines(text: str) -> set[str]:
    return {line.strip() for line in text.split("\n") if line.strip()}


@FAST
@given(text=any_text, chunk_size=st.integers(50, 450), overlap_share=st.floats(0, 0.49))
@example(text="正文。\n\n" + "很长的一句话，" * 80, chunk_size=50, overlap_share=0.45)
@example(text="重复的句子。重复的句子。重复的句子。" * 20, chunk_size=50, overlap_share=0.3)
def test_chunk_and_sentence_offsets_map_back_to_the_source(text, chunk_size, overlap_share):
    doc = document_or_reject(text)
    overlap = min(int(chunk_size * overlap_share), chunk_size // 2 - 1)
    chunks = chunk_document(doc, chunk_size, overlap)
    assert chunks, "a document with kept text must give at least one chunk"
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text and c.start < c.end
        assert c.text == c.text.strip() and len(c.text) <= chunk_size
        assert any(s.start <= c.start and c.end <= s.end for s in doc.sections)
    for s in document_sentences(doc):
        assert doc.text[s.start:s.end] == s.text and s.text.strip() == s.text and s.text
        assert any(sec.start <= s.start and s.end <= sec.end for sec in doc.sections)


@FAST
@given(text=any_text)
def test_cleaning_keeps_real_lines_only(text):
    sections = clean(text)
    original_lines = stripped_lines(text)
    previous_end = 0
    kept_keys: list[str] = []
    for s in sections:
        assert previous_end <= s.start < s.end <= len(text)  # in order, inside the text, never overlapping
        previous_end = s.end
        body = text[s.start:s.end]
        assert body == body.strip()
        for line in stripped_lines(body):
            assert line in original_lines
            kept_keys.append(dedup_key(line))
        assert not s.title or s.title in text
    assert len(kept_keys) == len(set(kept_keys)), "a repeated paragraph was kept twice"


SENTENCE = st.text(st.sampled_from(list("美图公司收入利润增长亿元年月AI模型用户订阅厦门研发投入0123456789")),
                   min_size=4, max_size=30).map(lambda s: s + "。")


@st.composite
def corpus_and_question(draw):
    paragraphs = draw(st.lists(st.lists(SENTENCE, min_size=1, max_size=6).map("".join), min_size=1, max_size=8))
    text = "\n\n".join(paragraphs)
    sentences = [s + "。" for p in paragraphs for s in p.split("。") if s]
    question = draw(st.one_of(st.sampled_from(sentences), SENTENCE,
                              st.sampled_from(sentences).map(lambda s: s[: max(2, len(s) // 2)] + "是多少？")))
    k = draw(st.integers(1, 6))
    return text, question, k


def fake_index(text: str):
    doc = make_document("corpus.txt", text)
    index, _ = add_documents(empty_index(EMBEDDER), [doc], EMBEDDER, CONFIG)
    return index


def ask(index, question: str, k: int):
    vector = EMBEDDER.embed_queries([question])[0]
    hits = retrieve(index, vector, tokenize(question), k, "hybrid")
    return answer_question(Query.make(question), vector, index, hits, max_chars=60)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=corpus_and_question())
def test_citations_stay_inside_the_retrieved_passages(case):
    text, question, k = case
    index = fake_index(text)
    answer = ask(index, question, k)
    assert check_citations(answer) == []
    hit_ids = {h.chunk.id for h in answer.hits}
    for c in answer.citations:
        assert c.hit.chunk.id in hit_ids
        assert text[c.sentence.start:c.sentence.end] == c.sentence.text
    if answer.refused:
        assert answer.citations == ()


def test_the_citation_property_is_not_vacuous():
    """With the fake embedder a sentence asked back is answered, so the property above sees citations."""
    text = "美图2023年总收入27亿元。净利润3.7亿元。\n\n公司总部在厦门。研发投入持续增长。"
    answer = ask(fake_index(text), "美图2023年总收入27亿元。", 3)
    assert not answer.refused and answer.citations
    assert answer.citations[0].sentence.text == "美图2023年总收入27亿元。"
    assert check_citations(answer) == []


@pytest.mark.parametrize("text", ["", " \n\t", "分享\n\n评论"])
def test_documents_with_nothing_kept_are_rejected(text):
    with pytest.raises(InputError, match="no body text"):
        make_document("t.txt", text)
