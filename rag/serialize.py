"""Answers as plain JSON-ready dicts: the `rag ask --json` schema, also used in eval results."""

from __future__ import annotations

import math
from typing import Any

from rag.schema import Answer, Hit


def hit_fields(hit: Hit) -> dict[str, Any]:
    c = hit.chunk
    return {"chunk_id": c.id, "source": c.source, "start": c.start, "end": c.end, "title": c.title,
            "text": c.text, "rank": hit.rank, "score": round(hit.score, 6),
            "dense": None if hit.dense is None else round(hit.dense, 6),
            "bm25": None if hit.bm25 is None else round(hit.bm25, 6)}


def answer_to_json(answer: Answer) -> dict[str, Any]:
    citations = [{"n": c.n, **hit_fields(c.hit), "sentence": c.sentence.text,
                  "sentence_start": c.sentence.start, "sentence_end": c.sentence.end}
                 for c in answer.citations]
    span = None if answer.span is None else {
        "text": answer.span.text, "start": answer.span.start, "end": answer.span.end, "n": answer.span.n,
        "at": answer.span.at,  # where it stands in "answer" (renderers make it bold; the text has no markup)
        "source": next((c.hit.chunk.source for c in answer.citations if c.n == answer.span.n), None)}
    sentences = [{"text": s.text, "citations": list(s.citations), "unsupported": s.unsupported}
                 for s in answer.sentences]
    return {"question": answer.question, "answer": answer.text, "refused": answer.refused, "reason": answer.reason,
            "answerer": answer.answerer, "kind": answer.kind, "span": span, "sentences": sentences,
            "citations": citations, "hits": [hit_fields(h) for h in answer.hits],
            "retrieval_query": answer.retrieval_query, "notice": answer.notice, "timings_ms": answer.timings_ms,
            "generated_tokens": answer.generated_tokens, "confidence": answer.confidence,
            "reading": answer.reading}


def nan_to_none(value: Any) -> Any:
    """Recursively replace NaN floats by None, since JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [nan_to_none(v) for v in value]
    return value
