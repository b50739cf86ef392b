"""What a language model reads: the best sentences of the hits with their neighbours, not whole passages.

Prefill is the cost on a CPU (~150 prompt tokens/s for the 1.5B model), so every sentence left out of
the prompt is time saved. The extractive answerer's fitted sentence model ranks the sentences of the
hits (rag/answering/features.py + decision.py); the best ones are taken with the sentence before and after
them inside their passage, overlapping runs merge, and each run becomes one numbered excerpt: a `Hit`
whose chunk is exactly that range of the document, so offsets stay exact and support checks can run on
it as on any passage. `origin` keeps the retrieved hit it came from, which is what citations point at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answering.citations import passage_slice
from rag.answering.features import SentenceCandidate
from rag.answering.support import passage_sentences
from rag.schema import Chunk, Hit

if TYPE_CHECKING:
    from rag.store import Index


@dataclass(frozen=True)
class Excerpt:
    hit: Hit  # a hit whose chunk is the excerpt's own range of the document
    origin: Hit  # the retrieved passage it lies in
    rank: int  # the rank of its best sentence among the candidates (0 = best)


def _same_paragraph(hit: Hit, start: int, end: int) -> bool:
    return "\n" not in passage_slice(hit, start, end).strip()


FILLS = ("neighbours", "sentences")  # how the budget is spent (Policy.excerpt_fill, README step 37)


def select_excerpts(candidates: Sequence[SentenceCandidate], order: Sequence[int], top: int,
                    max_chars: int, neighbours: int = 1, fill: str = "neighbours") -> list[Excerpt]:
    """Runs of sentences around the `top` best candidates (by `order`), `neighbours` on each side within
    the same passage and paragraph; runs of one passage that touch are merged. The excerpts come in the
    order of their best sentence and stop growing once `max_chars` characters are taken (the best
    sentence is always sent, cut to `max_chars` when it alone is longer).

    `fill` "neighbours": each best sentence comes with its neighbours, and a run that does not fit whole is
    left out (so a long first run can leave the second-best sentence out). "sentences": the best sentences
    themselves are taken first, in rank order while they fit, and then each one's neighbours, nearest rank
    first, where they still fit (README step 37)."""
    if fill not in FILLS:
        raise ValueError(f"excerpt fill {fill!r} is not one of {', '.join(FILLS)}")
    by_hit: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        by_hit.setdefault(c.hit.chunk.id, []).append(i)
    cores: list[tuple[int, Hit, int, int]] = []  # (rank, hit, start, end): each best sentence alone
    widened: list[tuple[int, Hit, int, int]] = []  # ... and with its neighbours
    for rank, i in enumerate(order[:top]):
        c = candidates[i]
        siblings = by_hit[c.hit.chunk.id]
        at = siblings.index(i)
        start, end = c.sentence.start, c.sentence.end
        cores.append((rank, c.hit, start, end))
        for j in siblings[max(0, at - neighbours): at]:
            s = candidates[j].sentence
            if _same_paragraph(c.hit, s.start, start):
                start = min(start, s.start)
        for j in siblings[at + 1: at + 1 + neighbours]:
            s = candidates[j].sentence
            if _same_paragraph(c.hit, end, s.end):
                end = max(end, s.end)
        widened.append((rank, c.hit, start, end))
    if fill == "neighbours":
        return _excerpts(_merged(widened), max_chars)
    taken: list[tuple[int, Hit, int, int]] = []
    for core in cores:  # the best sentences first, while they fit (the best one always, cut if it must be)
        if not taken or _length(_merged([*taken, core])) <= max_chars:
            taken.append(core)
    for wide in widened:  # then their neighbours, best sentence first, where they still fit
        if any(t[0] == wide[0] for t in taken):
            trial = [wide if t[0] == wide[0] else t for t in taken]
            if _length(_merged(trial)) <= max_chars:
                taken = trial
    return _excerpts(_merged(taken), max_chars)


def _merged(ranges: Sequence[tuple[int, Hit, int, int]]) -> list[tuple[int, Hit, int, int]]:
    """Runs of one passage that overlap or touch made one, in the order of their best sentence."""
    merged: list[tuple[int, Hit, int, int]] = []
    for rank, hit, start, end in ranges:
        for k, (r2, h2, s2, e2) in enumerate(merged):
            if h2.chunk.id == hit.chunk.id and start <= e2 + 1 and s2 <= end + 1:
                merged[k] = (min(rank, r2), h2, min(start, s2), max(end, e2))
                break
        else:
            merged.append((rank, hit, start, end))
    merged.sort(key=lambda m: m[0])
    return merged


def _length(merged: Sequence[tuple[int, Hit, int, int]]) -> int:
    return sum(len(passage_slice(hit, start, end)) for _, hit, start, end in merged)


def _excerpts(merged: Sequence[tuple[int, Hit, int, int]], max_chars: int) -> list[Excerpt]:
    out: list[Excerpt] = []
    used = 0
    for rank, hit, start, end in merged:
        text = passage_slice(hit, start, end)
        if out and used + len(text) > max_chars:
            continue
        if not out and len(text) > max_chars:
            end = start + max_chars
            text = text[:max_chars]
        used += len(text)
        c = hit.chunk
        chunk = Chunk(Chunk.make_id(c.doc_id, start, end), c.doc_id, c.source, start, end, c.title, text)
        out.append(Excerpt(Hit(chunk, hit.score, hit.rank, hit.dense, hit.bm25), hit, rank))
    return out


def whole_sentences(excerpt: Excerpt, index: Index) -> Hit:
    """The excerpt's hit, widened to the whole sentences of its passage that it shows only part of.

    An excerpt cut to `max_chars` can end (or a run begin) inside a sentence; the model reads the part and
    often finishes it (`…他决定要当个` → `他决定要当个演艺人员`). Its claim is then about that sentence, so the
    support check must see the sentence whole; it is real text of the retrieved passage either way, and a
    finish the document does not have still fails the check."""
    c, o = excerpt.hit.chunk, excerpt.origin.chunk
    start, end = c.start, c.end
    for s in passage_sentences(index, excerpt.origin):
        if s.start < c.start < s.end:
            start = s.start
        if s.start < c.end < s.end:
            end = s.end
    if (start, end) == (c.start, c.end):
        return excerpt.hit
    chunk = Chunk(Chunk.make_id(c.doc_id, start, end), c.doc_id, c.source, start, end, c.title,
                  o.text[start - o.start: end - o.start])
    h = excerpt.hit
    return Hit(chunk, h.score, h.rank, h.dense, h.bm25)
