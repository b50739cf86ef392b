"""Features of answer candidates: sentences of the retrieved passages, and spans inside a sentence.

Pure functions over plain data. The fitted models in rag/answering/decision.py weigh these features; the
names returned here are the schema the saved model file is checked against. Nothing here knows the
article: every signal is a general one (cosine, word and character overlap, the type of thing asked for,
where the question's words sit around a span).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.answering.text import TYPE_PATTERN, char_grams, same_paragraph, years
from rag.schema import Hit, Sentence
from rag.tokenize import token_set, tokenize

if TYPE_CHECKING:
    from rag.store import Index

WANTS = ("time", "percent", "number", "person", "place", "thing", "other")


def sentences_in_hits(index: Index, hits: Sequence[Hit]) -> list[tuple[int, Hit]]:
    """(sentence row, hit) for every indexed sentence lying wholly inside a retrieved passage, but those of punctuation
    alone: `…惟神之大道也…」。` splits into the quote and a lone `。` (the splitter closes a sentence at 」), which says
    nothing and took one of the pick's five places (README step 99)."""
    out: list[tuple[int, Hit]] = []
    seen: set[int] = set()
    for hit in hits:
        for r in index.sentence_rows_in(hit.chunk):
            if r not in seen and any(c.isalnum() for c in index.sentences[r].text):
                seen.add(r)
                out.append((r, hit))
    return out


def previous_in_paragraph(index: Index, pairs: Sequence[tuple[int, Hit]], i: int) -> Sentence | None:
    """The sentence before pairs[i] (see sentences_in_hits) when both lie in the same retrieved passage and
    the same paragraph: the context both answerers read a sentence with ("其中…" leans on it)."""
    if i == 0 or pairs[i - 1][1] is not pairs[i][1]:
        return None
    before, sentence = index.sentences[pairs[i - 1][0]], index.sentences[pairs[i][0]]
    return before if same_paragraph(pairs[i][1], before, sentence) else None


@dataclass(frozen=True)
class QuestionTerms:
    """The question's words with their idf in the index. Words the index never uses are kept apart:
    they are the paraphrase problem (首席执行官 for CEO), so they must not count against a sentence."""

    known: dict[str, float]  # word -> idf, for words the index holds
    unseen_share: float  # share of the question's word weight that the index never uses
    grams: frozenset[str]  # character bigrams / Latin words of the question
    years: frozenset[str]


def question_terms(question: str, previous: str, index: Index) -> QuestionTerms:
    known: dict[str, float] = {}
    unseen = 0.0
    top = index.max_idf
    own = tokenize(question)
    for tokens, factor in ((own, 1.0), ([t for t in tokenize(previous) if t not in own], 0.5)):
        for t in tokens:
            idf = index.bm25.idf(t)
            if idf > 0:
                known.setdefault(t, factor * idf)
            else:
                unseen += factor * top
    total = sum(known.values()) + unseen
    return QuestionTerms(known, unseen / total if total > 0 else 0.0, frozenset(char_grams(question)),
                         years(question))


