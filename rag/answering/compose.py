"""The only place the extractive and sentence answerers build an Answer, and where every refusal is built.

An answer is a list of quotes, each a range of a retrieved passage cited as [n] right after it. The cited
sentence is the indexed sentence the quote comes from (from the quote's start when the quote reaches back
into the sentence before). A factoid's span is kept as offsets (`AnswerSpan.at` into the answer text), not
as markup: renderers (the CLI, the UI, JSON) decide how to show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.answering.citations import passage_slice
from rag.answering.hedges import carry_hedges
from rag.answering.text import marked, question_language
from rag.schema import Answer, AnswerSentence, AnswerSpan, Citation, Hit, Sentence

REFUSAL = {
    "zh": "抱歉，文档中没有找到这个问题的答案。",
    "en": "Sorry, the documents do not contain the answer to this question.",
}


@dataclass(frozen=True)
class Quote:
    """A quoted range [start, end) of a hit's passage, shown as `text`, taken from indexed `sentence` (a
    clause window when the sentence was cut; it may start in the sentence before)."""

    hit: Hit
    sentence: Sentence
    start: int
    end: int
    text: str


def compose(question: str, quotes: Sequence[Quote], hits: Sequence[Hit], answerer: str, kind: str,
            span: AnswerSpan | None = None) -> Answer:
    """Quotes in the order given, quote n cited as [n]; `span` (offsets in the documents, citation n) is
    located in the answer text."""
    citations, sentences, parts = [], [], []
    at = 0
    for n, quote in enumerate(quotes, start=1):
        first = min(quote.start, quote.sentence.start)
        cited = Sentence(quote.sentence.doc_id, first, quote.sentence.end,
                         passage_slice(quote.hit, first, quote.sentence.end))
        citations.append(Citation(n=n, hit=quote.hit, sentence=cited))
        sentences.append(AnswerSentence(text=quote.text, citations=(n,)))
        if span is not None and span.n == n and quote.start <= span.start and span.end <= quote.start + len(quote.text):
            span = replace(span, at=at + span.start - quote.start)
        parts.append(marked(quote.text, n))
        at += len(parts[-1])
    return Answer(question=question, text="".join(parts), refused=False, citations=tuple(citations),
                  hits=tuple(hits), span=span, sentences=tuple(sentences), answerer=answerer, kind=kind)


def refuse(question: str, hits: Sequence[Hit] = (), answerer: str = "", kind: str = "", reason: str = "") -> Answer:
    """The fixed "not in the documents" answer, in the question's language, with the rule that refused."""
    return Answer(question=question, text=REFUSAL[question_language(question)], refused=True, hits=tuple(hits),
                  answerer=answerer, kind=kind, reason=reason)


# After a refusal of the model's answer: the passage sentence its answer stood on, quoted as real text and
# said not to answer the question (a paraphrased question the checks could not confirm still shows its
# sentence; an unanswerable one shows what the documents say instead). The answer stays refused.
CLOSEST = {
    "zh": "最接近的一句（不是对这个问题的回答）：“{quote}”",
    "en": "The closest sentence (not an answer to this question): “{quote}”",
}


def refuse_with_closest(refusal: Answer, hit: Hit, sentence: Sentence) -> Answer:
    """`refusal` followed by the passage sentence nearest to an answer, cited [1]; still refused, no span."""
    lang = question_language(refusal.question)
    quote = " ".join(sentence.text.split())
    closest = CLOSEST[lang].format(quote=quote)
    text = f"{refusal.text}{'' if lang == 'zh' else ' '}{marked(closest, 1)}"
    return replace(refusal, text=text, citations=(Citation(n=1, hit=hit, sentence=sentence),), span=None,
                   sentences=(AnswerSentence(text=closest, citations=(1,)),))


