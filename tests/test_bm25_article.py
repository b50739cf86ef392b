"""BM25 on bm25s ranks the article's passages exactly as the pure-Python Okapi it replaced did."""

from __future__ import annotations

import json
import math
from collections import Counter

from rag.bm25 import BM25, K1, B
from rag.chunking import chunk_document
from rag.documents import read_documents
from rag.indexer import passage_text
from rag.tokenize import tokenize
from tests.conftest import ARTICLE, ROOT


def okapi_scores(docs: list[list[str]], query: list[str]) -> list[float]:
    """The replaced rag/bm25.py (commit 4220a49), in short: postings, Lucene idf, Robertson tf part."""
    n, avg = len(docs), sum(map(len, docs)) / len(docs)
    df = Counter(t for d in docs for t in set(d))
    out = [0.0] * n
    for term in dict.fromkeys(query):
        idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5)) if df[term] else 0.0
        for row, d in enumerate(docs):
            tf = d.count(term)
            if tf:
                out[row] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(d) / avg))
    return out


def test_rankings_and_scores_match_the_old_okapi_on_the_article():
    doc = read_documents([ARTICLE], 20_000_000)[0]
    docs = [tokenize(passage_text(c)) for c in chunk_document(doc, 300, 60)]
    bm = BM25.build(docs)
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "eval" / "qa_article.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    compared = 0
    for q in questions:
        tokens = tokenize(q)
        old = okapi_scores(docs, tokens)
        expected = sorted(((r, s) for r, s in enumerate(old) if s > 0), key=lambda rs: (-rs[1], rs[0]))[:30]
        got = bm.top(tokens, 30)
        assert [r for r, _ in got] == [r for r, _ in expected], q
        for (_, a), (_, b) in zip(got, expected, strict=True):
            assert math.isclose(a, b, rel_tol=1e-5), q
        compared += bool(expected)
    assert len(questions) == 231 and compared == 206  # the other 25 share no word with the article
