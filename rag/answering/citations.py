"""Citation checks shared by every answerer: each [n] resolves, and each cited sentence is real text
lying inside its retrieved passage."""

from __future__ import annotations

from rag.answering.text import markers
from rag.schema import Answer, Hit


def passage_slice(hit: Hit, start: int, end: int) -> str:
    """The text of document offsets [start, end) as it appears in the hit's passage."""
    return hit.chunk.text[start - hit.chunk.start: end - hit.chunk.start]


def check_citations(answer: Answer) -> list[str]:
    """Problems with an answer's citations (empty when all is well): markers resolve, sentences are real."""
    problems = []
    used = set(markers(answer.text))
    numbers = {c.n for c in answer.citations}
    if used != numbers:
        problems.append(f"markers {sorted(used)} do not match citations {sorted(numbers)}")
    hit_ids = {h.chunk.id for h in answer.hits}
    for c in answer.citations:
        if c.hit.chunk.id not in hit_ids:
            problems.append(f"citation [{c.n}] is not among the retrieved passages")
        if not (c.hit.chunk.start <= c.sentence.start and c.sentence.end <= c.hit.chunk.end
                and passage_slice(c.hit, c.sentence.start, c.sentence.end) == c.sentence.text):
            problems.append(f"citation [{c.n}] sentence is not inside its passage")
    if answer.span is not None:
        cited = {c.n: c for c in answer.citations}.get(answer.span.n)
        if cited is None or not (cited.sentence.start <= answer.span.start and answer.span.end <= cited.sentence.end
                                 and cited.sentence.doc_id == answer.span.doc_id
                                 and cited.sentence.text[answer.span.start - cited.sentence.start:
                                                         answer.span.end - cited.sentence.start] == answer.span.text):
            problems.append(f"span {answer.span.text!r} does not lie inside the sentence of citation [{answer.span.n}]")
    return problems
