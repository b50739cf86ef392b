"""The default answerer ("extractive"): answers shaped by the question, every sentence quoted and cited.

- factoid (who / when / how much / which): its sentence, with the best span marked by offsets (renderers
  show it in bold: "美图CFO**颜劲良**表示…[1]");
- open (why / how / which ones / describe) and entity (X是谁, 什么是X): 2-4 sentences from the passages,
  in document order, each with its own [n], near-duplicates dropped;
- summary (总结 / 主要观点 / summarize): at most five sentences that stand for the document (summary.py).

Which sentence, which span, and whether to answer at all are decided by logistic models fitted on DRCD
(scripts/fit_answerer.py, rag/answering/decision.py), not by hand-set weights; the answer-or-refuse rule
is decide.extractive (and, for an English question over Chinese text, decide.cross_language_numbers: the
question's numbers must stand in the passage of the first cited sentence; with Config.extractive_anchors, for a
Chinese question, decide.question_anchors: all its anchors, README step 55), and the Answer is built by
compose.compose.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from rag.answering import decide
from rag.answering.base import Evidence
from rag.answering.citations import passage_slice
from rag.answering.claim import cited_claim_share
from rag.answering.compose import Quote, compose, refuse
from rag.answering.contrast import contrast_swap
from rag.answering.decision import AnswerModels, default_models
from rag.answering.features import (
    SentenceCandidate,
    decision_features,
    excerpt_features,
    question_terms,
    sentence_candidates,
    standing,
)
from rag.answering.generation import Control
from rag.answering.meaning import MeaningCut, as_asked, scope_text, weakest_word, words_of
from rag.answering.question import Question, answer_shape, entity_of, missing_answer_type, wanted_type
from rag.answering.spans import (
    SPAN_FEATURES,
    SpanCandidate,
    best_span,
    list_items,
    list_position,
    span_candidates,
)
from rag.answering.summary import MAX_SENTENCES, documents_to_summarize, summary_hits, summary_sentences
from rag.answering.support import (
    document_lead,
    passage_lacks_anchors,
    passage_text,
    question_numbers_missing,
    strip_markers,
)
from rag.answering.text import (
    TYPE_PATTERN,
    char_bigrams,
    char_grams,
    clauses,
    mostly_cjk,
    mostly_latin,
    trim_clause_mark,
)
from rag.schema import Answer, AnswerSpan, Hit

if TYPE_CHECKING:
    from rag.store import Index

ALL_DOCUMENTS = re.compile(r"所有|全部|各个|每个|每篇|这些|\ball\b|\bevery\b|\beach\b", re.I)
# Open answers: sentences whose logit is within OPEN_MARGIN of the best one join it (at most OPEN_MAX),
# while the whole answer stays within OPEN_CHARS. Sentences sharing more than DUPLICATE_GRAMS of their
# character bigrams with one already chosen are near-duplicates and are left out.
OPEN_MAX = 4
OPEN_CHARS = 250
OPEN_MARGIN = 2.0
DUPLICATE_GRAMS = 0.6
SPAN_SENTENCES = 3  # the span is looked for in this many of the best sentences
# README step 67: whether an English question over Chinese text answered with a sentence shows the span finder's bold
# (it reads the question's words, which such a question does not share: 9 right, 21 wrong on the fitting sets)
CROSS_LANGUAGE_SPAN = False
# README step 68: a factoid's bold span is shown only where the span model's logit is at least this (-inf: always)
SPAN_SHOWN_AT = -math.inf
# README step 69: whether an item of a "分别为 A、B 和 C" enumeration is picked by position (_list_pick) over the span
# model's best span
LIST_PICK = True


@dataclass(frozen=True)
class Analysis:
    shape: str
    want: str
    candidates: list[SentenceCandidate] = field(default_factory=list)
    logits: np.ndarray = field(default_factory=lambda: np.zeros(0))
    order: list[int] = field(default_factory=list)
    span: SpanCandidate | None = None
    span_index: int = 0
    score: float = -np.inf  # the answer-or-refuse model's logit (decide.extractive compares it)
    standing: float = 0.0  # the best sentence's cosine standing over every indexed sentence
    cross_language: bool = False  # an English question over a (mostly) Chinese best sentence
    # the candidates in the excerpt ranker's order (README step 43): which sentences a language model reads; the
    # sentence model's `order` where no excerpt ranker is saved
    excerpt_order: list[int] = field(default_factory=list)
    # the span model's logit for `span` (spans.best_span); inf for an enumeration item picked by position (_list_pick)
    span_logit: float = -math.inf


def quote(c: SentenceCandidate, start: int, end: int, text: str) -> Quote:
    return Quote(c.hit, c.sentence, start, end, text)


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, max_chars: int = 120, models: AnswerModels | None = None, check_numbers: bool = True,
                 check_anchors: bool = False, meaning_cut: MeaningCut | None = None,
                 claim_cut: float | None = None, latin_scale: int = 1) -> None:
        self.max_chars = max_chars
        # README step 78: a sentence of a passage with more Latin letters than CJK characters is quoted up to max_chars
        # times this, and an open answer led by one holds OPEN_CHARS times this (`budget`); 1 here is the behaviour
        # before step 78, and make_answerer passes Config.latin_answer_scale (2)
        self.latin_scale = latin_scale
        self.models = models or default_models()
        # an English question over Chinese text is refused when its numbers are not in the answer's passage
        # (decide.cross_language_numbers); scripts/study_model.py turns it off to record what it would refuse
        self.check_numbers = check_numbers
        # a Chinese question is refused when its anchors are not in the answer's passage (decide.question_anchors,
        # Config.extractive_anchors, README step 55); off inside the model answerer, whose stand-ins check it anyway
        self.check_anchors = check_anchors
        # with the anchors, the question's weakest word missing from that passage and its lead must have a word of like
        # meaning there (README step 61; routes.json's extractive_own_meaning_cut, Config.extractive_meaning)
        self.meaning_cut = meaning_cut
        # with the anchors, a Chinese factoid answer is refused where less than this share of the question's word weight
        # stands beside its cited sentence (README step 72; routes.json's extractive_own_claim_cut, Config.extractive_claim)
        self.claim_cut = claim_cut
        # README step 68: the span model's logit below which a factoid's bold span is not shown (SPAN_SHOWN_AT)
        self.span_shown_at = SPAN_SHOWN_AT
        # README step 69: whether the enumeration pick overrides the span model (LIST_PICK)
        self.list_pick = LIST_PICK

    def analyse(self, question: Question, hits: Sequence[Hit], evidence: Evidence) -> Analysis:
        """Everything the answer is decided from: shape, ranked sentence candidates, best span, and the
        answer-or-refuse score (exposed so scripts/fit_answerer.py can calibrate on exactly this)."""
        text = question.text
        shape, want = answer_shape(text), wanted_type(text)
        if question.previous and shape == "factoid" and want == "other":  # "净利润呢？" asks what the last did
            shape, want = answer_shape(question.previous), wanted_type(question.previous)
        if not hits or shape == "summary":
            return Analysis(shape, want)
        index = evidence.index
        english = question.language == "en"
        terms = question_terms(text, question.previous, index)
        candidates = sentence_candidates(terms, want, english, evidence.query_vector, index, hits)
        if not candidates:
            return Analysis(shape, want)
        logits = self.models.sentence.logits(np.stack([c.features for c in candidates]))
        order = [int(i) for i in np.argsort(-logits, kind="stable")]
        best = candidates[order[0]]
        second = float(logits[order[1]]) if len(order) > 1 else float(logits[order[0]]) - 5.0
        z = standing(float(best.features[0]), index.sentence_vectors @ evidence.query_vector)
        asked = f"{question.previous} {text}" if question.previous else text
        span, span_logit, span_i = (best_span(asked, want, candidates, logits, order, self.models.span, SPAN_SENTENCES)
                                    if shape == "factoid" else (None, 0.0, order[0]))
        picked_logit = span_logit
        if shape == "factoid":  # an item of a "分别为 A、B 和 C" enumeration is picked by position, not by score
            listed = _list_pick(asked, want, candidates, logits, order, index) if self.list_pick else None
            if listed:
                span, span_i = listed
                picked_logit = math.inf
        decision = decision_features(float(logits[order[0]]), second, best, z, terms, hits, english, want,
                                     span_logit if shape == "factoid" and span is not None else None)
        score = float(self.models.answer.logits(decision)[0])
        cross = english and mostly_cjk(best.sentence.text)
        ranker = self.models.excerpt
        excerpt_order = order if ranker is None else ranker.ranked(excerpt_features(terms, candidates))
        return Analysis(shape, want, candidates, logits, order, span, span_i, score, z, cross, excerpt_order,
                        span_logit=picked_logit if span is not None else -math.inf)

    def decision(self, a: Analysis) -> decide.Decision:
        """Answer or refuse, by the answerer's one rule (decide.extractive)."""
        return decide.extractive(bool(a.candidates), a.score, self.models.answer.threshold, a.cross_language,
                                 a.standing, self.models.cross_language_standing)

    def answer(self, question: Question, hits: Sequence[Hit], evidence: Evidence,
               on_token: Callable[[str], None] | None = None, control: Control | None = None) -> Answer:
        return self.answer_from(question, hits, evidence, self.analyse(question, hits, evidence))

    def answer_from(self, question: Question, hits: Sequence[Hit], evidence: Evidence, a: Analysis,
                    check_anchors: bool | None = None) -> Answer:
        """The answer decided from an analysis already made (the model answerer's fallback reuses its own);
        `check_anchors` overrides the answerer's own setting (the model answerer's fallback passes Config's)."""
        text = question.text
        if not hits:
            return refuse(text, hits, self.name, a.shape, decide.NO_HITS)
        if a.shape == "summary":
            return self._summary(question, hits, evidence)
        decision = self.decision(a)
        if not decision.answer:
            return refuse(text, hits, self.name, a.shape, decision.reason)
        answer = self._compose(question, hits, a)
        if a.shape == "factoid" and question.language == "zh" and not answer.refused:
            typed = decide.answer_type(missing_answer_type(text, strip_markers(answer.text)))
            if not typed.answer:
                return refuse(text, hits, self.name, a.shape, typed.reason)
        if question.language == "zh" and not answer.refused:  # README step 89, on every kind of question
            swapped = decide.contrast_swap(contrast_swap(text, strip_markers(answer.text)))
            if not swapped.answer:
                return refuse(text, hits, self.name, a.shape, swapped.reason)
        anchors = self.check_anchors if check_anchors is None else check_anchors
        if anchors and question.language == "zh" and not a.cross_language and not answer.refused and answer.citations:
            missing = passage_lacks_anchors(text, evidence.index, answer.citations[0].hit)
            pinned = decide.question_anchors([as_asked(m, text) for m in missing])
            if not pinned.answer:
                return refuse(text, hits, self.name, a.shape, pinned.reason)
            why = self.meaning_missing(text, evidence, answer.citations[0].hit)
            if why:
                return refuse(text, hits, self.name, a.shape, why)
            share = (cited_claim_share(question_terms(text, question.previous, evidence.index), evidence.index,
                                       answer.citations[0], text) if self.claim_cut is not None and a.shape == "factoid"
                     else None)  # README step 72
            if share is not None:
                beside = decide.extractive_claim(share, self.claim_cut)
                if not beside.answer:
                    return refuse(text, hits, self.name, a.shape, beside.reason)
        if self.check_numbers and a.cross_language and not answer.refused and answer.citations:
            numbers = decide.cross_language_numbers(question_numbers_missing(text, passage_text(answer.citations[0].hit)))
            if not numbers.answer:
                return refuse(text, hits, self.name, a.shape, numbers.reason)
        if a.cross_language and answer.span is not None and not CROSS_LANGUAGE_SPAN:
            # README step 67: the span finder reads the question's words, which an English question over Chinese text
            # does not share, so its bold was wrong 21 times in 30 on the fitting sets; the sentence is the answer
            answer = replace(answer, span=None)
        if answer.span is not None and a.span_logit < self.span_shown_at:
            answer = replace(answer, span=None)  # README step 68: a bold the span model is unsure of is not shown
        return answer

    def meaning_missing(self, question: str, evidence: Evidence, hit: Hit) -> str:
        """Why the answer from `hit` is refused by the meaning cut (README step 61), or "": the question's words missing
        from the passage and its document's lead (meaning.missing_words), the weakest of them by its best e5 cosine
        with any word there, below the cut. Nothing is read without a cut or with another embedder than its own."""
        cut = self.meaning_cut
        if cut is None or not cut.applies(evidence.embedder):
            return ""
        scope = scope_text(passage_text(hit), document_lead(evidence.index, hit))
        word, cosine = weakest_word(question, scope, words_of(evidence.embedder))
        if cosine >= cut.below:
            return ""
        return decide.meaning_missing(as_asked(word, question), cosine, cut.below, "the extractive answer's passage")

    def _compose(self, question: Question, hits: Sequence[Hit], a: Analysis) -> Answer:
        if a.shape == "factoid":
            return self._factoid(question, a.candidates[a.span_index], a.span, hits, a.shape)
        order = a.order
        if a.shape == "entity":
            name = entity_of(question.text).lower()
            mentions = [i for i in order if name and name in a.candidates[i].sentence.text.lower()]
            order = mentions + [i for i in order if i not in mentions] if mentions else order
        return self._open(question, a.candidates, a.logits, order, hits, a.shape)

    # -- factoid ---------------------------------------------------------------------------------------
    def _factoid(self, question: Question, c: SentenceCandidate, best: SpanCandidate | None, hits: Sequence[Hit],
                 shape: str) -> Answer:
        sentence = c.sentence
        if best is None or best.end - best.start >= len(sentence.text):
            pick = self._cut(c, sentence.start, sentence.end, None)
            return compose(question.text, [pick], hits, self.name, shape)
        used_context = c.previous is not None and _is_list_pick(best)
        s_start, s_end = sentence.start + best.start, sentence.start + best.end
        start = c.previous.start if used_context else sentence.start
        pick = self._cut(c, start, sentence.end, (s_start, s_end))
        span = AnswerSpan(best.text, sentence.doc_id, s_start, s_end, n=1)
        return compose(question.text, [pick], hits, self.name, shape, span)

    def budget(self, hit: Hit, chars: int) -> int:
        """`chars` for a Chinese passage; times latin_scale where the passage (the hit's chunk) has more Latin letters
        than CJK characters (README step 78, the chunker's test: the same content takes about four times the characters
        in English). The passage decides, not the sentence: a short Chinese sentence naming a product in Latin letters
        (`2023年,ChatGPT席卷全球;`) keeps Chinese budgets."""
        return chars * self.latin_scale if mostly_latin(hit.chunk.text) else chars

    def _cut(self, c: SentenceCandidate, start: int, end: int, keep: tuple[int, int] | None) -> Quote:
        """The quoted range: the whole [start, end) when short enough, else the clause window holding `keep`
        (or the first clauses) within max_chars (times latin_scale for English text, `budget`)."""
        text = passage_slice(c.hit, start, end)
        limit = self.budget(c.hit, self.max_chars)
        if len(text) <= limit:
            return quote(c, start, end, text)
        bounds, at = [], start
        for clause in clauses(text):
            bounds.append((at, at + len(clause)))
            at += len(clause)
        lo = 0
        if keep:
            lo = next((k for k, (_, e) in enumerate(bounds) if e > keep[0]), 0)
        hi = lo
        while hi + 1 < len(bounds) and bounds[hi + 1][1] - bounds[lo][0] <= limit:
            hi += 1
        while keep and bounds[hi][1] < keep[1] and hi + 1 < len(bounds):
            hi += 1
        while lo > 0 and bounds[hi][1] - bounds[lo - 1][0] <= limit:
            lo -= 1
        s, e = bounds[lo][0], bounds[hi][1]
        piece = passage_slice(c.hit, s, e)
        trimmed = trim_clause_mark(piece)
        return quote(c, s, s + len(trimmed), trimmed)

    # -- open / entity ---------------------------------------------------------------------------------
    def _open(self, question: Question, candidates: list[SentenceCandidate], logits: np.ndarray,
              order: list[int], hits: Sequence[Hit], shape: str) -> Answer:
        top = float(logits[order[0]])
        chosen: list[Quote] = []
        grams: list[set[str]] = []
        used = 0
        bound = self.budget(candidates[order[0]].hit, OPEN_CHARS) if order else OPEN_CHARS
        for i in order:
            if len(chosen) >= OPEN_MAX or (chosen and float(logits[i]) < top - OPEN_MARGIN):
                break
            c = candidates[i]
            g = char_grams(c.sentence.text)
            if any(len(g & h) / max(min(len(g), len(h)), 1) > DUPLICATE_GRAMS for h in grams):
                continue
            pick = self._cut(c, c.sentence.start, c.sentence.end, None) if not chosen else \
                quote(c, c.sentence.start, c.sentence.end, c.sentence.text)
            if chosen and used + len(pick.text) > bound:
                continue
            chosen.append(pick)
            grams.append(g)
            used += len(pick.text)
        doc_order = {d: k for k, d in enumerate(dict.fromkeys(p.sentence.doc_id for p in chosen))}
        chosen.sort(key=lambda p: (doc_order[p.sentence.doc_id], p.start))  # document order
        return compose(question.text, chosen, hits, self.name, shape)

    # -- summary ---------------------------------------------------------------------------------------
    def _summary(self, question: Question, hits: Sequence[Hit], evidence: Evidence) -> Answer:
        index = evidence.index
        docs = documents_to_summarize(index, hits, bool(ALL_DOCUMENTS.search(question.text)))
        rows = summary_sentences(index, docs, MAX_SENTENCES)
        by_row = summary_hits(index, rows, evidence.query_vector)
        picks = [Quote(by_row[row], s, s.start, s.end, s.text)
                 for row in rows if row in by_row for s in [index.sentences[row]]]
        decision = decide.summary(len(picks))
        if not decision.answer:
            return refuse(question.text, hits, self.name, "summary", decision.reason)
        summary_passages = tuple(dict.fromkeys(p.hit for p in picks))
        return compose(question.text, picks, summary_passages, self.name, "summary")


