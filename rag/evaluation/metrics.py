"""Evaluation metrics: pure functions over strings, spans, flags and floats (no I/O, no model).

* A span is a `Span` or a plain ``(start, end)`` pair: a half-open character range ``[start, end)``.
* `evidence` is one list of spans per evidence string (a string can occur several times in a
  document, e.g. a duplicated body); a string that never occurs has an empty list.
* A metric that is undefined for a case (nothing to divide by) returns ``float("nan")``; callers
  skip NaN when averaging (see `mean_ignoring_nan`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from rag.answering.text import markers, strip_markers
from rag.schema import Span

SpanLike = Span | tuple[int, int]




def _bounds(span: SpanLike) -> tuple[int, int]:
    return (span.start, span.end) if isinstance(span, Span) else (span[0], span[1])


# --- Answer text -------------------------------------------------------------------------------
def strip_citation_markers(text: str) -> str:
    """Remove ``[n]`` citation markers (``[1]``, ``[12]``...), nothing else (rag/answering/text.py's
    strip_markers); applied to predictions before every answer metric so marker digits never count."""
    return strip_markers(text)


def normalize_answer(text: str) -> str:
    """Canonical form for substring matching: NFKC, lowercase, keep only letters and digits.

    Project definition (in the spirit of SQuAD's ``normalize_answer``, adapted to Chinese):
    NFKC folds full-width forms (``２９．３％`` -> ``29.3%``); then all whitespace is removed and
    every character that is not a letter or digit (``str.isalnum``, so CJK characters are kept)
    is dropped: ASCII and CJK punctuation and symbols alike. Three exceptions keep numbers
    intact, judged on the whitespace-free string: ``.`` and ``-`` between two digits
    (``29.3``, ``2020-2021``) and ``%`` right after a digit (``29.3%``). The thousands comma is
    dropped, so ``1,000`` and ``1000`` agree.
    """
    s = "".join(unicodedata.normalize("NFKC", text).lower().split())
    out = []
    for i, ch in enumerate(s):
        prev_digit = i > 0 and s[i - 1].isdigit()
        next_digit = i + 1 < len(s) and s[i + 1].isdigit()
        if ch.isalnum() or (ch in ".-" and prev_digit and next_digit) or (ch == "%" and prev_digit):
            out.append(ch)
    return "".join(out)


def _digit_at(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isdigit()


def holds(pred: str, gold: str) -> bool:
    """`gold` occurs in `pred` (both normalized) and not as a piece of a longer number: a gold that begins
    (ends) with a digit must not follow (be followed by) a digit or a decimal point between digits, so
    `27亿` is not in `13.27亿`, `2018` not in `20180` and `1` not in `15`."""
    start = pred.find(gold)
    while start >= 0:
        end = start + len(gold)
        glued_before = gold[0].isdigit() and (_digit_at(pred, start - 1) or (
            start >= 2 and pred[start - 1] == "." and _digit_at(pred, start - 2)))
        glued_after = gold[-1].isdigit() and (_digit_at(pred, end) or (
            end + 1 < len(pred) and pred[end] == "." and _digit_at(pred, end + 1)))
        if not glued_before and not glued_after:
            return True
        start = pred.find(gold, start + 1)
    return False


def contains_gold(prediction: str, golds: Sequence[str]) -> bool:
    """True when some non-empty normalized gold is a substring of the normalized prediction, not glued to
    a longer number (`holds`; project definition: a lenient exact match for generative answers). Citation
    markers are stripped first; golds that normalize to "" are ignored; False for no golds. (Before round 8
    a gold inside a longer number counted: `27亿` was found in `13.27亿`.)"""
    pred = normalize_answer(strip_citation_markers(prediction))
    return any(g and holds(pred, g) for g in map(normalize_answer, golds))


NUMBER = re.compile(r"\d+(?:\.\d+)?")  # a number as fair_match and near_match compare them (29.3, 2018)


def fair_match(prediction: str, golds: Sequence[str], min_share: float = 0.5) -> bool:
    """contains_gold, or — fair to a concise answer when the gold is a whole clause (CMRC-style) — the
    normalized prediction lies inside a gold, covers at least `min_share` of its characters, and holds
    every number the gold holds. Project definition (issue 14): "a gold span inside the answer, or an
    answer that is a substantial piece of the gold with its numbers"; min_share 0.5 is set by hand."""
    if contains_gold(prediction, golds):
        return True
    pred = normalize_answer(strip_citation_markers(prediction))
    if not pred:
        return False
    for gold in map(normalize_answer, golds):
        if gold and pred in gold and len(pred) >= min_share * len(gold):
            if set(NUMBER.findall(gold)) <= set(NUMBER.findall(pred)):
                return True
    return False


# near_match's one fitted value: chosen on labels of CMRC dev questions 1-300's answers, checked on labels of 301-600's
# (eval/cmrc_near_labels.jsonl; README, step 26; scripts/near_labels.py)
NEAR_MIN_F1 = 0.45


def without_question(text: str, question: str, min_run: int = 2) -> str:
    """`text` (normalized) without the runs of `min_run` or more characters that the normalized question also holds,
    longest first from the left: what an answer says beyond restating its question (`雄鹿的鹿角有10-14个叉` asked
    `雄鹿的鹿角有什么特点？` says `10-14个叉`)."""
    q = normalize_answer(question)
    out, i = [], 0
    while i < len(text):
        length = 0  # the longest run from i that the question holds (a substring's prefixes are held too)
        while i + length < len(text) and text[i:i + length + 1] in q:
            length += 1
        if length >= min_run:
            i += length
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _char_f1(pred: str, gold: str) -> float:
    """F1 of two strings by their longest common substring of characters (CMRC's F1, one character a token)."""
    lcs = _longest_common_substring(pred, gold)
    if not lcs:
        return 0.0
    p, r = lcs / len(pred), lcs / len(gold)
    return 2 * p * r / (p + r)


def near_match(prediction: str, golds: Sequence[str], question: str, min_f1: float = NEAR_MIN_F1) -> bool:
    """fair_match, or — fair to an answer that restates its question before the gold (`嘉兴南站建筑总面积为5.6万平方米`
    for `近5.6万平方米`) — what the answer says beyond the question's words (`without_question`) and what the gold
    says beyond them overlap with a character F1 (longest common substring) of at least `min_f1`, the answer holds
    every number of the gold, and adds none beside the question's. A gold the question holds whole (a choice question)
    is judged by fair_match alone. Reported beside fair_match, not instead of it: "correct" stays fair_match's."""
    if fair_match(prediction, golds):
        return True
    pred = without_question(normalize_answer(strip_citation_markers(prediction)), question)
    if not pred:
        return False
    asked = set(NUMBER.findall(normalize_answer(question)))
    pred_numbers = set(NUMBER.findall(pred))
    for raw in golds:
        gold_whole = normalize_answer(raw)
        gold = without_question(gold_whole, question)
        if not gold:
            continue
        gold_numbers = set(NUMBER.findall(gold_whole))
        if not gold_numbers - asked <= pred_numbers or not pred_numbers <= gold_numbers | asked:
            continue
        if _char_f1(pred, gold) >= min_f1:
            return True
    return False


def facts_found(prediction: str, groups: Sequence[Sequence[str]]) -> int:
    """How many fact groups the prediction holds (a group is held when one of its strings is, after
    normalize_answer on both sides; markers stripped)."""
    return sum(contains_gold(prediction, group) for group in groups)


def facts_ok(prediction: str, groups: Sequence[Sequence[str]], needed: int) -> bool:
    """True when the prediction holds at least `needed` of the fact groups (False for none given)."""
    return bool(groups) and facts_found(prediction, groups) >= needed


def correctness(answerable: bool, refused: bool, contains: float, facts: float) -> float:
    """Whether a reader would call the answer right, 1.0 or 0.0: the required facts (`facts`, the case's
    facts_ok) for open, summary, list and entity cases, the gold found in the answer (`contains`: the
    evaluation passes fair_match) for factoids (`facts` NaN: the case lists none), a refusal for unanswerable cases. The one definition of
    "correct": the summary, the report's per-tag table and its "cases to look at" all read it."""
    if not answerable:
        return float(refused)
    return contains if math.isnan(facts) else facts


# --- CMRC 2018: ymcui/cmrc2018 cmrc2018_evaluate.py v6 (mixed_segmentation, remove_punctuation,
# find_lcs, calc_f1_score, calc_em_score), reproduced

# The official `sp_char` list, verbatim. Quirks kept on purpose: '……' is two characters so it
# never matches a single character, and '‘' (left single quote) is not in the list.
_CMRC_PUNCT = frozenset(
    ["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
     "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、",
     "「", "」", "（", "）", "－", "～", "『", "』"]
)  # fmt: skip
_CMRC_CJK = re.compile(r"[\u4e00-\u9fa5]")
# Stand-in for nltk.word_tokenize on the non-Chinese runs: NLTKWordTokenizer's padding rules (in
# its order) and a whitespace split. Not reproduced: Punkt sentence splitting, contractions
# ("don't"), apostrophes, and the ``/'' rewriting of '"' (the token count is the same).
_NLTK_PADDING = [
    (re.compile(r"([«“‘„]|`+)"), r" \1 "),
    (re.compile(r"([^.])(\.)([\])}>\"'»”’ ]*+)\s*$"), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&\u2012-\u2015?!*\[\](){}<>\"»”’]|--"), r" \g<0> "),
]


