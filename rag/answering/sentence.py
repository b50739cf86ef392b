"""The baseline answerer ("sentence"): one sentence, hand-tuned scoring. Kept so the evaluation can put it
beside the fitted extractive answerer; select it with --answerer sentence / RAG_ANSWERER=sentence.

No LLM: the answer is the sentence from the retrieved passages that best matches the question (with the
sentence before it when that one carries part of what was asked), scored by embedding similarity,
idf-weighted word overlap and whether it holds what the question asks for (an amount for 多少钱, a
percentage for 增长了多少, a year for 哪一年). Every citation points at a sentence inside a retrieved passage.
Passages are treated purely as data: nothing in them is executed or obeyed, so instructions planted in a
document ("忽略以上内容…") can only be quoted, never followed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from rag.answering.base import Evidence, refuse
from rag.answering.citations import passage_slice
from rag.answering.features import sentences_in_hits
from rag.answering.generation import Control
from rag.answering.question import Question, question_language
from rag.schema import Answer, Citation, Hit, Sentence
from rag.tokenize import token_set, tokenize

if TYPE_CHECKING:
    from rag.store import Index

# Sentence score = cosine + W_LEXICAL * word overlap + W_RANK / passage rank. e5 cosines live in a narrow
# band (0.75..0.95), so 0.1 of overlap is worth a large move in rank. These weights were set by hand while
# looking at eval/qa_article.jsonl (no split held out); the refusal thresholds were swept with the old
# scripts/calibrate_refusal.py on the same set. This answerer is the baseline the fitted one is measured against.
W_LEXICAL = 0.30
W_RANK = 0.03
# Words found only in the previous sentence of the paragraph count towards overlap, less this discount.
CONTEXT_DISCOUNT = 0.05
# The previous sentence joins the answer when it adds at least this much overlap.
PREV_GAIN = 0.2

YEAR_Q = re.compile(r"哪一?年|哪个年份|什么时候|何时|哪个月|几月|\bwhen\b|what year|which year", re.I)
PERCENT_Q = re.compile(r"百分之|增长了?多少|增速|增幅|增长率|比例|占比|下滑了?多少|复合增长|percentage|\bgrow|growth|"
                       r"by how much|\brate\b", re.I)
MONEY_Q = re.compile(r"多少钱|金额|价格|价钱|花了多少|收入|营收|利润|盈利|对价|投入|进账|赚了?多少|赔了?多少|亏了?多少|"
                     r"亏损|斥资|how much money|revenue|profit|income|\bprice|\bcost|\bpaid|\bpay\b|spen[dt]|"
                     r"\bearn|\blos[es]", re.I)
NUMBER_Q = re.compile(r"多少|几[个位家款名天次倍种]|几$|how (much|many)|\bnumber of\b", re.I)
PERSON_Q = re.compile(r"谁|哪位|\bwho\b", re.I)

HAS_DATE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月|去年|今年|年初|年底|上半年|下半年")
HAS_PERCENT = re.compile(r"\d\s*%|百分之")
HAS_MONEY = re.compile(r"\d+(?:\.\d+)?\s*(?:亿|万|千)?\s*(?:元|美元|港元|人民币)|\d+(?:\.\d+)?\s*[亿万](?![\d])")
# A count or amount: any number except a calendar year (2023年) or a month/day (3月, 15日).
HAS_QUANTITY = re.compile(r"(?<![\d.])(?!(?:19|20)\d{2}\s*年)\d+(?:\.\d+)?(?!\s*[月日号])(?![\d.])"
                          r"|[一二两三四五六七八九十百千万亿]+\s*(?:亿|万|个|款|家|倍|成|名|种|年)")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
CLAUSE = re.compile(r"[^，,：:；;、]*[，,：:；;、]?")


def question_kind(question: str) -> str:
    """What a good answer must contain: 'year', 'percent', 'money', 'number', 'person' or 'other'."""
    if YEAR_Q.search(question):
        return "year"
    if PERCENT_Q.search(question):
        return "percent"
    if MONEY_Q.search(question) and (NUMBER_Q.search(question) or "how much" in question.lower()
                                     or re.search(r"(花|赚|赔|亏|进账|收入|营收|利润|价格|金额).{0,3}[呢？?]?$", question)):
        return "money"
    if NUMBER_Q.search(question):
        return "number"
    if PERSON_Q.search(question):
        return "person"
    return "other"


KIND_PATTERN = {"year": HAS_DATE, "percent": HAS_PERCENT, "money": HAS_MONEY, "number": HAS_QUANTITY}


def kind_matches(kind: str, text: str) -> bool:
    pattern = KIND_PATTERN.get(kind)
    return bool(pattern.search(text)) if pattern else True


@dataclass(frozen=True)
class RefusalPolicy:
    """When to say "not in the documents". The engine passes Config's refuse_* fields."""

    min_coverage: float = 0.30  # a question with Chinese words: share of its word weight near the answer
    min_cosine: float = 0.87  # ... and the question-sentence cosine
    # Where word overlap cannot speak (an English question about Chinese text): how far the best sentence's
    # cosine stands above the cosines of all indexed sentences, in standard deviations. e5 cosines are
    # bunched (unrelated text scores 0.8+), so only a relative signal like this separates answerable ones.
    min_z: float = 2.2


