"""The claim share (README, "How auto was chosen", step 3): how much of a question's word weight stands beside a
sentence (the sentence, one neighbour each side, the title: `context_of`). The model route asks it of every factoid
answer (the claim cut) and of an extractive answer standing in for the model's; since step 72 the extractive
answerer asks it of its own factoid answers too. Apart from rag/answering/model.py, which reads every section of
routes.json when imported, so that the extractive answerer is built without it.
"""

from __future__ import annotations

from dataclasses import replace

from rag.answering.features import QuestionTerms, coverage
from rag.schema import Citation, Hit, Sentence
from rag.tokenize import token_set


def spanned(index, hit: Hit, sentence: Sentence) -> tuple[list[Sentence], list[int]]:  # noqa: ANN001 - Index
    """The hit's passage sentences, and the positions among them of those `sentence` spans (one, or two joined; none
    when it lies in no sentence of the passage)."""
    from rag.answering.support import passage_sentences

    sentences = passage_sentences(index, hit)
    return sentences, [i for i, s in enumerate(sentences) if s.start < sentence.end and sentence.start < s.end]


def context_sentences(index, hit: Hit, sentence: Sentence, neighbours: bool = True) -> list[Sentence]:  # noqa: ANN001
    """The passage sentences `sentence` spans (one, or two joined), with the one before and after it when
    `neighbours`; none when it lies in no sentence of the passage."""
    sentences, inside = spanned(index, hit, sentence)
    if not inside:
        return []
    if not neighbours:
        return sentences[inside[0]:inside[-1] + 1]
    return sentences[max(0, inside[0] - 1):min(len(sentences), inside[-1] + 2)]


def sentences_before(index, hit: Hit, sentence: Sentence, n: int) -> str:  # noqa: ANN001 - Index, kept loose for fakes
    """The text of the (up to) `n` passage sentences before the one(s) `sentence` spans, "" where it opens its passage
    or lies in none: where a 分别 sentence's items may stand (n=1, README step 91), or the parts a total sums (n=2,
    step 102)."""
    sentences, inside = spanned(index, hit, sentence)
    return "".join(s.text for s in sentences[max(0, inside[0] - n):inside[0]]) if inside else ""


def context_of(index, hit: Hit, sentence: Sentence) -> str:  # noqa: ANN001 - Index, kept loose for fakes
    """The supporting sentence with the sentence before and after it in its passage, and the title."""
    around = context_sentences(index, hit, sentence)
    if not around:
        return f"{hit.chunk.title}\n{sentence.text}"
    return hit.chunk.title + "\n" + "".join(s.text for s in around)


# README step 104 (round 60): the words of the unit a question asks its number in (港元 of 多少港元; question.
# asked_unit_words) are left out of the claim share's weight: they say what kind of value is wanted, and any sentence
# with an amount in that unit holds them. UNIT_FREE_SHARE: whether they are (read at call time).
UNIT_FREE_SHARE = True


def claim_share(terms: QuestionTerms, context: str, question: str = "") -> float:
    """Share of the question's whole word weight found in `context`: its known words by idf, and the words
    the index never saw (weighted as the rarest word) counted as missing; 1.0 for a question with no word. With
    `question` (and UNIT_FREE_SHARE), the words of the unit it asks its number in weigh nothing (step 104)."""
    if question and UNIT_FREE_SHARE:
        from rag.answering.question import asked_unit_words  # question.py reads support.py, which is heavy

        drop = asked_unit_words(question) & terms.known.keys()
        if drop:
            unseen = terms.unseen_share * (sum(terms.known.values()) / (1.0 - terms.unseen_share)
                                           if terms.unseen_share < 1.0 else 0.0)
            known = {t: w for t, w in terms.known.items() if t not in drop}
            total = sum(known.values()) + unseen
            terms = replace(terms, known=known, unseen_share=unseen / total if total > 0 else 0.0)
    if not terms.known:
        return 1.0 - terms.unseen_share
    return coverage(terms.known, token_set(context)) * (1.0 - terms.unseen_share)


def cited_context(index, citation: Citation) -> str | None:  # noqa: ANN001 - Index, kept loose for fakes
    """`context_of` the sentence an answer's citation points at; None where it points at no sentence."""
    return context_of(index, citation.hit, citation.sentence) if citation.sentence is not None else None


def cited_claim_share(terms: QuestionTerms, index, citation: Citation, question: str = "") -> float | None:  # noqa: ANN001
    """The claim share beside the sentence an answer's citation points at (`cited_context`): what the model route asks
    of an extractive stand-in and, since step 72, the extractive answerer of its own factoid answers (the product, and
    scripts/study_model.py and study_anchors.py, which record it); None where the citation points at no sentence."""
    context = cited_context(index, citation)
    return claim_share(terms, context, question) if context is not None else None
