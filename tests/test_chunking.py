"""Chunks and sentences keep exact offsets into the original text and carry section titles."""

from __future__ import annotations

import pytest

from rag.chunking import chunk_document, document_sentences, split_sentences
from rag.documents import make_document, read_file
from tests.conftest import ARTICLE


@pytest.fixture(scope="module")
def article():
    return read_file(ARTICLE)


@pytest.mark.parametrize("size,overlap", [(300, 60), (150, 30), (80, 10)])
def test_every_chunk_maps_back_to_the_original(article, size, overlap):
    chunks = chunk_document(article, size, overlap)
    assert chunks
    for c in chunks:
        assert article.text[c.start:c.end] == c.text
        assert len(c.text) <= size
        assert c.source == "meitu_ai_article.txt" and c.doc_id == article.doc_id
    assert len({c.id for c in chunks}) == len(chunks)


def test_article_chunks_carry_their_section_title(article):
    chunks = chunk_document(article, 300, 60)
    revenue = next(c for c in chunks if "三项业务的全年营收" in c.text)
    assert revenue.title == "1、AI,怎么拯救美图?"
    assert len(chunks) == 23


def test_neighbouring_chunks_overlap_inside_a_section(article):
    chunks = chunk_document(article, 300, 60)
    same_section = [(a, b) for a, b in zip(chunks, chunks[1:], strict=False) if a.title == b.title]
    assert any(b.start < a.end for a, b in same_section)


def test_chunks_split_at_chinese_sentence_ends():
    text = "标题\n\n" + "".join(f"第{i}句话说的是一件事情。" for i in range(30))
    doc = make_document("t.txt", text)
    for c in chunk_document(doc, 100, 0):
        assert c.text.endswith("。")


def test_split_sentences_offsets_and_quotes():
    text = "他说:“好的。”然后走了!最后一句没有句号\n下一行;分号后"
    sentences = split_sentences(text, offset=10)
    assert [s.text for s in sentences] == ["他说:“好的。”", "然后走了!", "最后一句没有句号", "下一行;", "分号后"]
    for s in sentences:
        assert text[s.start - 10:s.end - 10] == s.text


def test_document_sentences_are_exact(article):
    sentences = document_sentences(article)
    assert len(sentences) == 115
    for s in sentences:
        assert article.text[s.start:s.end] == s.text


ENGLISH = "".join(f"Pier {i} of the Old Harbour was rebuilt in {1900 + i} after {i + 2} years of work by the city's "
                  f"engineers. It is {100 + i} metres long, carries {i + 1} lanes of traffic and two railway tracks, and "
                  f"was for {i * 10} years the widest pier of its kind. " for i in range(1, 7))


@pytest.mark.parametrize("scale", [1, 4])
def test_an_english_document_is_cut_at_the_latin_scale(scale):
    doc = make_document("harbour.txt", "The Harbour\n\n" + ENGLISH)
    chunks = chunk_document(doc, 300, 60, latin_scale=scale)
    assert all(len(c.text) <= 300 * scale for c in chunks)
    assert max(len(c.text) for c in chunks) > 300 * (scale - 1)  # the whole scaled size is used
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)
    # README step 76: chunks end where sentences do (". " is a separator); at 4 (Config's default) a chunk holds five
    # of these 216-character pairs of sentences, as 300 characters of Chinese hold about as much
    assert [len(c.text) for c in chunks] == ([1177, 340] if scale == 4 else [216] * 6)
    assert all(c.text.endswith(".") for c in chunks)


def test_a_chinese_document_is_cut_alike_whatever_the_latin_scale(article):
    assert chunk_document(article, 300, 60, latin_scale=4) == chunk_document(article, 300, 60)


def test_a_document_of_figures_alone_is_cut_as_before():
    doc = make_document("table.txt", "2024\n\n" + " ".join(f"{i} {i * 3.5} {i * 7}" for i in range(200)) + "\n")
    assert chunk_document(doc, 300, 60, latin_scale=4) == chunk_document(doc, 300, 60)