@dataclass(frozen=True)
class Query:
    """A question prepared for answering. `previous` is the earlier user turn a follow-up leans on."""

    text: str
    tokens: tuple[str, ...]
    kind: str
    language: str
    previous_tokens: tuple[str, ...] = ()

    @classmethod
    def make(cls, question: str, previous: str = "") -> Query:
        kind = question_kind(question)
        if kind == "other" and previous:
            kind = question_kind(previous)
        tokens = tuple(tokenize(question))
        prev_tokens = tuple(t for t in tokenize(previous) if t not in tokens) if previous else ()
        return cls(question, tokens, kind, question_language(question), prev_tokens)


@dataclass(frozen=True)
class Candidate:
    sentence: Sentence
    hit: Hit
    previous: Sentence | None  # the sentence before, in the same paragraph of the same passage
    cosine: float
    coverage: float  # word-weight share of the question found in the sentence and the one before
    gain: float  # how much of that the previous sentence adds
    score: float


def term_weights(query: Query, index: Index) -> dict[str, float]:
    """idf of each question word; a word the corpus never uses gets the highest idf (it is specific, and
    its absence is evidence that the documents do not answer). Words of the previous turn count half.
    Latin words of an English question are skipped: they cannot match Chinese text."""
    top = index.max_idf
    weights: dict[str, float] = {}
    for tokens, factor in ((query.tokens, 1.0), (query.previous_tokens, 0.5)):
        for t in tokens:
            if query.language == "en" and t.isascii():  # numbers alone say too little, too
                continue
            idf = index.bm25.idf(t)
            weights.setdefault(t, factor * (idf if idf > 0 else top))
    return weights


def coverage(weights: dict[str, float], text_tokens: set[str] | frozenset[str]) -> float:
    total = sum(weights.values())
    if total <= 0:
        return float("nan")
    return sum(w for t, w in weights.items() if t in text_tokens) / total


def required_years(question: str) -> set[str]:
    return set(YEAR.findall(question))


def same_paragraph(hit: Hit, a: Sentence, b: Sentence) -> bool:
    lo, hi = sorted((a.start, b.start))
    return "\n" not in hit.chunk.text[lo - hit.chunk.start: hi - hit.chunk.start]


def paragraph_text(hit: Hit, sentence: Sentence) -> str:
    """The passage line that holds the sentence, with the passage title in front."""
    text = hit.chunk.text
    rel = sentence.start - hit.chunk.start
    line_start = text.rfind("\n", 0, rel) + 1
    line_end = text.find("\n", rel)
    return hit.chunk.title + " " + text[line_start: line_end if line_end >= 0 else len(text)]


