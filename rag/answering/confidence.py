"""How sure the model was of what it wrote: the lowest probability it gave a token of its reply's content.

A small model asked about something the excerpts do not give (a noun whose value is not there) still writes a
value, but it hesitates at that value: `美图2023年的研发预算是3.7亿元` puts 0.24 on the `3`, where the same
sentence answering the net profit, which the excerpt gives, puts 0.997 on it. Greedy decoding writes the most
likely token, so its probability is how clear the choice was.

The tokens read are the reply's content (letters, digits, CJK; not punctuation, not `[n]` markers), and with
`beyond_question` only those of what the reply says beyond its question: restating the question (美图2023年的…)
is phrasing, where the first token's hesitation says nothing about the answer. Pure: the probabilities come
from the generator (Generation.token_probs); how low is too low is fitted (scripts/choose_policy.py
--confidence) and saved beside the claim cut in routes.json.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rag.schema import CITATION_MARKER

REPLACEMENT = "\ufffd"  # a token holding part of a UTF-8 character (a rare CJK character split in two)


def _content(text: str) -> bool:
    return any(c.isalnum() or c == REPLACEMENT for c in text)


def repeated_chars(reply: str, question: str) -> list[bool]:
    """For each character of `reply`: whether it lies in a stretch of two or more characters that the
    question holds too (case-insensitive; the longest stretch from each position)."""
    low = "".join(c.lower() if len(c.lower()) == 1 else c for c in reply)  # one character each (İ lowers to two)
    asked = question.lower()
    marked = [False] * len(reply)
    i = 0
    while i < len(low):
        n = 0
        while i + n < len(low) and low[i:i + n + 1] in asked:
            n += 1
        if n >= 2:
            marked[i:i + n] = [True] * n
            i += n
        else:
            i += 1
    return marked


def content_probs(token_probs: Sequence[tuple[str, float]], question: str = "",
                  beyond_question: bool = False) -> list[float]:
    """The probabilities of the reply's content tokens, in order (with `beyond_question`: of those not wholly
    inside a stretch repeated from `question`)."""
    text = "".join(t for t, _ in token_probs)
    skip = [False] * len(text)
    for m in CITATION_MARKER.finditer(text):
        skip[m.start():m.end()] = [True] * (m.end() - m.start())
    repeated = repeated_chars(text, question) if beyond_question and question else [False] * len(text)
    out: list[float] = []
    pos = 0
    for piece, p in token_probs:
        span = range(pos, pos + len(piece))
        pos += len(piece)
        if _content(piece) and not all(skip[i] for i in span) and not all(repeated[i] for i in span):
            out.append(p)
    return out


def _geometric_mean(ps: list[float]) -> float:
    return math.exp(sum(math.log(max(p, 1e-9)) for p in ps) / len(ps))


# name -> (read only what the reply says beyond its question?, the statistic of those probabilities). The
# first content token also carries the choice of phrasing (a bare `27亿元` or `美图2023年…` restating the
# question), which is why the "after_first" ones leave it out (a reply of one content token is read by it).
# Which one decides is fitted (routes.json).
STATISTICS: dict[str, tuple[bool, Callable[[list[float]], float]]] = {
    "min": (False, min),
    "min_after_first": (False, lambda ps: min(ps[1:]) if len(ps) > 1 else ps[0]),
    "min_beyond": (True, min),
    "min_beyond_after_first": (True, lambda ps: min(ps[1:]) if len(ps) > 1 else ps[0]),
    "geometric_mean": (False, _geometric_mean),
}


def token_confidence(token_probs: Sequence[tuple[str, float]], question: str = "",
                     statistic: str = "min") -> float | None:
    """How sure the model was of its reply by `statistic` (STATISTICS); None when there are no
    probabilities or no content token to read."""
    if statistic not in STATISTICS:
        raise ValueError(f"unknown confidence statistic {statistic!r}; known: {', '.join(STATISTICS)}")
    beyond, measure = STATISTICS[statistic]
    ps = content_probs(token_probs, question, beyond) if token_probs else []
    return measure(ps) if ps else None


# The question's surprise (README step 38): how unexpected the question's least expected token is to the model after
# the excerpts (Generation.question_logprobs). A noun swapped in from elsewhere is; a question about the excerpts,
# paraphrased or not, mostly is not. Punctuation tokens (its closing question mark) are left out.
QUESTION_PUNCTUATION = " ？?。.！!，,、：:；;“”\"'「」《》（）()"


def question_surprise(logprobs: Sequence[tuple[str, float]]) -> tuple[str, float] | None:
    """The question's least expected token that is not punctuation (its text, an incomplete UTF-8 character as
    U+FFFD) and its natural log-probability; None when the generator gave none."""
    scored = [(t, v) for t, v in logprobs if t.strip(QUESTION_PUNCTUATION)]
    return min(scored, key=lambda tv: tv[1]) if scored else None


# The question's gain from the excerpts (README step 46): the mean, over the question's tokens (punctuation left out),
# of the log-probability each has after the excerpts less the one it has after the same prompt without them. A question
# about the excerpts is made more expected by them, paraphrased or not; one about something else (a noun swapped in,
# a paragraph that was never indexed) hardly is. Both readings must be of the same tokens.
def question_gain(with_excerpts: Sequence[tuple[str, float]],
                  without: Sequence[tuple[str, float]]) -> float | None:
    """The mean gain in natural log-probability per question token from the excerpts; None where either reading is
    missing, they are not of the same tokens, or no token but punctuation is left."""
    if not with_excerpts or len(with_excerpts) != len(without):
        return None
    if any(a != b for (a, _), (b, _) in zip(with_excerpts, without, strict=True)):
        return None
    gains = [c - p for (t, c), (_, p) in zip(with_excerpts, without, strict=True) if t.strip(QUESTION_PUNCTUATION)]
    return sum(gains) / len(gains) if gains else None


# The gain of the question's missing words (README step 75: measured on the pool, not taken). Step 46's mean reads every
# token; this reads only the words of the question that the answer's passage lacks (meaning.missing_words), where a
# swapped-in noun and a paraphrase both show: the excerpts were expected to make a paraphrase's word more likely (首席财务官
# beside CFO) and a swapped-in noun not. The readings' tokens are aligned to the question's characters first.
def token_spans(text: str, tokens: Sequence[str]) -> list[tuple[int, int]] | None:
    """The character span of `text` each of `tokens` covers, in order, where the tokens spell `text` exactly; a token
    holding part of a UTF-8 character (U+FFFD in its text) covers that whole character, as its neighbour does. None
    where no split of `text`'s bytes gives the tokens (another text, a token missing)."""
    data = text.encode("utf-8")
    char_at = [i for i, ch in enumerate(text) for _ in ch.encode("utf-8")]
    memo: dict[tuple[int, int], tuple[tuple[int, int], ...] | None] = {}

    def split(i: int, b: int) -> tuple[tuple[int, int], ...] | None:
        if i == len(tokens):
            return () if b == len(data) else None
        if (i, b) not in memo:
            memo[i, b] = None
            t = tokens[i]
            for n in range(min(len(t.encode("utf-8")) + 3, len(data) - b), 0, -1):  # U+FFFD may stand for 1-3 bytes
                if data[b:b + n].decode("utf-8", errors="replace") == t:
                    rest = split(i + 1, b + n)
                    if rest is not None:
                        memo[i, b] = ((char_at[b], char_at[b + n - 1] + 1), *rest)
                        break
        return memo[i, b]

    found = split(0, 0)
    return None if found is None else list(found)