LIST_SENTENCES = 8  # how many of the best sentences are searched for an enumeration the question points into


def _list_pick(question: str, want: str, candidates: list[SentenceCandidate], logits: np.ndarray,
               order: list[int], index: Index) -> tuple[SpanCandidate, int] | None:
    """(span, candidate index) of the enumeration item the question names by position, if any. The names
    may sit in the sentence before, even when a passage border separates the two; the sentence after one of
    the best is searched too (the best one often names the items, the next gives their values)."""
    by_row = {c.row: k for k, c in enumerate(candidates)}
    searched = list(dict.fromkeys(j for i in order[:LIST_SENTENCES]
                                  for j in (i, by_row.get(candidates[i].row + 1)) if j is not None))
    for i in searched:
        c = candidates[i]
        before = index.sentences[c.row - 1] if c.row > 0 else None
        context = c.previous.text if c.previous else (
            before.text if before is not None and before.doc_id == c.sentence.doc_id else "")
        items = list_items(c.sentence.text)
        position = list_position(question, c.sentence.text, context) if items else None
        if position is None or position >= len(items):
            continue
        start, end = items[position]
        item = c.sentence.text[start:end]
        grams = char_bigrams(item) or {item}
        if sum(g in question for g in grams) >= len(grams) / 2:  # the question names this item: not its answer
            continue
        if want in TYPE_PATTERN and not TYPE_PATTERN[want].search(item):  # asks an amount, item is a name
            continue
        for span in span_candidates(question, want, c.sentence.text, float(logits[i]), context):
            if (span.start, span.end) == (start, end):
                return span, i
    return None


def _is_list_pick(span: SpanCandidate) -> bool:
    return float(span.features[SPAN_FEATURES.index("is_list_item")]) > 0
