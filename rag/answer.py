"""Hits -> a short extractive Answer with [n] citations, or an honest refusal.

No LLM: the answer is the sentence (or two) from the retrieved passages that best matches the question,
scored by embedding similarity, idf-weighted word overlap and whether it holds what the question asks
for (a number for 多少, a year for 哪一年). Every citation points at a sentence inside a retrieved passage.
Passages are treated purely as data: nothing in them is executed or obeyed, so instructions planted in a
document ("忽略以上内容…") can only be quoted, never followed.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import numpy as np

from rag.schema import Answer, Citation, Hit, Sentence
from rag.store import Index
from rag.tokenize import tokenize

REFUSAL = {
    "zh": "抱歉，文档中没有找到这个问题的答案。",
    "en": "Sorry, the documents do not contain the answer to this question.",
}

# Weights of the sentence score (tuned on eval/qa_article.jsonl, see README "Answering").
W_LEXICAL = 0.20  # idf-weighted share of question words in the sentence
W_TYPE = 0.04  # the sentence holds the kind of thing asked for
W_RANK = 0.02  # prior from the passage's fused rank
# Refuse when the best sentence scores below this (tuned on the same set; README reports the trade-off).
REFUSE_BELOW = 0.90
# Add the runner-up sentence when it is nearly as good and both fit the length budget.
SECOND_WITHIN = 0.015

NUMBER_Q = re.compile(r"多少|几[个位家款年月天次倍%]|几$|百分之|比例|占比|增长了?多少|how (much|many)|what (percentage|share)|"
                      r"\bratio\b|\brate\b", re.I)
YEAR_Q = re.compile(r"哪一?年|什么时候|何时|哪个月|几月|when\b|what year|which year", re.I)
PERSON_Q = re.compile(r"谁|哪位|\bwho\b", re.I)
HAS_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万亿两]+[个家款位倍亿万]|[一二两三四五六七八九十]年")
HAS_DATE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月|去年|今年|年初|年底")
YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
MARKER = re.compile(r"\[(\d+)\]")


def question_language(question: str) -> str:
    cjk = sum(1 for c in question if "\u3400" <= c <= "\u9fff")
    latin = sum(1 for c in question if c.isascii() and c.isalpha())
    return "zh" if cjk >= latin / 4 or cjk >= 2 and cjk >= latin / 6 else "en"


def question_type(question: str) -> str:
    """'year', 'number', 'person' or 'other': what kind of thing a good answer must contain."""
    if YEAR_Q.search(question):
        return "year"
    if NUMBER_Q.search(question):
        return "number"
    if PERSON_Q.search(question):
        return "person"
    return "other"


def type_matches(kind: str, text: str) -> bool:
    if kind == "year":
        return bool(HAS_DATE.search(text))
    if kind == "number":
        return bool(HAS_NUMBER.search(text))
    return True


@dataclass(frozen=True)
class Candidate:
    sentence: Sentence
    hit: Hit
    dense: float
    lexical: float
    type_ok: bool
    score: float


def sentences_in_hits(index: Index, hits: list[Hit]) -> list[tuple[int, Hit]]:
    """(sentence row, hit) for every indexed sentence lying wholly inside a retrieved passage."""
    by_doc: dict[str, list[int]] = {}
    for row, s in enumerate(index.sentences):
        by_doc.setdefault(s.doc_id, []).append(row)
    out: list[tuple[int, Hit]] = []
    seen: set[int] = set()
    for hit in hits:
        rows = by_doc.get(hit.chunk.doc_id, [])
        starts = [index.sentences[r].start for r in rows]
        for r in rows[bisect.bisect_left(starts, hit.chunk.start):]:
            s = index.sentences[r]
            if s.start >= hit.chunk.end:
                break
            if s.end <= hit.chunk.end and r not in seen:
                seen.add(r)
                out.append((r, hit))
    return out


def lexical_overlap(question_tokens: list[str], sentence_tokens: set[str], index: Index) -> float:
    """Share of the question's idf mass found in the sentence (0..1)."""
    weights = {t: index.bm25.idf(t) for t in question_tokens}
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in weights.items() if t in sentence_tokens) / total


def required_years(question: str) -> set[str]:
    return {m.group(0) for m in YEAR.finditer(question)}


def paragraph_of(hit: Hit, sentence: Sentence) -> str:
    """The line of the passage that holds the sentence, plus the passage's title."""
    text = hit.chunk.text
    rel = sentence.start - hit.chunk.start
    line_start = text.rfind("\n", 0, rel) + 1
    line_end = text.find("\n", rel)
    return hit.chunk.title + " " + text[line_start: line_end if line_end >= 0 else len(text)]


