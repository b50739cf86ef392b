"""Document -> Chunks (langchain's recursive splitter on Chinese punctuation) and -> Sentences.

Both work section by section on the original text, so every piece keeps exact offsets:
`document.text[c.start:c.end] == c.text`.
"""

from __future__ import annotations

from collections.abc import Iterable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.answering.text import SENTENCE, mostly_latin
from rag.errors import RagError
from rag.schema import Chunk, Document, Sentence, trim_span

# Paragraphs first, then sentence ends (Chinese and ASCII), then clauses, then anything.
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "!", "?", ";", "，", ",", " ", ""]
# A document mostly in Latin script also ends sentences at ". " (README step 76): without it an English chunk ended at
# a comma or a space. Not for Chinese text, whose chunks stay as they were (2 of the 2,849 CMRC and DRCD contexts
# write ". " and would be cut otherwise).
LATIN_SEPARATORS = [*SEPARATORS[:6], ". ", *SEPARATORS[6:]]


def make_splitter(chunk_size: int, chunk_overlap: int, separators: list[str] = SEPARATORS) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=separators, keep_separator="end", chunk_size=chunk_size,
        chunk_overlap=chunk_overlap, strip_whitespace=True)


def locate_pieces(text: str, pieces: Iterable[str], source: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) in `text`, shifted by `offset`, of each piece a splitter cut from it, in order.

    Pieces overlap, so each is looked for from just after the previous one's start. Splitters only cut
    and strip, so a piece that is not there means a library change broke that.
    """
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        at = text.find(piece, cursor)
        if at < 0:
            raise RagError(f"chunking lost track of a piece of {source} near offset {offset + cursor}; "
                           "please report this with the file.")
        spans.append((offset + at, offset + at + len(piece)))
        cursor = at + 1
    return spans


def cut_sizes(document: Document, chunk_size: int, chunk_overlap: int, latin_scale: int = 1) -> tuple[int, int, bool]:
    """(size, overlap, latin): what `chunk_document` cuts `document` at. A document with more Latin letters than CJK
    characters (latin) is cut at `latin_scale` times the size and overlap (Config.latin_chunk_scale, README step 76:
    the sizes are characters, and English spends about four of them where Chinese spends one); a document of neither
    (a table of figures) at the sizes given."""
    latin = mostly_latin(document.text)
    scale = latin_scale if latin else 1
    return chunk_size * scale, chunk_overlap * scale, latin


def chunk_document(document: Document, chunk_size: int, chunk_overlap: int, latin_scale: int = 1) -> list[Chunk]:
    """Split each section of a cleaned document into overlapping chunks that carry the section title, at
    `cut_sizes` (English text at its Latin scale and its sentence ends, LATIN_SEPARATORS)."""
    size, overlap, latin = cut_sizes(document, chunk_size, chunk_overlap, latin_scale)
    splitter = make_splitter(size, overlap, LATIN_SEPARATORS if latin else SEPARATORS)
    chunks: list[Chunk] = []
    for section in document.sections:
        body = document.text[section.start:section.end]
        for start, end in locate_pieces(body, splitter.split_text(body), document.source, section.start):
            chunks.append(Chunk(id=Chunk.make_id(document.doc_id, start, end), doc_id=document.doc_id,
                                source=document.source, start=start, end=end, title=section.title,
                                text=document.text[start:end]))
    return chunks


def split_sentences(text: str, offset: int = 0, doc_id: str = "") -> list[Sentence]:
    """Sentences of `text` with offsets shifted by `offset`; surrounding whitespace is excluded."""
    sentences: list[Sentence] = []
    for m in SENTENCE.finditer(text):  # where a sentence ends: rag/answering/text.py
        s, e = trim_span(text, m.start(), m.end())
        if e > s:
            sentences.append(Sentence(doc_id=doc_id, start=offset + s, end=offset + e, text=text[s:e]))
    return sentences


def document_sentences(document: Document) -> list[Sentence]:
    """All sentences of the kept sections of a document."""
    out: list[Sentence] = []
    for section in document.sections:
        out.extend(split_sentences(document.text[section.start:section.end], section.start, document.doc_id))
    return out
