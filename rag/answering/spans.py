"""Span candidates inside a sentence (names, amounts, dates, list items, short phrases) and their features.

A factoid answer is the shortest text that answers: the fitted span model (rag/answering/decision.py)
scores every candidate produced here. Candidates are runs of 1..MAX_TOKENS jieba words inside one clause
that neither start nor end with a function word, whole clauses, and the items of enumerations
("分别为 A、B 和 C"), where the item is matched to the question by position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.answering.features import WANTS
from rag.answering.text import (
    CJK,
    CLAUSE_MARKS,
    CLAUSE_RUN,
    COMMAS,
    MONEY,
    NUMBER,
    PERCENT,
    QUESTION_END,
    SENTENCE_END,
    STOPWORDS,
    TIME,
    char_bigrams,
)

# Words a span may not start or end with. Units and measure words (1939年, 3个) may end one.
EDGE_STOPWORDS = STOPWORDS - {"年", "月", "日", "个", "家", "位", "中", "上", "下"}

MAX_TOKENS = 6
# jieba part-of-speech groups (ICTCLAS tags): what kind of thing a word is.
POS_GROUPS = ("nr", "ns", "nt", "nz", "n", "m", "t", "eng", "v", "a", "other")
_POS_GROUP = {"nr": "nr", "nrfg": "nr", "nrt": "nr", "ns": "ns", "nt": "nt", "nz": "nz", "n": "n", "vn": "n",
              "ng": "n", "an": "n", "m": "m", "mq": "m", "q": "m", "t": "t", "tg": "t", "eng": "eng", "v": "v",
              "vd": "v", "a": "a", "ad": "a", "j": "nt", "l": "n", "i": "n"}
# Words a span does not start or end with: particles, prepositions, conjunctions, adverbs, pronouns.
_EDGE_BAD = re.compile(r"^(?:u.*|p|c|d|r.*|y|e|o|h|k|zg|uj|ul|uz|ug|ud|uv)$")
# A jieba word holding one of these ends a run of words (a span never crosses a clause or a bracket).
CLAUSE_BREAK = re.compile(rf"[{COMMAS}{SENTENCE_END}．：:（）()\s]")
SPAN_TRIM = " \t" + CLAUSE_MARKS + SENTENCE_END + "."  # what a span does not end with
# Enumerations: "分别为/是 A、B 和 C" lists items whose order follows an earlier list of names.
LIST_CUE = re.compile(r"分别(?:为|是|达到?|占|约为?)?")
LAST_JOIN = re.compile(r"以及|和|及|与|\band\b")


def split_items(text: str) -> list[str]:
    """"A、B和C" -> [A, B, C]; without 、, "A和B" -> [A, B]. A 与 inside an item (影像与设计) stays."""
    parts = re.split(r"、|，|,", text)
    last = parts[-1]
    joins = list(LAST_JOIN.finditer(last))
    if joins:
        j = joins[0] if len(parts) == 1 else joins[-1]
        parts[-1:] = [last[:j.start()], last[j.end():]]
    return [p for p in parts if p.strip()]
QUOTED = re.compile(r"《[^》]{1,30}》|“[^”]{1,30}”|「[^」]{1,30}」|\"[^\"]{1,30}\"")

SPAN_FEATURES = (
    ("log_chars", "n_tokens", "q_overlap", "has_q_word", "is_clause", "is_list_item", "quoted",
     "has_time", "has_percent", "has_number", "has_money", "left_match", "right_match", "near_q",
     "after_q", "after_copula", "sentence_logit", "ctx_near", "ctx_wide", "ctx_left", "ctx_right",
     "left_gap", "right_gap", "left_adjacent", "right_adjacent", "between")
    + tuple(f"pos_{g}" for g in POS_GROUPS)
    + tuple(f"{w}_x_{k}" for w in WANTS for k in ("time", "percent", "number", "money", "nr", "ns", "nt", "noun",
                                                   "eng", "clause"))
)


@dataclass(frozen=True)
class SpanCandidate:
    start: int  # offsets into the sentence text
    end: int
    text: str
    features: np.ndarray


@lru_cache(maxsize=4096)
def _pos_words(text: str) -> tuple[tuple[str, str, int], ...]:
    """(word, tag, start offset) for every jieba word of text."""
    import jieba.posseg as pseg

    out, at = [], 0
    for w in pseg.cut(text):
        out.append((w.word, w.flag, at))
        at += len(w.word)
    return tuple(out)


def _group(flag: str) -> str:
    return _POS_GROUP.get(flag, _POS_GROUP.get(flag[:2], _POS_GROUP.get(flag[:1], "other")))


INTERROGATIVE = re.compile(r"是谁|谁|什么时候|什么|多少|哪一?[个年位家种款天里些]?|何时|何地|几[个位家年月]?|怎样|如何|"
                           r"\b(?:who|what|when|where|which|how many|how much)\b", re.I)


def question_context(question: str) -> tuple[str, str]:
    """The words right before and right after the interrogative (谁/什么/多少/哪...): in a sentence that
    answers, the answer tends to sit between the same neighbours (X的CFO是谁 ~ X的CFO颜劲良)."""
    m = INTERROGATIVE.search(question)
    if not m:
        return "", ""
    left = re.sub(r"[是为的在了有\s]+$", "", question[:m.start()])
    right = re.sub(r"^[是为的了\s]+", "", question[m.end():])
    left_word = re.findall(rf"[{CJK}]{{1,2}}$|[A-Za-z0-9]+$", left)
    right_word = re.findall(rf"^[{CJK}]{{1,2}}|^[A-Za-z0-9]+", right)
    return (left_word[0] if left_word else ""), (right_word[0] if right_word else "")


def aligned_edges(question: str, sentence: str) -> tuple[int, int]:
    """Where, in the sentence, the question's text before the interrogative ends and the text after it
    begins: the longest suffix (prefix) of 2+ characters found in the sentence. -1 where none is found."""
    m = INTERROGATIVE.search(question)
    if not m:
        return -1, -1
    left, right = question[:m.start()].rstrip("是为的在了有 "), question[m.end():].lstrip("是为的了 ")
    right = re.sub(rf"[{QUESTION_END}]+$", "", right)
    left_end = right_start = -1
    for k in range(min(len(left), 12), 1, -1):
        at = sentence.rfind(left[-k:])
        if at >= 0:
            left_end = at + k
            break
    for k in range(min(len(right), 12), 1, -1):
        at = sentence.find(right[:k])
        if at >= 0:
            right_start = at
            break
    return left_end, right_start


def list_items(sentence: str) -> list[tuple[int, int]]:
    """Item spans of a "分别为 A、B 和 C" enumeration (empty when there is none)."""
    m = LIST_CUE.search(sentence)
    if not m:
        return []
    tail_end = len(sentence)
    for stop in SENTENCE_END:
        k = sentence.find(stop, m.end())
        if k >= 0:
            tail_end = min(tail_end, k)
    tail = sentence[m.end():tail_end]
    items, at = [], m.end()
    for part in split_items(tail):
        s = sentence.find(part, at)
        if part.strip() and s >= 0:
            items.append((s, s + len(part)))
            at = s + len(part)
    return items if len(items) >= 2 else []


def list_length(sentence: str) -> int:
    """How many items an enumeration holds: those of its first comma clause when that clause is a list of its own
    ("分别为1200人、950人，均创新高" holds two), else every item `list_items` finds ("分别为1200人，950人和1830人")."""
    m = LIST_CUE.search(sentence)
    if not m:
        return 0
    first = re.split(r"[，,]", sentence[m.end():], maxsplit=1)[0]
    if re.search(r"、|和|及|与|以及", first):
        return len(split_items(first.rstrip("。；;！!？?")))
    return len(list_items(sentence))


def list_position(question: str, sentence: str, context: str) -> int | None:
    """Which item of an enumeration the question asks for: the position, in an earlier list of names
    ("A、B和C" before 分别为), of the name the question mentions. None when that cannot be told, or when the names
    are not as many as the items (分别 pairs them one by one: "美图总收入与净利润" in the sentence before "核心业务分别为
    A、B和C" names no item of it)."""
    m = LIST_CUE.search(sentence)
    head = (context + sentence[:m.start()]) if m else ""
    if not head:
        return None
    lists = re.findall(r"[^，,。；;：:]*(?:、[^，,。；;：:]*)*(?:和|及|与|以及)[^，,。；;：:]*", head)
    if not lists:
        return None
    names = [n.strip() for n in split_items(lists[-1])]
    if len(names) != list_length(sentence):
        return None
    names = [re.sub(r"^.*?(?:为|是|包括|有)", "", n) or n for n in names]
    # score each name by the character bigrams that only it has (学院 in every name says nothing) and that
    # the question uses; a clear winner is the item asked for
    grams = [char_bigrams(name) for name in names]
    counts = [sum(g in question for g in mine - set().union(*(o for k, o in enumerate(grams) if k != n)))
              for n, mine in enumerate(grams)]
    ranked = sorted(counts, reverse=True)
    if not ranked or ranked[0] < 1 or (len(ranked) > 1 and ranked[1] == ranked[0]):
        return None
    return counts.index(ranked[0])


def span_candidates(question: str, want: str, sentence: str, sentence_logit: float,
                    context: str = "") -> list[SpanCandidate]:
    """Every candidate span of `sentence` with its features (SPAN_FEATURES, in that order)."""
    words = _pos_words(sentence)
    if not words:
        return []
    q_lower = question.lower()
    q_words = re.findall(rf"[{CJK}]{{2,}}|[A-Za-z0-9]+", question)
    q_terms = set(_tokens_of(question))
    q_hits = [m.start() for w in q_terms for m in re.finditer(re.escape(w), sentence)]
    left, right = question_context(question)
    edges = aligned_edges(question, sentence)
    spans: dict[tuple[int, int], dict[str, float]] = {}

    def add(s: int, e: int, **flags: float) -> None:
        while s < e and sentence[s] in " \t":
            s += 1
        while e > s and sentence[e - 1] in SPAN_TRIM:
            e -= 1
        if e > s and any(ch.isalnum() for ch in sentence[s:e]):
            spans.setdefault((s, e), {}).update(flags)

    # runs of words inside one clause
    clause_of = []
    clause = 0
    for word, _flag, _at in words:
        clause_of.append(clause)
        if CLAUSE_BREAK.fullmatch(word[-1:] or " "):
            clause += 1
    for i, (w, f, at) in enumerate(words):
        if CLAUSE_BREAK.search(w) or _EDGE_BAD.match(f) or w in EDGE_STOPWORDS:
            continue
        for j in range(i, min(i + MAX_TOKENS, len(words))):
            wj, fj, atj = words[j]
            if clause_of[j] != clause_of[i] or CLAUSE_BREAK.search(wj):
                break
            if _EDGE_BAD.match(fj) or wj in EDGE_STOPWORDS:
                continue
            add(at, atj + len(wj))
    # whole clauses, and the part of a clause after 是/为/叫 (definitions: "X是Y")
    for m in CLAUSE_RUN.finditer(sentence):
        add(m.start(), m.end(), clause=1.0)
        c = re.search(r"(?:是|为|叫|称为|被称为|名为)", m.group())
        if c and c.end() < len(m.group()):
            add(m.start() + c.end(), m.end(), clause=1.0)
    for m in QUOTED.finditer(sentence):
        add(m.start(), m.end(), quoted=1.0)
    items = list_items(sentence)
    pos = list_position(question, sentence, context) if items else None
    for k, (s, e) in enumerate(items):
        add(s, e, list_item=1.0 if pos is None or pos == k else -1.0)

    out = []
    for (s, e), flags in spans.items():
        text = sentence[s:e]
        out.append(SpanCandidate(s, e, text, _span_features(
            text, s, e, sentence, flags, want, q_lower, q_words, q_hits, left, right, sentence_logit, q_terms,
            edges)))
    return out


def _share_in(terms: set[str], window: str) -> float:
    """Share of the question's words found in a window of text around a span: an answer sits among the
    words the question uses ("X的作者是谁" ~ "X的作者雷蒙·钱德勒")."""
    return sum(t in window for t in terms) / len(terms) if terms else 0.0


def best_span(question: str, want: str, candidates: Sequence, sentence_logits: np.ndarray, order: Sequence[int],
              model, sentences: int = 3) -> tuple[SpanCandidate | None, float, int]:
    """(span, its logit, index of its sentence candidate): the best-scoring span of the `sentences` best
    sentences (`order` ranks `candidates`; each has .sentence and .previous)."""
    best, best_logit, best_i = None, -math.inf, order[0] if len(order) else -1
    for i in order[:sentences]:
        c = candidates[i]
        spans = span_candidates(question, want, c.sentence.text, float(sentence_logits[i]),
                                c.previous.text if c.previous else "")
        if not spans:
            continue
        logits = model.logits(np.stack([s.features for s in spans]))
        j = int(np.argmax(logits))
        if float(logits[j]) > best_logit:
            best, best_logit, best_i = spans[j], float(logits[j]), i
    return best, best_logit, best_i


@lru_cache(maxsize=256)
def _tokens_of(question: str) -> tuple[str, ...]:
    from rag.tokenize import tokenize

    return tuple(t for t in tokenize(question) if len(t) >= 2 or not t.isascii())


def _span_features(text: str, s: int, e: int, sentence: str, flags: dict[str, float], want: str, q_lower: str,
                   q_words: list[str], q_hits: list[int], left: str, right: str,
                   sentence_logit: float, q_terms: set[str], edges: tuple[int, int]) -> np.ndarray:
    words = [w for w in _pos_words(sentence) if s <= w[2] < e]
    groups = {_group(f) for _, f, _ in words}
    chars = [c for c in text if not c.isspace()]
    q_overlap = sum(c.lower() in q_lower for c in chars) / max(len(chars), 1)
    has_q_word = float(any(w in text for w in q_words if len(w) >= 2))
    before = sentence[max(0, s - 4):s]
    after = sentence[e:e + 4]
    near = min((abs(h - s) for h in q_hits), default=60)
    after_q = float(any(h < s for h in q_hits))
    kinds = {"time": bool(TIME.search(text)), "percent": bool(PERCENT.search(text)),
             "number": bool(NUMBER.search(text)), "money": bool(MONEY.search(text)),
             "nr": "nr" in groups, "ns": "ns" in groups, "nt": "nt" in groups,
             "noun": bool(groups & {"n", "nz", "nt", "nr", "ns"}), "eng": "eng" in groups,
             "clause": flags.get("clause", 0.0) > 0}
    base = [math.log1p(len(text)), float(len(words)), q_overlap, has_q_word, flags.get("clause", 0.0),
            flags.get("list_item", 0.0), flags.get("quoted", 0.0),
            float(kinds["time"]), float(kinds["percent"]), float(kinds["number"]), float(kinds["money"]),
            float(bool(left) and left in before), float(bool(right) and right in after),
            math.log1p(near), after_q, float(bool(re.search(r"(?:是|为|叫|称)$", before))), sentence_logit,
            _share_in(q_terms, sentence[max(0, s - 8):s] + " " + sentence[e:e + 8]),
            _share_in(q_terms, sentence[max(0, s - 20):s] + " " + sentence[e:e + 20]),
            _share_in(q_terms, sentence[max(0, s - 12):s]), _share_in(q_terms, sentence[e:e + 12])]
    left_end, right_start = edges
    left_gap = s - left_end if left_end >= 0 else 99
    right_gap = right_start - e if right_start >= 0 else 99
    base += [math.log1p(abs(left_gap)) * (1 if left_gap >= 0 else -1), math.log1p(abs(right_gap)) * (1 if right_gap >= 0 else -1),
             float(0 <= left_gap <= 2), float(0 <= right_gap <= 2),
             float(left_end >= 0 and right_start >= 0 and left_end <= s and e <= right_start)]
    pos = [float(g in groups) for g in POS_GROUPS]
    cross = [float(w == want and kinds[k]) for w in WANTS for k in ("time", "percent", "number", "money", "nr",
                                                                   "ns", "nt", "noun", "eng", "clause")]
    return np.array(base + pos + cross, dtype=np.float64)