def word_gain(question: str, with_excerpts: Sequence[tuple[str, float]], without: Sequence[tuple[str, float]],
              word: str) -> float | None:
    """The mean gain in log-probability from the excerpts over the question tokens that overlap `word`'s first place in
    `question` (found case-folded, as tokenize folds words); None where the readings are not of the same tokens, do not
    spell the question (with or without the space the prompt puts before it), or the word is not in it."""
    if not with_excerpts or len(with_excerpts) != len(without):
        return None
    if any(a != b for (a, _), (b, _) in zip(with_excerpts, without, strict=True)):
        return None
    tokens = [t for t, _ in with_excerpts]
    for lead in ("", " "):
        spans = token_spans(lead + question, tokens)
        if spans is not None:
            break
    else:
        return None
    at = question.lower().find(word)
    if at < 0 or len(question.lower()) != len(question):
        return None
    start, end = at + len(lead), at + len(lead) + len(word)
    gains = [c - p for (s, e), (_, c), (_, p) in zip(spans, with_excerpts, without, strict=True) if s < end and start < e]
    return sum(gains) / len(gains) if gains else None


def missing_gain(question: str, with_excerpts: Sequence[tuple[str, float]], without: Sequence[tuple[str, float]],
                 words: Sequence[str]) -> tuple[str, float] | None:
    """Of `words` (the question's words missing from the answer's passage), the one the excerpts make least more
    expected, and its `word_gain`; None where no word is measured."""
    gains = [(g, w) for w in words if (g := word_gain(question, with_excerpts, without, w)) is not None]
    if not gains:
        return None
    gain, word = min(gains)
    return word, gain