def quote_ranges(supports: Sequence[tuple[Hit, Sentence]], max_chars: int) -> list[tuple[Hit, int, int]]:
    """The passage ranges `supports` (each a hit and a sentence of it, in order of first use) come to as quotes, each
    text once (README step 33): ranges of one document that overlap or touch are joined where one of their chunks holds
    the union and it stays within `max_chars` (or one holds the other); a range overlapping one it cannot join is left
    out, since its text is partly shown; joining repeats until nothing changes. Each range keeps the place of its first
    use, and a range is (hit, start, end) in document offsets."""
    ranges = [(hit, s.start, s.end) for hit, s in supports]
    changed = True
    while changed:
        changed = False
        for i in range(len(ranges)):
            for j in range(i + 1, len(ranges)):
                (a, a0, a1), (b, b0, b1) = ranges[i], ranges[j]
                if a.chunk.doc_id != b.chunk.doc_id or b0 > a1 or a0 > b1:
                    continue  # apart
                lo, hi = min(a0, b0), max(a1, b1)
                holder = next((h for h in (a, b) if h.chunk.start <= lo and hi <= h.chunk.end), None)
                if holder is not None and (hi - lo <= max_chars or (lo, hi) in ((a0, a1), (b0, b1))):
                    ranges[i] = (holder, lo, hi)
                elif b0 == a1 or a0 == b1:
                    continue  # touching, not joined: both shown, nothing twice
                del ranges[j]  # joined into i, or overlapping i where it cannot be: left out
                changed = True
                break
            if changed:
                break
    return ranges


def compose_quotes(question: str, supports: Sequence[tuple[Hit, Sentence]], hits: Sequence[Hit], answerer: str,
                   kind: str, max_chars: int) -> Answer | None:
    """An answer of the passage sentences `supports` name (README step 33): `quote_ranges`, the first quote whole and
    after it only the quotes that keep the answer within `max_chars`, each cited; None when there is none."""
    quotes: list[Quote] = []
    for hit, start, end in quote_ranges(supports, max_chars):
        text = passage_slice(hit, start, end)
        if quotes and sum(len(q.text) for q in quotes) + len(text) > max_chars:
            continue
        quotes.append(Quote(hit, Sentence(hit.chunk.doc_id, start, end, text), start, end, text))
    return compose(question, quotes, hits, answerer, kind) if quotes else None


@dataclass(frozen=True)
class Generated:
    """A sentence a language model wrote, and the passage sentences that support it (none: unsupported)."""

    text: str
    supports: tuple[tuple[Hit, Sentence], ...] = ()


def compose_generated(question: str, generated: Sequence[Generated], hits: Sequence[Hit], answerer: str,
                      kind: str, keep_unsupported: bool) -> Answer | None:
    """A model's answer: each supported sentence cites the passage sentences that support it, numbered [1]…
    in order of first use; unsupported sentences are kept without a marker and flagged (`keep_unsupported`,
    the "llm" answerer, whose UI strikes them through) or left out. None when no sentence is supported."""
    from rag.answering.support import with_markers  # support imports compose's neighbours; keep this one lazy

    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    sentences: list[AnswerSentence] = []
    for g in generated:
        own: list[int] = []
        for hit, sentence in g.supports:
            key = (hit.chunk.id, sentence.start, sentence.end)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(Citation(numbers[key], hit, sentence))
            if numbers[key] not in own:
                own.append(numbers[key])
        if own or keep_unsupported:
            # a supported number keeps its source's hedge (近5.6万, 超过4.5亿): the checks compare values only
            text = carry_hedges(g.text, [sentence.text for _, sentence in g.supports])  # unsupported: no sources, as written
            sentences.append(AnswerSentence(text, tuple(own), unsupported=not own))
    if not citations:
        return None
    joiner = "" if question_language(question) == "zh" else " "
    return Answer(question=question, text=joiner.join(with_markers(s) for s in sentences), refused=False,
                  citations=tuple(citations), hits=tuple(hits), sentences=tuple(sentences), answerer=answerer,
                  kind=kind)


def fallback_notice(what_happened: str, refused: bool) -> str:
    """The notice of an extractive answer given because a model gave none (`what_happened`: "The LLM gave no
    answer (…)", "Stopped before the LLM wrote anything"): it says the extractive answerer refused too when it
    did, so a refusal never reads as an answer."""
    if refused:
        return f"{what_happened}; the extractive answerer found none either."
    return f"{what_happened}; this is the extractive answer."