def _word_tokenize(run: str) -> list[str]:
    for pattern, repl in _NLTK_PADDING:
        run = pattern.sub(repl, run)
    return run.split()


def cmrc_mixed_segmentation(text: str, rm_punc: bool = False) -> list[str]:
    """Official CMRC 2018 ``mixed_segmentation``: each Chinese character (U+4E00..U+9FA5) and each
    official punctuation mark is one token; the text between them is word-tokenized (with
    `_word_tokenize` in place of nltk.word_tokenize, the only deviation)."""
    segs: list[str] = []
    run = ""
    for ch in text.lower().strip():
        if rm_punc and ch in _CMRC_PUNCT:
            continue
        if _CMRC_CJK.match(ch) or ch in _CMRC_PUNCT:
            segs.extend(_word_tokenize(run))
            run = ""
            segs.append(ch)
        else:
            run += ch
    segs.extend(_word_tokenize(run))
    return segs


def cmrc_remove_punctuation(text: str) -> str:
    """Official CMRC 2018 ``remove_punctuation``: lowercase, strip, drop the official punctuation
    characters. Whitespace inside the text is kept (so "27 亿" != "27亿" under EM)."""
    return "".join(ch for ch in text.lower().strip() if ch not in _CMRC_PUNCT)


def _longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous token run (official ``find_lcs``)."""
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                cur[j + 1] = prev[j] + 1
                best = max(best, cur[j + 1])
        prev = cur
    return best


def cmrc_f1(prediction: str, golds: Sequence[str]) -> float:
    """CMRC 2018 F1 (official ``calc_f1_score``), max over golds, in [0, 1]. Both sides go through
    ``cmrc_mixed_segmentation(rm_punc=True)``; L = longest common substring of the token lists,
    P = L/len(pred), R = L/len(gold), F1 = 2PR/(P+R), 0 when L == 0. Citation markers are
    stripped from the prediction first; 0.0 for no golds (the official script fails there)."""
    pred = cmrc_mixed_segmentation(strip_citation_markers(prediction), rm_punc=True)
    best = 0.0
    for gold in golds:
        ref = cmrc_mixed_segmentation(gold, rm_punc=True)
        lcs = _longest_common_substring(ref, pred)
        if lcs:
            p, r = lcs / len(pred), lcs / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def cmrc_em(prediction: str, golds: Sequence[str]) -> float:
    """CMRC 2018 exact match (official ``calc_em_score``): 1.0 when the punctuation-free
    prediction equals some punctuation-free gold, else 0.0 (also for no golds). Citation
    markers are stripped from the prediction first."""
    pred = cmrc_remove_punctuation(strip_citation_markers(prediction))
    return 1.0 if any(cmrc_remove_punctuation(g) == pred for g in golds) else 0.0


# --- Spans -------------------------------------------------------------------------------------
def find_spans(source_text: str, needle: str) -> list[Span]:
    """All non-overlapping occurrences of `needle`, left to right (as ``str.find`` scanning
    resumes after each match, like ``re.finditer`` on a literal). Empty needle -> []."""
    spans: list[Span] = []
    if not needle:
        return spans
    i = source_text.find(needle)
    while i != -1:
        spans.append(Span(i, i + len(needle)))
        i = source_text.find(needle, i + len(needle))
    return spans


def spans_overlap(a: SpanLike, b: SpanLike) -> bool:
    """True when half-open ranges share at least one character: max(starts) < min(ends).
    Touching ranges ([0,5) and [5,9)) and empty ranges never overlap."""
    (a0, a1), (b0, b1) = _bounds(a), _bounds(b)
    return max(a0, b0) < min(a1, b1)


def _relevant(span: SpanLike, evidence: Sequence[Sequence[SpanLike]]) -> bool:
    return any(spans_overlap(span, o) for occ in evidence for o in occ)


def _share_covered(spans: Sequence[SpanLike], evidence: Sequence[Sequence[SpanLike]]) -> float:
    if not evidence:
        return math.nan
    return sum(any(_relevant(s, [occ]) for s in spans) for occ in evidence) / len(evidence)


# --- Retrieval over a ranked list --------------------------------------------------------------
def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def relevance_flags(retrieved: Sequence[SpanLike], evidence: Sequence[Sequence[SpanLike]]) -> list[bool]:
    """Per retrieved passage (in rank order): does it overlap any occurrence of any evidence
    string? Project definition of binary relevance by span overlap."""
    return [_relevant(r, evidence) for r in retrieved]


def hit_at_k(flags: Sequence[bool], k: int) -> float:
    """Hit@k (a.k.a. success@k): 1.0 if any of the top-k flags is relevant, else 0.0.
    k larger than the list means the whole list."""
    _check_k(k)
    return 1.0 if any(flags[:k]) else 0.0


def recall_at_k(retrieved: Sequence[SpanLike], evidence: Sequence[Sequence[SpanLike]], k: int) -> float:
    """Recall@k over evidence strings: the share of evidence strings with at least one occurrence
    overlapped by one of the top-k passages (an evidence string with no occurrence counts and is
    never found). Standard recall@k with evidence strings as the relevant units; NaN for no
    evidence (callers skip NaN)."""
    _check_k(k)
    return _share_covered(retrieved[:k], evidence)


def reciprocal_rank(flags: Sequence[bool]) -> float:
    """Reciprocal rank (the per-query term of MRR, Voorhees, TREC-8 QA 1999): 1/rank of the
    first relevant item, 0.0 when none is relevant."""
    return next((1.0 / (i + 1) for i, f in enumerate(flags) if f), 0.0)


def ndcg_at_k(flags: Sequence[bool], k: int) -> float:
    """nDCG@k, binary gains (Järvelin & Kekäläinen 2002): DCG = sum of rel_i / log2(i + 1) over
    ranks i = 1..k. Ideal DCG: the same flags sorted relevant-first, truncated at k (as
    scikit-learn's ``ndcg_score``: the ideal order of the retrieved list itself, not of all
    judged documents). 0.0 when the list holds no relevant item."""
    _check_k(k)

    def dcg(fs: Sequence[bool]) -> float:
        return sum(1.0 / math.log2(i + 2) for i, f in enumerate(fs[:k]) if f)

    ideal = dcg(sorted(flags, reverse=True))
    return dcg(flags) / ideal if ideal else 0.0


# --- Citations ---------------------------------------------------------------------------------
def citation_precision(cited: Sequence[SpanLike], evidence: Sequence[Sequence[SpanLike]]) -> float:
    """Share of cited passage spans that overlap some evidence occurrence (project definition,
    after ALCE's citation precision, Gao et al. 2023, with span overlap as support). Every
    entry counts, duplicates included. NaN when nothing is cited."""
    if not cited:
        return math.nan
    return sum(_relevant(c, evidence) for c in cited) / len(cited)


def citation_recall(cited: Sequence[SpanLike], evidence: Sequence[Sequence[SpanLike]]) -> float:
    """Share of evidence strings with some occurrence overlapped by a cited span (project
    definition, after ALCE's citation recall). NaN when there is no evidence."""
    return _share_covered(cited, evidence)


def markers_resolve(answer_text: str, n_citations: int) -> bool:
    """True when every ``[n]`` in the text is within 1..n_citations and every number 1..n is
    used at least once (project rule: no dangling markers, no unused citations)."""
    used = set(markers(answer_text))
    return used == set(range(1, n_citations + 1))


# --- Refusal -----------------------------------------------------------------------------------
def refusal_rates(refused: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float]:
    """``refused_unanswerable``: share of unanswerable cases that were refused (higher is better);
    ``wrongly_refused``: share of answerable cases that were refused (lower is better).
    Project definition; NaN for an empty group. The sequences are paired and must match."""
    if len(refused) != len(answerable):
        raise ValueError(f"length mismatch: {len(refused)} refused vs {len(answerable)} answerable")

    def share(group: bool) -> float:
        picked = [r for r, a in zip(refused, answerable, strict=True) if a == group]
        return sum(picked) / len(picked) if picked else math.nan

    return {"refused_unanswerable": share(False), "wrongly_refused": share(True)}


# --- Aggregation -------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """p-th percentile (0 <= p <= 100), numpy's default linear interpolation between closest ranks
    (Hyndman & Fan type 7). NaN values are ignored; NaN when nothing is left."""
    if not 0 <= p <= 100:
        raise ValueError(f"p must be in [0, 100], got {p}")
    xs = _without_nan(values)
    return float(np.percentile(xs, p)) if xs.size else math.nan


def mean_ignoring_nan(values: Sequence[float]) -> float:
    """Arithmetic mean of the non-NaN values; NaN when there are none."""
    xs = _without_nan(values)
    return float(xs.mean()) if xs.size else math.nan


def _without_nan(values: Sequence[float]) -> np.ndarray:
    """The values as floats, NaN dropped (checked first: np.nanmean warns on an all-NaN input)."""
    xs = np.asarray(values, dtype=float)
    return xs[~np.isnan(xs)]