def coverage(weights: dict[str, float], tokens: frozenset[str] | set[str]) -> float:
    """Share of the question's word weight (`weights`: word -> weight) found in `tokens`; NaN when the
    question has no weighted word (nothing to cover: callers decide what that means)."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total > 0 else math.nan


SENTENCE_FEATURES = ("cos", "cos_gap", "cos_z", "cov", "cov_ctx", "grams", "grams_ctx", "type_match", "years_ok",
                     "inv_rank", "hit_gap", "in_bm25", "first_in_par", "log_len", "en_cos_z", "rarest", "rarest_ctx")


@dataclass(frozen=True)
class SentenceCandidate:
    row: int  # the sentence's row in the index
    sentence: Sentence
    hit: Hit
    previous: Sentence | None  # the sentence before it in the same paragraph of the passage
    features: np.ndarray  # SENTENCE_FEATURES, in that order


def sentence_candidates(terms: QuestionTerms, want: str, english: bool, query_vector: np.ndarray,
                        index: Index, hits: Sequence[Hit]) -> list[SentenceCandidate]:
    """Every sentence of the hits with its features (SENTENCE_FEATURES), in passage order."""
    pairs = sentences_in_hits(index, hits)
    if not pairs:
        return []
    rows = [r for r, _ in pairs]
    cosines = index.sentence_vectors[rows] @ query_vector.astype(np.float32)
    top_cos, mean_cos, std_cos = float(cosines.max()), float(cosines.mean()), float(cosines.std()) or 1.0
    top_hit = max((h.dense for h in hits if h.dense is not None), default=0.0)
    type_pattern = TYPE_PATTERN.get(want)
    # the question's most specific word the index knows (净利润 in 美图2023年的净利润是多少): a sentence
    # without it rarely answers, however close its cosine
    rarest = max(terms.known, key=lambda t: (terms.known[t], t)) if terms.known else ""
    out = []
    for i, ((row, hit), cos) in enumerate(zip(pairs, cosines, strict=True)):
        sentence = index.sentences[row]
        prev = previous_in_paragraph(index, pairs, i)
        own = token_set(sentence.text) | token_set(hit.chunk.title)
        ctx = own | token_set(prev.text) if prev else own
        grams = char_grams(sentence.text + " " + hit.chunk.title)
        grams_ctx = grams | char_grams(prev.text) if prev else grams
        n_grams = max(len(terms.grams), 1)
        paragraph = hit.chunk.title + (prev.text if prev else "") + sentence.text
        cos_z = (float(cos) - mean_cos) / std_cos
        out.append(SentenceCandidate(row, sentence, hit, prev, np.array([
            float(cos), float(cos) - top_cos, cos_z,
            coverage(terms.known, own) if terms.known else 0.0, coverage(terms.known, ctx) if terms.known else 0.0,
            len(terms.grams & grams) / n_grams, len(terms.grams & grams_ctx) / n_grams,
            float(bool(type_pattern.search(sentence.text))) if type_pattern else 0.0,
            float(all(y in paragraph for y in terms.years)),
            1.0 / hit.rank, (hit.dense or 0.0) - top_hit, float(hit.bm25 is not None),
            float(prev is None), math.log1p(len(sentence.text)), cos_z if english else 0.0,
            float(bool(rarest) and rarest in own), float(bool(rarest) and rarest in ctx),
        ], dtype=np.float64)))
    return out


# The excerpt ranker (README step 43): which sentences the model reads. The sentence features above, plus how each
# candidate stands against the best of the same question's candidates, and the question's words weighed by how few of
# the candidates hold them ("local"): in a passage about one subject, the subject's name is in nearly every sentence
# and says nothing about which one answers; the words of what is asked (卒于, 全长, 管辖) do.
EXCERPT_FEATURES = SENTENCE_FEATURES + ("cov_gap", "cov_ctx_gap", "grams_gap", "grams_ctx_gap",
                                        "local", "local_ctx", "local_gap", "local_ctx_gap")


def local_weights(terms: QuestionTerms, sentence_tokens: Sequence[frozenset[str] | set[str]]) -> dict[str, float]:
    """The question's known words, each weighed by its idf times log((n + 1) / (df + 1)), df the number of the
    n candidate sentences holding it: a word in every sentence weighs nothing."""
    n = len(sentence_tokens)
    return {t: idf * math.log((n + 1) / (sum(t in s for s in sentence_tokens) + 1)) for t, idf in terms.known.items()}


def excerpt_features(terms: QuestionTerms, candidates: Sequence[SentenceCandidate]) -> np.ndarray:
    """One row of EXCERPT_FEATURES per candidate (the same question's candidates together: the gaps and the local
    weights are relative to them)."""
    x = np.stack([c.features for c in candidates])
    at = SENTENCE_FEATURES.index
    gaps = [x[:, at(name)] - x[:, at(name)].max() for name in ("cov", "cov_ctx", "grams", "grams_ctx")]
    own = [token_set(c.sentence.text) for c in candidates]
    ctx = [o | token_set(c.previous.text) if c.previous else o for o, c in zip(own, candidates, strict=True)]
    weights = local_weights(terms, own)
    local = np.array([[coverage(weights, o) if weights else 0.0, coverage(weights, c) if weights else 0.0]
                      for o, c in zip(own, ctx, strict=True)], dtype=np.float64)
    local = np.nan_to_num(local)  # every weight zero (each known word in every sentence): nothing local, not 0/0
    return np.hstack([x, np.stack(gaps, 1), local, local - local.max(axis=0)])


# Decision (answer or refuse), one row per question: how good the best candidate is, absolutely and
# against everything indexed.
DECISION_FEATURES = ("best_logit", "second_gap", "best_cos", "standing", "best_cov", "best_grams", "unseen_share",
                     "top_hit_dense", "top_in_bm25", "n_terms", "english", "typed_want", "typed_match",
                     "factoid", "span_logit", "years_ok")


def decision_features(best_logit: float, second_logit: float, best: SentenceCandidate, standing: float,
                      terms: QuestionTerms, hits: Sequence[Hit], english: bool, want: str,
                      span_logit: float | None) -> np.ndarray:
    """The answer-or-refuse inputs. `span_logit` is the best factoid span's score (None: not a factoid)."""
    f = dict(zip(SENTENCE_FEATURES, best.features, strict=True))
    typed = want in TYPE_PATTERN
    return np.array([best_logit, best_logit - second_logit, f["cos"], standing, f["cov_ctx"], f["grams_ctx"],
                     terms.unseen_share, hits[0].dense or 0.0, float(hits[0].bm25 is not None),
                     math.log1p(len(terms.known)), float(english), float(typed), f["type_match"] if typed else 0.0,
                     float(span_logit is not None), span_logit if span_logit is not None else 0.0,
                     f["years_ok"]],
                    dtype=np.float64)


def standing(cosine: float, all_cosines: np.ndarray) -> float:
    """How many standard deviations `cosine` stands above the mean of every indexed sentence's cosine:
    e5 cosines are bunched (unrelated text scores 0.8+), so only a relative signal separates. 0 where there
    is no spread to stand out of (fewer than two sentences, or all equal). Both answerers read this one."""
    if len(all_cosines) < 2:
        return 0.0
    std = float(all_cosines.std())
    return (cosine - float(all_cosines.mean())) / std if std > 0 else 0.0
