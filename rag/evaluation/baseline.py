"""The plain tutorial pipeline, kept as a reference row in `rag eval --compare`.

RecursiveCharacterTextSplitter(1000, 200) on the raw file (no cleaning), the same embedding model, a flat
FAISS index, top-4 passages, and "answer" = the top passage, cited as its only source. No refusal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.chunking import locate_pieces
from rag.embedding import Embedder
from rag.schema import Answer, Chunk, Citation, Document, Hit, Sentence
from rag.stores import new_store

TUTORIAL_CHUNK_SIZE = 1000
TUTORIAL_OVERLAP = 200
TUTORIAL_K = 4


def tutorial_chunks(document: Document) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(chunk_size=TUTORIAL_CHUNK_SIZE, chunk_overlap=TUTORIAL_OVERLAP)
    spans = locate_pieces(document.text, splitter.split_text(document.text), document.source)
    return [Chunk(id=Chunk.make_id(document.doc_id, start, end), doc_id=document.doc_id, source=document.source,
                  start=start, end=end, title="", text=document.text[start:end]) for start, end in spans]


class TutorialPipeline:
    def __init__(self, embedder: Embedder, documents: Sequence[Document]) -> None:
        self.embedder = embedder
        self.chunks = [c for d in documents for c in tutorial_chunks(d)]
        vectors = embedder.embed_passages([c.text for c in self.chunks])
        self.index = new_store("faiss", embedder.dim)  # flat: exact inner product
        self.index.add(range(len(self.chunks)), [c.doc_id for c in self.chunks], vectors)

    def ask(self, question: str) -> Answer:
        t0 = time.perf_counter()
        vector = self.embedder.embed_queries([question])
        t1 = time.perf_counter()
        hits = [Hit(chunk=self.chunks[r], score=s, rank=i, dense=s)
                for i, (r, s) in enumerate(self.index.search(vector[0], TUTORIAL_K), start=1)]
        t2 = time.perf_counter()
        top = hits[0].chunk
        citation = Citation(n=1, hit=hits[0], sentence=Sentence(top.doc_id, top.start, top.end, top.text))
        timings = {"embed": (t1 - t0) * 1000, "search": (t2 - t1) * 1000, "answer": 0.0, "total": (t2 - t0) * 1000}
        return Answer(question=question, text=top.text, refused=False, citations=(citation,), hits=tuple(hits),
                      timings_ms=timings, retrieval_query=question)