def score_candidates(question: str, query_tokens: list[str], query_vector: np.ndarray, index: Index,
                     hits: list[Hit]) -> list[Candidate]:
    pairs = sentences_in_hits(index, hits)
    if not pairs:
        return []
    kind = question_type(question)
    rows = [r for r, _ in pairs]
    dense = index.sentence_vectors[rows] @ query_vector.astype(np.float32)
    out = []
    for (row, hit), cos in zip(pairs, dense, strict=True):
        sentence = index.sentences[row]
        lexical = lexical_overlap(query_tokens, set(tokenize(sentence.text)), index)
        type_ok = type_matches(kind, sentence.text)
        score = float(cos) + W_LEXICAL * lexical + W_TYPE * type_ok + W_RANK / hit.rank
        out.append(Candidate(sentence, hit, float(cos), lexical, type_ok, score))
    out.sort(key=lambda c: -c.score)
    return out


def eligible(question: str, candidate: Candidate) -> bool:
    """Hard constraints: the kind asked for is present, and any year named in the question is in context."""
    if not candidate.type_ok:
        return False
    years = required_years(question)
    context = paragraph_of(candidate.hit, candidate.sentence)
    return all(y in context for y in years)


def shorten(text: str, limit: int, query_tokens: list[str]) -> str:
    """Cut a long sentence to the clause window (split at ，,：:) with most question words, within limit."""
    if len(text) <= limit:
        return text
    clauses = re.findall(r"[^，,：:；;]*[，,：:；;]?", text)
    clauses = [c for c in clauses if c]
    best, best_score = text[:limit], -1.0
    for i in range(len(clauses)):
        window = ""
        for j in range(i, len(clauses)):
            if len(window) + len(clauses[j]) > limit:
                break
            window += clauses[j]
            toks = set(tokenize(window))
            score = sum(1 for t in query_tokens if t in toks) + 0.001 * len(window)
            if score > best_score:
                best, best_score = window, score
    return best.rstrip("，,：:；;")


def refuse(question: str, hits: list[Hit] | tuple[Hit, ...] = ()) -> Answer:
    return Answer(question=question, text=REFUSAL[question_language(question)], refused=True, hits=tuple(hits))


def compose(question: str, chosen: list[Candidate], hits: list[Hit], limit: int,
            query_tokens: list[str]) -> Answer:
    """Build the answer text with [n] markers; citations are numbered by first use, one per passage."""
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    chosen = sorted(chosen, key=lambda c: (c.sentence.doc_id, c.sentence.start))
    budget = limit // len(chosen)
    for cand in chosen:
        key = cand.hit.chunk.id
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            citations.append(Citation(n=numbers[key], hit=cand.hit, sentence=cand.sentence))
        parts.append(f"{shorten(cand.sentence.text, budget, query_tokens)}[{numbers[key]}]")
    return Answer(question=question, text="".join(parts), refused=False, citations=tuple(citations),
                  hits=tuple(hits))


def answer_question(question: str, query_tokens: list[str], query_vector: np.ndarray, index: Index,
                    hits: list[Hit], max_chars: int = 120) -> Answer:
    """The extractive answer for `question` from `hits`, or a refusal when nothing good enough is there."""
    candidates = [c for c in score_candidates(question, query_tokens, query_vector, index, hits)
                  if eligible(question, c)]
    if not candidates or candidates[0].score < REFUSE_BELOW:
        return refuse(question, hits)
    best = candidates[0]
    chosen = [best]
    for other in candidates[1:3]:
        if best.score - other.score <= SECOND_WITHIN and other.sentence.text not in best.sentence.text \
                and len(best.sentence.text) + len(other.sentence.text) <= max_chars:
            chosen.append(other)
            break
    return compose(question, chosen, hits, max_chars, query_tokens)


def check_citations(answer: Answer) -> list[str]:
    """Problems with an answer's citations (empty when all is well): markers resolve, sentences are real."""
    problems = []
    used = {int(n) for n in MARKER.findall(answer.text)}
    numbers = {c.n for c in answer.citations}
    if used != numbers:
        problems.append(f"markers {sorted(used)} do not match citations {sorted(numbers)}")
    hit_ids = {h.chunk.id for h in answer.hits}
    for c in answer.citations:
        if c.hit.chunk.id not in hit_ids:
            problems.append(f"citation [{c.n}] is not among the retrieved passages")
        ch = c.hit.chunk
        if not (ch.start <= c.sentence.start and c.sentence.end <= ch.end
                and ch.text[c.sentence.start - ch.start: c.sentence.end - ch.start] == c.sentence.text):
            problems.append(f"citation [{c.n}] sentence is not inside its passage")
    return problems
