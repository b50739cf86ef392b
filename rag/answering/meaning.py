"""Whether the question's words that an answer's support leaves out are there in other words (README step 30).

The claim cut and step 27's score cut count the question's words beside an answer's sentence. A paraphrased
question (首席财务官 for CFO) and a question with one noun swapped for another (视网膜 asked of a passage about
Hobbes) both leave words out, so counting cannot tell them apart. This reads each word that is missing by meaning:
its best e5 cosine with any word of the support's context (the sentence, its neighbours and the title). A synonym
finds a close word there; a swapped-in noun finds none. The lowest of those cosines, `missing_meaning`, is what
ModelAnswerer compares with Policy.min_missing_meaning; scripts/choose_policy.py --meaning-cut fits the cut.

Pure: the embedding is passed in as a function from words to L2-normalized vectors (`WordVectors` wraps an
Embedder and keeps the vectors of words it has seen). Cosines are the embedder's own: a cut fitted with one
embedder means nothing with another, so routes.json records which one it was fitted with.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.tokenize import token_set, tokenize

# Words that ask rather than name (Chinese interrogatives): what the answer fills in, not something the support
# must hold. General question words, not words of any QA set.
# 哪一 (哪一年): the 一 asks too (round 26); an era before an asked year (西元几年, 公元前多少年) asks with it: it names
# the calendar, not what the question is about (README step 86, round 54: DRCD dev's 西元几年 questions were refused
# for 西元, a word their passages never write)
INTERROGATIVE = re.compile(r"哪一|[哪何谁几]|什么|甚么|多少|多久|多长|(?:西元|公元)前?(?=几|多少)")
MIN_WORD_CHARS = 2  # single characters (里, 用) match too much of any context to mean anything


def missing_words(question: str, context: str) -> list[str]:
    """The question's own words (tokenize: stopwords out) of MIN_WORD_CHARS or more that ask for nothing and are not
    in `context`, in the question's order. Not in it means neither among its words nor written in it: jieba splits an
    unknown name one way in a short question and another inside a longer sentence (侯活 of 侯活·韦比), and a name the
    context holds is not missing (round 25's first feature counted only words; README step 30). Where the words are
    looked for may be wider than where their meaning is (`weakest_word`'s `present`: the whole passage, step 31)."""
    have = token_set(context)
    text = unicodedata.normalize("NFKC", context).lower()  # as tokenize folds the question's words
    asked = unicodedata.normalize("NFKC", question).lower()
    met = met_eras(asked, text)
    return [w for w in dict.fromkeys(tokenize(question))
            if len(w) >= MIN_WORD_CHARS and not INTERROGATIVE.search(w) and not asking(w, asked)
            and w not in have and w not in text and w not in met]


def met_eras(question: str, context: str) -> frozenset[str]:
    """The words of the question's centuries and decades that `context` meets with a year inside them (21 and 世纪 of
    21世纪 where the context writes 2005年; README step 92): not missing, as the question's anchors are not."""
    from rag.answering.support import (  # support imports much; read on use
        era_numbers,
        era_stands,
        with_digits,
    )

    eras = era_numbers(question)
    if not eras:
        return frozenset()
    digits = with_digits(context)
    met = [(n, era) for n, era in eras.items() if era_stands(era, digits)]
    return frozenset(w for n, era in met for w in (n, era, era[len(n):]))


def asking(word: str, question: str) -> bool:
    """Whether every place `word` stands in `question` (both folded) overlaps an interrogative: jieba's search mode
    gives 少年 out of 多少年来 and 一年 out of 哪一年, pieces of what the question asks, not names of what it is about
    (round 26's correction, README step 31). A word that only touches an interrogative's characters is dropped too
    (许多 of 许多少年; none among the 3,040 questions measured in round 26); jieba's precise mode, tried instead, is worse
    (it cuts 哪/一种 apart)."""
    spans = [m.span() for m in INTERROGATIVE.finditer(question)]
    starts = [i for i in range(len(question)) if question.startswith(word, i)]
    return bool(starts) and all(any(i < end and start < i + len(word) for start, end in spans) for i in starts)


def weakest_word(question: str, context: str, embed: Callable[[Sequence[str]], np.ndarray],
                 present: str | None = None) -> tuple[str, float]:
    """The question's word missing from `present` (`missing_words`; default: `context`) whose best cosine with a word of
    `context` is the lowest, and that cosine; ("", 1.0) when no word is missing, (the first, 0.0) when the context has
    no word. `embed` maps words to L2-normalized vectors, one row each. With `present` the whole passage, a subject it
    names once, away from the answer's sentence, is not missing (README step 31); the meaning is still read beside
    the answer."""
    words = missing_words(question, context if present is None else present)
    if not words:
        return "", 1.0
    ours = list(dict.fromkeys(tokenize(context)))
    if not ours:
        return words[0], 0.0
    vectors = embed([*words, *ours])
    best = (vectors[:len(words)] @ vectors[len(words):].T).max(axis=1)
    i = int(best.argmin())
    return words[i], float(best[i])


SCOPES = ("window", "passage")  # where a question word is looked for (Policy.meaning_scope, README step 31)


def weakest_in(question: str, context: str, passage: str, embed: Callable[[Sequence[str]], np.ndarray],
               scope: str) -> tuple[str, float]:
    """`weakest_word` in `scope`: "window", a word is missing where `context` (the support, its neighbours and the
    title) lacks it; "passage", where the whole `passage` lacks it too (README step 31). The meaning is read against
    the context's words either way. The product, the studies and annotate_meaning.py all measure it here."""
    return weakest_word(question, context, embed, f"{context}\n{passage}" if scope == "passage" else None)


def as_asked(word: str, question: str) -> str:
    """`word` (folded by tokenize: NFKC, lower-cased) as the question writes it (Wink, not wink), for messages."""
    shown = unicodedata.normalize("NFKC", question)
    i = shown.lower().find(word)
    return shown[i:i + len(word)] if i >= 0 and len(shown.lower()) == len(shown) else word


def missing_meaning(question: str, context: str, embed: Callable[[Sequence[str]], np.ndarray],
                    present: str | None = None) -> float:
    """`weakest_word`'s cosine: what Policy.min_missing_meaning cuts on."""
    return weakest_word(question, context, embed, present)[1]


class WordVectors:
    """Word vectors from an Embedder's query side, remembered (the same context words come back question after
    question); at most `keep` words, the least recently used forgotten first. Thread-safe."""

    def __init__(self, embedder, keep: int = 20000) -> None:  # noqa: ANN001 - any Embedder
        self.embedder = embedder
        self.keep = keep
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        with self._lock:  # held while embedding: a word seen is never forgotten before it is read back
            need = list(dict.fromkeys(w for w in words if w not in self._vectors))
            if need:
                for word, vector in zip(need, self.embedder.embed_queries(need), strict=True):
                    self._vectors[word] = np.array(vector, dtype=np.float32)  # a copy: a row would keep its batch
            out = []
            for w in words:
                self._vectors.move_to_end(w)
                out.append(self._vectors[w])
            while len(self._vectors) > max(self.keep, len(words)):
                self._vectors.popitem(last=False)
        return np.asarray(out, dtype=np.float32).reshape(len(words), -1)


@dataclass(frozen=True)
class MeaningCut:
    """A meaning cut fitted with one embedder (README step 61: the extractive answerer's own answers): an answer is
    refused where the question's weakest missing word has a cosine below `below`; it applies only where the answer's
    embedder is the one fitted with (`embedder`, its weights' `fingerprint` where saved)."""

    below: float
    embedder: str
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not -1.0 <= self.below <= 1.0:
            raise ValueError(f"MeaningCut below={self.below!r}: a cosine cut must be from -1 to 1")

    def applies(self, embedder) -> bool:  # noqa: ANN001 - any Embedder, or None
        return (getattr(embedder, "name", None) == self.embedder
                and (not self.fingerprint or getattr(embedder, "fingerprint", None) == self.fingerprint))


def scope_text(passage: str, lead: str) -> str:
    """Where step 61's cut reads a question's missing words: the cited passage and its document's lead, one text. The
    product (ExtractiveAnswerer.meaning_missing) and the fit (scripts/study_anchors.py --meaning) both build it here."""
    return f"{passage}\n{lead}"


def words_of(embedder) -> WordVectors:  # noqa: ANN001 - any Embedder
    """The one WordVectors of `embedder` (made on first use, kept on it), so every answer reuses the words seen."""
    found = getattr(embedder, "_word_vectors", None)
    if isinstance(found, WordVectors):
        return found
    made = WordVectors(embedder)
    try:
        embedder._word_vectors = made
    except (AttributeError, TypeError):  # a frozen or slotted embedder: the vectors live as long as this answer
        pass
    return made