def score_candidates(query: Query, query_vector: np.ndarray, index: Index, hits: list[Hit]) -> list[Candidate]:
    """Every sentence of the hits that satisfies the hard constraints, best first."""
    pairs = sentences_in_hits(index, hits)
    if not pairs:
        return []
    weights = term_weights(query, index)
    years = required_years(query.text)
    rows = [r for r, _ in pairs]
    cosines = index.sentence_vectors[rows] @ query_vector.astype(np.float32)
    out = []
    for i, ((row, hit), cos) in enumerate(zip(pairs, cosines, strict=True)):
        sentence = index.sentences[row]
        if not kind_matches(query.kind, sentence.text):
            continue
        if years and not all(y in paragraph_text(hit, sentence) for y in years):
            continue
        prev = None
        if i > 0 and pairs[i - 1][1] is hit and same_paragraph(hit, index.sentences[rows[i - 1]], sentence):
            prev = index.sentences[rows[i - 1]]
        own = token_set(sentence.text) | token_set(hit.chunk.title)
        cov_own = coverage(weights, own)
        cov_ctx = coverage(weights, own | token_set(prev.text)) if prev else cov_own
        lexical = 0.0 if np.isnan(cov_ctx) else max(cov_own, cov_ctx - CONTEXT_DISCOUNT)
        score = float(cos) + W_LEXICAL * lexical + W_RANK / hit.rank
        gain = 0.0 if np.isnan(cov_ctx) else cov_ctx - cov_own
        out.append(Candidate(sentence, hit, prev, float(cos), cov_ctx, gain, score))
    out.sort(key=lambda c: -c.score)
    return out


def standing(cosine: float, all_cosines: np.ndarray) -> float:
    """How many standard deviations `cosine` stands above the mean of `all_cosines`."""
    if len(all_cosines) < 2:
        return float("inf")
    std = float(all_cosines.std())
    return (cosine - float(all_cosines.mean())) / std if std > 0 else 0.0


def should_refuse(best: Candidate | None, z: float, policy: RefusalPolicy) -> bool:
    """No eligible sentence, or too little of the question found around the best one."""
    if best is None:
        return True
    if np.isnan(best.coverage):  # nothing to match by words (English question): judge by meaning alone
        return z < policy.min_z
    return best.coverage < policy.min_coverage or best.cosine < policy.min_cosine


def shorten(text: str, limit: int, query: Query, weights: dict[str, float]) -> str:
    """Cut a long sentence to the clause window (split at ，,：:；;、) that best covers the question."""
    if len(text) <= limit:
        return text
    clauses = [c for c in CLAUSE.findall(text) if c]
    best, best_score = text[:limit], -1.0
    for i in range(len(clauses)):
        window = ""
        for j in range(i, len(clauses)):
            if len(window) + len(clauses[j]) > limit:
                break
            window += clauses[j]
            cov = coverage(weights, token_set(window))
            score = (0 if np.isnan(cov) else cov) + 0.5 * kind_matches(query.kind, window) - 0.001 * len(window)
            if score > best_score:
                best, best_score = window, score
    return best.rstrip("，,：:；;、")


def answer_question(query: Query, query_vector: np.ndarray, index: Index, hits: list[Hit],
                    max_chars: int = 120, policy: RefusalPolicy | None = None) -> Answer:
    """The extractive answer from `hits`, or a refusal when nothing good enough is there."""
    candidates = score_candidates(query, query_vector, index, hits)
    best = candidates[0] if candidates else None
    z = standing(best.cosine, index.sentence_vectors @ query_vector) if best else 0.0
    if should_refuse(best, z, policy or RefusalPolicy()):
        return refuse(query.text, hits)
    weights = term_weights(query, index)
    text = best.sentence.text
    sentence = best.sentence
    if best.previous is not None and best.gain >= PREV_GAIN and len(best.previous.text) + len(text) <= max_chars:
        sentence = Sentence(sentence.doc_id, best.previous.start, sentence.end,
                            passage_slice(best.hit, best.previous.start, sentence.end))
        text = sentence.text
    citation = Citation(n=1, hit=best.hit, sentence=sentence)
    return Answer(question=query.text, text=f"{shorten(text, max_chars, query, weights)}[1]", refused=False,
                  citations=(citation,), hits=tuple(hits))


class SentenceAnswerer:
    """Answerer protocol over answer_question: the best single sentence, or a refusal."""

    name = "sentence"

    def __init__(self, max_chars: int, policy: RefusalPolicy) -> None:
        self.max_chars = max_chars
        self.policy = policy

    def answer(self, question: Question, hits: Sequence[Hit], evidence: Evidence,
               on_token: Callable[[str], None] | None = None, control: Control | None = None) -> Answer:
        if not hits:
            return refuse(question.text, answerer=self.name)
        query = Query.make(question.text, question.previous)
        answer = answer_question(query, evidence.query_vector, evidence.index, list(hits), self.max_chars,
                                 self.policy)
        return replace(answer, answerer=self.name, kind=query.kind)
