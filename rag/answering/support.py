"""Does a passage support a generated sentence? Sentence-level checks for the LLM answerer (pure, no I/O).

A claim (one sentence of generated text, its [n] markers removed) is compared with every sentence of a
passage, and with every pair of neighbouring sentences of one paragraph, since a claim often joins two:

- **character overlap**: the share of the claim's character pairs (neighbouring CJK characters, or a CJK
  character and a number) and Latin words found in the candidate. Chinese paraphrase keeps most pairs
  (美图2023年的总收入为27亿元 vs 财报显示美图2023年总收入27 亿元: 0.73). Read with its question, only what
  the claim says beyond the question counts (`said_beyond`): a small model restates the question around
  its answer, and those words are the claim coverage's to judge (rag.answering.model), not the overlap's.
- **meaning**: the claim's embedding cosine with the candidate's sentences, as a standing (standard
  deviations above the claim's mean cosine with every indexed sentence). e5 cosines are bunched (unrelated
  Chinese text scores 0.83-0.90), so only a relative signal says anything; it is what supports an English
  claim about Chinese text, where no bigram can match.
- **hard requirements**: every number of the claim appears in the candidate (or the passage title), every
  name (a person, place, organisation or Latin-script name, found by jieba's part-of-speech tagger)
  appears in the cited passage, and the candidate is not an instruction planted in a document
  ("忽略以上内容…", "ignore previous instructions"): an instruction supports nothing. A question (small
  models echo the question) claims nothing, so nothing supports it; nor does a list number ("3.").

The thresholds in SupportBar were set by hand on claims about the bundled article (see README, "LLM
answers"); they are not fitted.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from rag.answering.text import DECIMAL, SENTENCE_END, same_paragraph
from rag.answering.text import strip_markers as text_strip_markers
from rag.schema import Answer, AnswerSentence, Hit, Sentence
from rag.tokenize import is_cjk

if TYPE_CHECKING:
    from rag.store import Index

# Part-of-speech tags of jieba.posseg that mark names: person, place, organisation, other proper noun, Latin.
NAME_TAGS = frozenset({"nr", "nrfg", "nrt", "ns", "nt", "nz", "eng"})
# Text that tells a reader what to do rather than stating something: never evidence for a claim.
INSTRUCTION = re.compile(
    r"(?:忽略|无视|忘记|不要理会)(?:以上|上面|上述|之前|前面|所有|先前)|(?:回答|回复|输出|只说|说出|请说)\s*[“\"'‘「『]|"
    r"你现在是|系统提示|\bignore\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|earlier)|\bdisregard\b|"
    r"\bsystem prompt\b|\byou are now\b|\b(?:reply|respond|answer|say)\s+(?:with\s+)?[\"'“‘]", re.I)
TERMINAL = SENTENCE_END + "."  # what a marker goes before (27亿元[1]。); a full stop ends English sentences
UNIT = re.compile(r"[a-z0-9]+|[\u3400-\u9fff\uf900-\ufaff]")
ENGLISH_STOP = frozenset("a an the of in on at to is was were be been are and or for its it this that with by as "
                         "from has have had than which who".split())


@dataclass(frozen=True)
class SupportBar:
    """When a candidate supports a claim. Set by hand (see the module docstring)."""

    min_overlap: float = 0.5  # bigram share that supports on its own
    min_overlap_with_meaning: float = 0.4  # a weaker overlap, when the meaning also stands out ...
    # ... by this many standard deviations. Claims on the article's topic that recombine its words wrongly
    # (付费订阅用户数…增长了1.7%, where 1.7% is the monthly users' growth) stood at 2.1-3.1 with overlap 0.3-0.47.
    min_standing_with_overlap: float = 3.0
    min_standing_alone: float = 4.0  # meaning alone (an unrelated English claim about the article stood at 3.0)
    # A name the claim repeats from its question (修水县的森林覆盖率… for 修水县的森林覆盖率是多少？) must stand in the
    # passage too (True), or is left to the question's own anchor rule (False: `question_anchors` still requires a
    # Latin name, a quoted title or a person the question names). jieba tags some plain words as names (高达, 登基).
    # Measured by README step 41 (scripts/compare_variant.py; not taken); routes.json's echoed_names would set it.
    echoed_names_required: bool = True


DEFAULT_BAR = SupportBar()


@dataclass(frozen=True)
class Support:
    """The best candidate of one passage for one claim, and whether it clears the bar."""

    hit: Hit
    sentence: Sentence  # one passage sentence, or two neighbouring ones joined
    overlap: float
    standing: float  # nan when no embedder was available
    supported: bool

    @property
    def score(self) -> float:
        return self.overlap + 0.1 * (0.0 if math.isnan(self.standing) else self.standing)


def normalize(text: str) -> str:
    """Lower-cased letters, digits and CJK characters only."""
    return "".join(c for c in text.lower() if c.isalnum())


def unit_grams(units: Sequence[str], fallback: bool = True) -> set[str]:
    """The grams of one run of units (see `grams`); with `fallback`, the units themselves when it has none
    (a one-character claim, or function words only)."""
    out = {a + "|" + b for a, b in zip(units, units[1:], strict=False) if not (a.isascii() and b.isascii())}
    out |= {u for u in units if u.isascii() and u not in ENGLISH_STOP}
    return out or (set(units) if fallback else set())


def grams(text: str) -> set[str]:
    """What overlap counts: pairs of neighbouring units where one is a CJK character (a unit is a CJK
    character or a run of Latin letters and digits), plus each Latin word or number outside ENGLISH_STOP.
    Character pairs suit Chinese; Latin text shares too many letter pairs by chance, so it counts words."""
    return unit_grams(UNIT.findall(text.lower()))


def said_beyond(claim: str, question: str) -> list[list[str]]:
    """The runs of the claim's units that do not repeat the question: what the claim says beyond it.

    A small model answers in the question's words (美图去年赚了多少钱？ -> 美图去年赚了3.7亿元。); read with its
    question, that sentence claims what a bare 3.7亿元 claims, so only 3.7亿元 has to be found in a passage.
    Whether the question's own words stand beside the supporting sentence is the claim coverage's job
    (rag.answering.model), and the claim's numbers and names are still all required (`missing_requirements`).
    A repeated stretch is two units or more, or one Latin word (a single shared character such as 的 is not
    a repeat)."""
    units = UNIT.findall(claim.lower())
    asked = UNIT.findall(question.lower())
    if not asked:
        return [units] if units else []
    joined = "\x00" + "\x00".join(asked) + "\x00"  # units never hold \x00: a match is whole units
    runs: list[list[str]] = [[]]
    i = 0
    while i < len(units):
        n = 0
        while i + n < len(units) and "\x00" + "\x00".join(units[i:i + n + 1]) + "\x00" in joined:
            n += 1
        if n >= 2 or (n == 1 and units[i].isascii() and units[i].isalpha()):
            runs.append([])
            i += n
        else:
            runs[-1].append(units[i])
            i += 1
    return [r for r in runs if r]


def beyond_text(claim: str, question: str) -> str:
    """What `claim` says beyond `question` (`said_beyond`'s runs, joined; lower-cased, punctuation left out):
    `1945年` for 自由印度临时政府是1945年建立的。 asked 自由印度临时政府是何人建立的? (README step 84)."""
    return "".join("".join(run) for run in said_beyond(claim, question))


def claim_grams(claim: str, question: str = "") -> set[str]:
    """The grams of `claim` that overlap counts: with `question`, those of what it says beyond it
    (`said_beyond`) when that is a stretch of two units or more or holds a number; otherwise the whole
    claim's. A claim made only of the question's words (吴鼎昌 picked from the names it lists, 可以 for
    可不可以) is read whole, for what it says is which of them; so is one whose only addition is a lone
    character (不 in 美图2023年不盈利 asked 是否盈利: a single character is in any passage)."""
    return grams_beyond(claim, said_beyond(claim, question) if question else None)


def grams_beyond(claim: str, runs: list[list[str]] | None) -> set[str]:
    """`claim_grams` from the claim's `said_beyond` runs (None: no question to read it with)."""
    if runs and any(len(r) >= 2 or any(u.isdigit() for u in r) for r in runs):
        mine = set().union(*(unit_grams(r, fallback=False) for r in runs))
        if mine:
            return mine
    return grams(claim)


ASKING = re.compile(r"多少|什么|哪|谁|几|怎么|怎样|如何|为何|为什么|是否|吗|\b(?:what|who|which|how|when|where|why)\b", re.I)


def echoes_question(claim: str, question: str) -> bool:
    """The claim is the question again without its question mark (美图去年赚了多少钱): nothing beyond the
    question's words, and a word that asks. A pick among the question's own words (吴鼎昌, 可以) asks nothing."""
    return only_asks(claim, said_beyond(claim, question))


def only_asks(claim: str, runs: list[list[str]]) -> bool:
    """`echoes_question` from the claim's `said_beyond` runs."""
    return not runs and bool(ASKING.search(claim))


def overlap(claim: str, support: str, question: str = "") -> float:
    """Share of the claim's grams (`claim_grams`: with `question`, of what it says beyond it) found in
    `support` (0 for an empty claim)."""
    return overlap_of(claim_grams(claim, question), support)


def overlap_of(mine: set[str], support: str) -> float:
    theirs = grams(support) | set(UNIT.findall(support.lower()))  # units too, for a one-character claim
    return len(mine & theirs) / len(mine) if mine else 0.0


def plain(value: float) -> str:
    """A number as digits, never in exponent form: 27.0 -> "27", 1000000 -> "1000000" (not "1e+06", which no text
    holds, so a question's 1000000 could never be found), 2.7e9 -> "2700000000", 0.25 -> "0.25". Twelve
    significant digits: enough to keep 1234567 apart from 1234571, few enough to drop a float's noise
    (2.7 * 1e8 * 10 is 2700000000.0000005)."""
    fixed = format(Decimal(format(value, ".12g")), "f")
    return fixed.rstrip("0").rstrip(".") if "." in fixed else fixed


def without_thousands_commas(text: str) -> str:
    """1,000 -> 1000, so that a number reads whole (a comma between other characters stays)."""
    return re.sub(r"(?<=\d),(?=\d{3})", "", text)


def numbers(text: str) -> set[str]:
    """Numbers in text, so that 27.0 and 27 compare equal and 1,000 reads as 1000."""
    return {plain(float(n)) for n in DECIMAL.findall(without_thousands_commas(text))}


# A number's magnitude word, so that a claim written in another language or scale is still checked by value:
# 2.7 billion (yuan) = 27亿 (yuan), 9.11 million = 911万. Units (元, yuan, %) are not compared.
MAGNITUDE = {"万亿": 1e12, "千万": 1e7, "百万": 1e6, "万": 1e4, "亿": 1e8, "千": 1e3, "thousand": 1e3,
             "million": 1e6, "billion": 1e9, "trillion": 1e12, "k": 1e3, "m": 1e6, "bn": 1e9}
# A number (whole: never the 198 of 1980s or the 10 of 100km, since nothing after it is required), a decade's s
# (the 1980s: 1980), and its magnitude word, which must not start a longer word (5 miles is 5, not 5 million).
QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(?:(?<=\d{4})s\b)?"
                      r"(?:\s*(万亿|千万|百万|万|亿|千|thousand|million|billion|trillion|bn|k|m)(?![a-z]))?", re.I)


def quantities(text: str) -> list[tuple[str, str]]:
    """Each number of text as (the number as written, its value with the magnitude word applied; "" when
    it has none): "27 亿元" -> ("27", "2700000000"), "2.7 billion" -> ("2.7", "2700000000"), "2023年" -> ("2023", ""),
    "the 1980s" -> ("1980", "")."""
    text = without_thousands_commas(text)
    out = []
    for m in QUANTITY.finditer(text):
        raw = plain(float(m.group(1)))
        word = (m.group(2) or "").lower()
        out.append((raw, plain(float(m.group(1)) * MAGNITUDE[word]) if word else ""))
    return out


# A count written in Chinese numerals before a measure word (只有一个国际机场, 两条跑道, 十二名, 三万人, 一万二千人),
# or a year in Chinese digits (二〇二三年): the passage states a number the model writes in digits (1个国际机场).
# Not converted: a numeral right after a digit (3千万 is read by its magnitude words already), an ordinal
# (第十二届), or a range (三四个, 七八十人), whose one value would support a claim the text does not make.
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_MAGNITUDES = {"万": 10_000, "亿": 100_000_000}
CN_COUNT = re.compile(r"(?<![\d.第零〇一二两三四五六七八九十百千万亿])[零〇一二两三四五六七八九十百千][零〇一二两三四五六七八九十百千万亿]*"
                      r"(?=[个家名位条次座所只种项款部台辆本张件届倍岁人万亿])")
CN_RANGE = re.compile(r"[一二两三四五六七八九]{2}")
CN_YEAR = re.compile(r"(?<![\d.零〇一二两三四五六七八九十百千万亿])[零〇一二三四五六七八九]{4}(?=年)")


def cn_value(numeral: str) -> int:
    """二十 -> 20, 十二 -> 12, 一百零五 -> 105, 两 -> 2, 一万二千 -> 12000 (positional Chinese numerals)."""
    total = section = current = 0
    for ch in numeral:
        if ch in CN_MAGNITUDES:
            total += ((section + current) or 1) * CN_MAGNITUDES[ch]
            section = current = 0
        elif ch in CN_UNITS:
            section += (current or 1) * CN_UNITS[ch]
            current = 0
        else:
            current = CN_DIGITS[ch]
    return total + section + current


def _cn_count(numeral: str) -> str:
    if CN_RANGE.search(numeral):
        return numeral
    value = cn_value(numeral)
    if value >= 10_000 and value % 1_000 == 0:  # in 万, so 27亿-style magnitude words still compare by value
        return f"{value / 10_000:g}万"
    return str(value)


def with_digits(text: str) -> str:
    """Text with its Chinese-numeral counts and years written in digits, for comparing numbers by value."""
    text = CN_YEAR.sub(lambda m: "".join(str(CN_DIGITS[c]) for c in m.group(0)), text)
    return CN_COUNT.sub(lambda m: _cn_count(m.group(0)), text)


# In an English question, digits that name or rank rather than count: Q3, H1, COVID-19, 3rd, and clock times.
NOT_QUANTITIES = re.compile(r"[A-Za-z]+-?\d[\w-]*|\d+(?:st|nd|rd|th)\b|\d{1,2}:\d{2}(?::\d{2})?")


def question_numbers_missing(question: str, passage: str) -> list[str]:
    """The numbers a question asks about (a year, a count, an amount) that `passage` holds neither as written nor
    by value (4 million for 400万): the check of an English question over Chinese text (decide.cross_language_numbers)."""
    return numbers_missing(NOT_QUANTITIES.sub(" ", question), passage)  # the 1980s asks about 1980 (quantities)


def numbers_missing(claim: str, support: str) -> list[str]:
    """The claim's numbers that `support` holds neither as written nor by value (27亿 for 2.7 billion, 1个 for
    一个)."""
    have = quantities(with_digits(support))
    raws, bare, values = {r for r, _ in have}, {r for r, v in have if not v}, {v for _, v in have if v}
    # with a magnitude, the value must match (27 billion is not 27亿), or the bare number stand in the support
    return sorted({r for r, v in quantities(claim) if ((v not in values and r not in bare) if v else r not in raws)})


# A percentage (README step 44): 52.8%, 52.8 %, 52.8％, 52.8 percent, .5%. In a support a number that starts a range
# to a percentage counts too (70 of 70-75%, 30 of 30至40%, 10 of 10、20%, 70 of 70 to 75 percent).
_NUMBER = r"(\d*\.\d+|\d+(?:\.\d+)?)"
_SIGN = r"(?:%|％|per\s*cent\b)"
PERCENT = re.compile(_NUMBER + r"\s*" + _SIGN, re.I)
PERCENT_SUPPORT = re.compile(_NUMBER + r"(?=\s*(?:(?:[-~～—–至到、]|\bto\b|\band\b)\s*\d*\.?\d+\s*)?" + _SIGN + ")", re.I)


def percents_missing(claim: str, support: str) -> list[str]:
    """The claim's percentages that `support` does not hold as percentages: `13.27%` drawn from `13.27亿` is another
    number (the amount of money, not a share), though the digits are the same, and numbers_missing compares no
    units."""
    def found(pattern: re.Pattern[str], text: str) -> set[str]:
        return {plain(float(n)) for n in pattern.findall(without_thousands_commas(text))}

    return sorted(f"{n}%" for n in found(PERCENT, claim) - found(PERCENT_SUPPORT, support))


@lru_cache(maxsize=4096)
def names(text: str) -> frozenset[str]:
    """Names of people, places and organisations (two characters or more), and Latin words written like
    names: a capital inside the word (ChatGPT, AI, iPhone), or a capital first letter that does not start
    the sentence (so "Answer:" or "Revenue grew" are not names, "by Meitu" is)."""
    import jieba.posseg  # loaded on first use: ~0.5 s

    found = set()
    pos = 0
    for w in jieba.posseg.cut(text):
        word, at_start = w.word, not normalize(text[:pos])
        pos += len(word)
        if w.flag not in NAME_TAGS or len(word) < 2 or word.isdigit():
            continue
        if w.flag == "eng" and not (any(c.isupper() for c in word[1:]) or (word[0].isupper() and not at_start)):
            continue
        found.add(word.lower())
    return frozenset(found)


# README step 97: a number keeps the kind of its unit (10人 does not stand on 10米), and a name the claim adds stands beside
# its supporting sentence. UNIT_KINDS and NAMES_BESIDE: whether the checks apply (read at call time; taken in round 58,
# artifacts/r58/rule97.md).
UNIT_KINDS = True
NAMES_BESIDE = True
KINDS_OF_UNIT = {
    "length": "光年 公里 千米 公尺 厘米 毫米 英里 英尺 海里 米",
    "area": "平方公里 平方千米 平方米 平方英里 公顷 亩",
    "weight": "公斤 千克 公吨 吨 克 磅 斤",
    "money": "美元 港元 港币 日元 欧元 英镑 人民币 新台币 台币 元",
    "people": "人 名",
    "duration": "小时 分钟 秒 天 星期 个月 世纪 岁",
    "volume": "立方米 毫升 公升 升",
    "temperature": "摄氏度 华氏度 开尔文 克耳文",  # README step 103 (round 60)
}
UNIT_KIND = {u: kind for kind, units in KINDS_OF_UNIT.items() for u in units.split()}
# README step 101 (taken in round 59): with CURRENCY_KINDS, money is split by currency (1亿元 does not stand on 1亿美元);
# 元 and 人民币 are one currency.
CURRENCIES = {"cny": "人民币 元", "usd": "美元 美金", "hkd": "港元 港币", "jpy": "日元 日圆", "eur": "欧元", "gbp": "英镑",
              "twd": "新台币 台币"}
CURRENCY_OF = {u: cur for cur, units in CURRENCIES.items() for u in units.split()}
CURRENCY_KINDS = True
NUMBER_UNIT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:万亿|千万|百万|万|亿|千|百)?\s*(?:多|余)?\s*("
                         + "|".join(sorted(set(UNIT_KIND) | set(CURRENCY_OF), key=len, reverse=True)) + ")?")


def kind_of_unit(unit: str) -> str:
    """The kind of `unit` (KINDS_OF_UNIT; "" for none or a word of no known kind); with CURRENCY_KINDS an amount of
    money is of its currency's kind (`money:usd`), step 101."""
    if CURRENCY_KINDS and unit in CURRENCY_OF:
        return f"money:{CURRENCY_OF[unit]}"
    return UNIT_KIND.get(unit, "")


def unit_kinds(text: str) -> dict[str, set[str]]:
    """Each number of `text` (digits as with_digits writes them) and the kinds of unit written right after it: "" for
    none or a word of no known kind (KINDS_OF_UNIT, `kind_of_unit`). 10米 -> {"10": {"length"}}; 2023年 -> {"2023": {""}}."""
    out: dict[str, set[str]] = {}
    for m in NUMBER_UNIT.finditer(without_thousands_commas(with_digits(text))):
        out.setdefault(plain(float(m.group(1))), set()).add(kind_of_unit(m.group(2) or ""))
    return out


def units_missing(claim: str, support: str) -> list[str]:
    """The claim's numbers written before a unit of one kind (10人: people) that `support` writes only before units of
    other kinds (10米: length) (README step 97). A number the support writes bare or before any other word is not
    judged: that says nothing of its kind."""
    have = unit_kinds(support)
    return sorted({n for n, kinds in unit_kinds(claim).items() for kind in kinds - {""}
                   if (got := have.get(n)) and "" not in got and kind not in got})


def missing_requirements(claim: str, support: str, passage: str, lead: str = "", echoed: str = "",
                         divisions: bool | None = None, beside: str | None = None, asked: str = "") -> list[str]:
    """Numbers of the claim absent from `support` (a percentage must stand there as a percentage: step 44), and names
    absent from the whole `passage` and from its
    document's `lead` (`document_lead`). A Chinese
    "name" that the passage holds in pieces of two characters or more is jieba's cut, not a name: it reads
    美图口播视频工具叫开拍 as the organisation 美图口播 where the passage has 美图 and AI 口播视频工具开拍.
    A name of three characters or fewer has no such pieces, so a swapped 安贝卡 the reply echoes from its
    question stays required; Latin names (OpenAI) are always required whole. A name that `echoed` (the question, where
    SupportBar.echoed_names_required is off) holds is not required here. With `divisions` (DIVISION_STEMS when None,
    step 74) a place named with its administrative division stands where its stem does (`of_a_division`); with
    ASKED_DIVISION_STEMS (step 100) only a name the question (`asked`) holds does. With UNIT_KINDS a number must keep
    its unit's kind (`units_missing`; with CURRENCY_KINDS an amount its currency, step 101); with NAMES_BESIDE and
    `beside` (the supporting sentence with its neighbours and title), a name the claim adds, one its question (`asked`)
    does not hold, must stand there or in the lead, not only elsewhere in the passage (README step 97)."""
    missing = numbers_missing(claim, support)
    missing += [p for p in percents_missing(claim, support) if p[:-1] not in missing]  # README step 44
    if UNIT_KINDS:
        missing += [n for n in units_missing(claim, support) if n not in missing]
    lowered = f"{passage}\n{lead}".lower() if lead else passage.lower()
    near = None if beside is None or not NAMES_BESIDE else (f"{beside}\n{lead}".lower() if lead else beside.lower())
    echo, question = echoed.lower(), asked.lower()
    stems = DIVISION_STEMS if divisions is None else divisions
    asked_stems = ASKED_DIVISION_STEMS and divisions is None

    def stands(n: str, text: str) -> bool:
        return (n in text or in_pieces(n, text) or of_a_place(n, text)
                or bool((stems or (asked_stems and n in question)) and of_a_division(n, text)))

    missing += sorted(n for n in names(claim) if not (echo and n in echo)
                      and not stands(n, near if near is not None and n not in question else lowered))
    return missing


# The most of a document's first sentence that counts as its lead: CMRC dev's first sentences run 48 characters at the
# median, 172 at the 99th percentile (2 of 848 are longer than 200).
LEAD_CHARS = 200


def document_lead(index: Index, hit: Hit) -> str:
    """The first sentence of the hit's document (at most LEAD_CHARS of it) where the hit's passage starts after that
    sentence's start; "" where the passage begins the document. A document names what it is about first and then says
    她, 该片 or 其: a biography's third passage (`至1993年春季赛事结束，她共获得14个世界冠军`) never names 叶乔波. A name the lead holds is therefore found in
    every passage of its document (`missing_requirements`, `anchors_missing`); numbers are not (README step 35)."""
    rows, _ = index.sentence_rows_by_doc.get(hit.chunk.doc_id, ([], []))
    if not rows:
        return ""
    first = index.sentences[rows[0]]
    # a file whose first line has no full stop would make a whole paragraph the "lead": only its start names the subject
    return first.text[:LEAD_CHARS] if first.start < hit.chunk.start else ""


OF_A_PLACE = "人语族"  # 奥地利人, 德国人, 蒙古语, 满族 (a stem of one character, 日 of 日语, is too short to count)


def of_a_place(word: str, text: str) -> bool:
    """Whether the Chinese `word` is a people or a language named after a place or people that `text` holds:
    jieba tags 奥地利人 as a name of its own, where the passage says 奥地利生物学家. The stem must be two
    characters or more and stand in `text` (whole or in pieces), so a swapped 德国人 still needs 德国."""
    return stands_on_stem(word, OF_A_PLACE, text)


def stands_on_stem(word: str, suffixes: str, text: str) -> bool:
    """Whether the Chinese `word` ends in one of `suffixes` after a stem of two characters or more that stands in
    `text`, whole or in pieces (`in_pieces`): what `of_a_place` and `of_a_division` both ask."""
    stem = word[:-1]
    return (len(stem) >= 2 and word[-1] in suffixes and all(is_cjk(c) for c in word)
            and (stem in text or in_pieces(stem, text)))


# README step 74: a Chinese place written with its administrative division (曼尼托巴省, 修水县) where the passage writes it
# without (曼尼托巴, 修水). DIVISION_STEMS: whether such a place stands where its stem does (measured, not taken: False).
DIVISIONS = "省市县区州郡镇乡村"
DIVISION_STEMS = False
# README step 100 (taken in round 59): the same stem reading only for places the question itself writes (its places, and
# the names of a claim that the question holds); a place the claim adds must stand whole. Step 74's one loss was a city
# the answer added.
ASKED_DIVISION_STEMS = True


def of_a_division(word: str, text: str) -> bool:
    """Whether the Chinese `word` is a place named with an administrative-division suffix (DIVISIONS) whose stem, two
    characters or more, stands in `text` whole or in pieces of two characters or more: 修水县 where the passage writes
    修水. A swapped place still needs its own stem (安大略省 needs 安大略); a stem of one character (广州, 德州) never
    counts."""
    return stands_on_stem(word, DIVISIONS, text)


def in_pieces(word: str, text: str) -> bool:
    """Whether the Chinese `word` is not in `text` whole but splits into pieces of two characters or more,
    each found in `text` (two-letter pieces are in any English text, so Latin words never are)."""
    if word in text or not all(is_cjk(c) for c in word):
        return False
    ends = {0}  # positions of `word` reachable by pieces found in `text`
    for end in range(2, len(word) + 1):
        if any(end - start >= 2 and word[start:end] in text for start in ends):
            ends.add(end)
    return len(word) in ends


def passage_sentences(index: Index, hit: Hit) -> list[Sentence]:
    """The indexed sentences lying wholly inside the hit's passage, in order (the passage itself if none)."""
    out = [index.sentences[r] for r in index.sentence_rows_in(hit.chunk)]
    c = hit.chunk
    return out or [Sentence(c.doc_id, c.start, c.end, c.text)]


def passage_text(hit: Hit) -> str:
    """The hit's passage with its section title: where a claim's names and a question's anchors are looked for."""
    return f"{hit.chunk.title}\n{hit.chunk.text}"


def document_scope(index: Index, hit: Hit) -> str:
    """The hit's passage (`passage_text`) and its document's lead (`document_lead`): where the question's words are
    looked for before a reply is let stand (ModelAnswerer's question coverage and meaning check, README step 35)."""
    lead = document_lead(index, hit)
    return f"{passage_text(hit)}\n{lead}" if lead else passage_text(hit)


def candidates(hit: Hit, sentences: Sequence[Sentence]) -> list[tuple[Sentence, tuple[int, ...]]]:
    """Each sentence, and each pair of neighbours in one paragraph joined, with the positions it covers."""
    out = [(s, (i,)) for i, s in enumerate(sentences)]
    c = hit.chunk
    for i in range(len(sentences) - 1):
        a, b = sentences[i], sentences[i + 1]
        joined = c.text[a.start - c.start: b.end - c.start]
        if same_paragraph(hit, a, b):
            out.append((Sentence(a.doc_id, a.start, b.end, joined), (i, i + 1)))
    return out


def row_of(index: Index, sentence: Sentence) -> int | None:
    rows, starts = index.sentence_rows_by_doc.get(sentence.doc_id, ([], []))
    i = bisect.bisect_left(starts, sentence.start)
    if i < len(rows) and index.sentences[rows[i]].start == sentence.start:
        return rows[i]
    return None


def is_question(claim: str) -> bool:
    """A question asks; it claims nothing, so nothing supports it (small models echo the question)."""
    return strip_markers(claim).rstrip().endswith(("？", "?"))


LIST_NUMBER = re.compile(r"\s*\(?\d{1,2}[.、)）]?\s*")


def says_something(claim: str) -> bool:
    """At least two letters, characters or digits, and not a list number ("3.", "12)"): a bare answer such as
    1999年 or 1600万 is a claim. So is one Chinese character that is a noun (氦, 铁, 唐: jieba's tag), but not
    a word such as 是, 不 or 对, which answers yes or no and is in any passage."""
    shown = [c for c in claim if c.isalnum()]
    if len(shown) == 1 and is_cjk(shown[0]):
        import jieba.posseg  # loaded on first use: ~0.5 s

        return any(w.flag.startswith("n") for w in jieba.posseg.cut(shown[0]))
    return len(shown) >= 2 and not LIST_NUMBER.fullmatch(claim)


def best_support(claim: str, claim_vector: np.ndarray | None, hit: Hit, index: Index,
                 bar: SupportBar = DEFAULT_BAR, prefer: Callable[[Sentence], float] | None = None,
                 question: str = "") -> Support | None:
    """The candidate of `hit` that supports `claim` best (supported ones first), or None if it has none.

    `claim_vector` is the claim embedded as a passage (None: judge by characters alone). `prefer` ranks the
    supporting sentences before their support score does: a bare value (吴欣鸿) is supported by every
    sentence that names it, and the one to cite is the one about what was asked. With `question`, the
    character overlap counts only what the claim says beyond the question (`said_beyond`).
    """
    runs = said_beyond(claim, question) if question else None  # once: the echo test and the grams share it
    if is_question(claim) or not says_something(claim) or (runs is not None and only_asks(claim, runs)):
        return None
    sentences = passage_sentences(index, hit)
    cosines: list[float] = [math.nan] * len(sentences)
    mean = std = math.nan
    if claim_vector is not None and len(index.sentence_vectors):
        all_cos = index.sentence_vectors @ claim_vector.astype(np.float32)
        mean, std = float(all_cos.mean()), float(all_cos.std()) or 1.0
        cosines = [math.nan if (r := row_of(index, s)) is None else float(all_cos[r]) for s in sentences]
    passage = passage_text(hit)
    lead = document_lead(index, hit)
    mine = grams_beyond(claim, runs)  # once per claim: the candidates below share it
    best: Support | None = None
    best_key: tuple[bool, float] = (False, -math.inf)
    for sentence, positions in candidates(hit, sentences):
        if INSTRUCTION.search(sentence.text):
            continue
        over = overlap_of(mine, sentence.text)
        cos = max((cosines[p] for p in positions), default=math.nan)
        standing = (cos - mean) / std if not math.isnan(cos) else math.nan
        meaning = -math.inf if math.isnan(standing) else standing
        clears = (over >= bar.min_overlap or meaning >= bar.min_standing_alone
                  or (over >= bar.min_overlap_with_meaning and meaning >= bar.min_standing_with_overlap))
        beside = None
        if NAMES_BESIDE:  # README step 97: the candidate with the sentence before and after it, and the title
            around = sentences[max(0, positions[0] - 1): positions[-1] + 2]
            beside = hit.chunk.title + "\n" + "".join(s.text for s in around)
        supported = clears and not missing_requirements(claim, f"{hit.chunk.title}\n{sentence.text}", passage, lead,
                                                        "" if bar.echoed_names_required else question,
                                                        beside=beside, asked=question)
        found = Support(hit, sentence, over, standing, supported)
        rank = prefer(sentence) if prefer is not None and supported else 0.0
        key = (supported, rank, found.score - 0.05 * (len(positions) - 1))  # a single sentence wins a tie with a pair
        if best is None or key > best_key:
            best, best_key = found, key
    return best


def with_markers(sentence: AnswerSentence) -> str:
    """The sentence as it reads in the answer: markers before its closing punctuation (27亿元[1]。)."""
    marks = "".join(f"[{n}]" for n in sentence.citations)
    text = sentence.text.rstrip()
    body = text.rstrip(TERMINAL)
    return body + marks + text[len(body):]


def strip_markers(text: str) -> str:
    """Text without its [n] markers, trimmed (text.strip_markers keeps the spacing)."""
    return text_strip_markers(text).strip()


def supported_sentence_rate(answer: Answer) -> float:
    """Share of an answer's sentences whose citation supports them (nan for an answer without sentences,
    such as a refusal, even one that quotes its closest sentence). Extractive sentences are quotes, so they
    count as supported."""
    if answer.refused or not answer.sentences:
        return math.nan
    return sum(not s.unsupported for s in answer.sentences) / len(answer.sentences)


# -- the question's own claims ---------------------------------------------------------------------------
# A short answer (3.7亿元) claims more than it says: read with 美图2022年的净利润是多少？ it claims a 2022
# figure. The question's numbers, Latin words and quoted titles must therefore stand in the supporting
# sentence or beside it, like the claim's own.
QUOTED = re.compile(r"[“\"《「『]([^”\"》」』]{1,30})[”\"》」』]")
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9.+-]*")


QUOTE_STOPS = "。！？!?；;，,、.：:…"


# jieba.posseg's tag of a person's name: a question naming a person pins its answer to that person (README step 18)
PERSON_TAG = "nr"


@lru_cache(maxsize=4096)
def person_names(text: str) -> frozenset[str]:
    """The Chinese names of people in `text` as jieba.posseg tags them (`nr`, two characters or more, all CJK)."""
    import jieba.posseg  # loaded on first use: ~0.5 s

    return frozenset(w.word for w in jieba.posseg.cut(text)
                     if w.flag == PERSON_TAG and len(w.word) >= 2 and all(is_cjk(c) for c in w.word))


# How a question's people's names are read (README steps 56, 60): "tagged", every `nr` word as jieba cuts it; "strip",
# a function word jieba glued onto either end taken off (和宜兰 -> 宜兰); "retag", stripped and kept only where jieba
# still reads what is left as a person's name; "passage", kept whole and standing in a passage that holds its
# glue-free part as a word of its own (anchors_missing's `glued`: 诸葛亮 is not 诸葛 + 亮 beside 诸葛瑾).
NAME_READINGS = ("tagged", "strip", "retag", "passage")
NAME_READING = "passage"  # steps 56 and 60 on DRCD dev (artifacts/r41/rule.md; study_anchors.py --names, --glue)
# A character is glue by jieba's own dictionary tag for it alone: conjunction, preposition, adverb, auxiliary (和, 由,
# 曾, 的); after a name also a verb (说). Surnames that are also glue (曾, 于, 向) are the reading's known cost.
GLUE_TAGS = frozenset({"c", "p", "d", "u", "uj", "ul", "uz", "ud", "ug", "uv"})
TRAILING_GLUE_TAGS = GLUE_TAGS | {"v"}
# README step 112 (round 61, artifacts/r61/rule112.md): a demonstrative jieba glued onto the front of a name is glue too
# (那美图 of 那美图设计室呢？, tagged one person's name). Not every pronoun: 何 and 其 are surnames as well. Read at call time,
# through `unglued`'s cache (cleared where the switch is turned).
DEMONSTRATIVE_GLUE = True
DEMONSTRATIVES = "那这此该"


def _tag_of(word: str) -> str | None:
    import jieba.posseg

    return jieba.posseg.dt.word_tag_tab.get(word)


@lru_cache(maxsize=4096)
def unglued(name: str, reading: str = "strip") -> str | None:
    """A person's name as jieba tagged it, with a function word it glued onto either end taken off ("strip":
    `和宜兰` -> `宜兰`, `曾效力` -> `效力`); a name of two characters is left whole. "retag" keeps what is left only
    where jieba, cutting it alone, still tags it one person's name (None: it names no person); "tagged" is the
    name as cut."""
    if reading not in NAME_READINGS:
        raise ValueError(f"name reading {reading!r} is not one of {', '.join(NAME_READINGS)}")
    if reading in ("tagged", "passage"):  # "passage" reads glue off at the check (anchors_missing's `glued`)
        return name
    left = name
    if len(left) >= 3 and (_tag_of(left[0]) in GLUE_TAGS or DEMONSTRATIVE_GLUE and left[0] in DEMONSTRATIVES):
        left = left[1:]
    if len(left) >= 3 and _tag_of(left[-1]) in TRAILING_GLUE_TAGS:
        left = left[:-1]
    if reading == "retag" and left != name:
        import jieba.posseg

        cut = list(jieba.posseg.cut(left))
        return left if len(cut) == 1 and cut[0].flag == PERSON_TAG else None
    return left


# A century or decade a question names (21世纪, 1950年代, 60年代), and the years a passage writes (2005年, 1957年): README
# step 92 reads the one as standing where the other falls inside it.
ERA = re.compile(r"(?<![\d.])(\d{1,4})\s*(世纪|年代)")
ERA_ANCHOR = re.compile(r"(\d{1,4})(世纪|年代)")
YEAR = re.compile(r"(?<![\d.])(\d{3,4})\s*年")


def era_numbers(question: str) -> dict[str, str]:
    """{number: its anchor} for each number `question` writes only as a century or decade (21 -> 21世纪; a number
    also written otherwise stays a number); decades only in tens (1950年代, 60年代)."""
    eras = {m.group(1): m.group(1) + m.group(2) for m in ERA.finditer(question)
            if m.group(2) == "世纪" or int(m.group(1)) % 10 == 0}

    def written(pattern: str) -> int:
        return len(re.findall(pattern, question))

    return {n: era for n, era in eras.items()
            if written(rf"(?<![\d.]){n}(?![\d.])") == written(rf"(?<![\d.]){n}\s*(?:世纪|年代)")}


def era_years(anchor: str) -> list[tuple[int, int]]:
    """The years (first, last) a century or decade anchor spans: 21世纪 -> 2000-2100 (its first year read both ways),
    1950年代 -> 1950-1959, 60年代 -> 1960-1969 and 2060-2069."""
    m = ERA_ANCHOR.fullmatch(anchor)
    if not m:
        return []
    n = int(m.group(1))
    if m.group(2) == "世纪":
        return [(100 * (n - 1), 100 * n)] if n > 0 else []
    return [(n, n + 9)] if n >= 100 else [(1900 + n, 1909 + n), (2000 + n, 2009 + n)]


def era_stands(anchor: str, text: str) -> bool:
    """Whether `text` (digits as with_digits writes them) writes the era's own number or a year inside it (README step
    92: `21世纪初` asked, `郭德纲在2005年之后走红` written)."""
    m = ERA_ANCHOR.fullmatch(anchor)
    if not m:
        return False
    if plain(float(m.group(1))) in numbers(text):
        return True
    spans = era_years(anchor)
    return any(lo <= int(y) <= hi for y in YEAR.findall(text) for lo, hi in spans)


def question_anchors(question: str, names: str | None = None) -> frozenset[str]:
    """What a question pins its answer to: numbers (years, counts; a number written only as a century or decade is
    pinned as that era, 21世纪, which a year inside it also meets: README step 92), Latin-script words that are not
    function words (ChatGPT, Wink), quoted titles, all lower-cased, and the Chinese names of people (step 18:
    a question about a person the passage never names is not answered by it), read as `names` says
    (NAME_READINGS; NAME_READING when None, README step 56)."""
    eras = era_numbers(question)
    found = {eras.get(n, n) for n in numbers(question)}
    for m in LATIN.finditer(question):  # written like a name: a capital inside, or first but not at the start
        w = m.group(0)
        at_start = not normalize(question[:m.start()])
        if len(w) > 1 and w.lower() not in ENGLISH_STOP and (any(c.isupper() for c in w[1:])
                                                              or (w[0].isupper() and not at_start)):
            found.add(w.lower())
    # a quotation's stops at its ends are the asker's: 「宁做不满的人类，不做满足的猪猡。」 quotes …猪猡；…
    found |= {t.lower() for q in QUOTED.findall(question) if (t := q.strip().strip(QUOTE_STOPS).strip())}
    # a name inside a quoted title is that title's (jieba tags 白皮书 of 《AI白皮书》 as a person); one that also stands
    # outside the title is then not required either (rare; the title still is)
    reading = NAME_READING if names is None else names
    people = {u for n in person_names(question) if (u := unglued(n, reading))}
    found |= {n for n in people if not any(n in a for a in found)}
    return frozenset(found)


# jieba.posseg's tag of a place; README step 58 measures places among the question's anchors (PLACE_MIN_CHARS: the
# shortest place that counts, None: none does)
PLACE_TAG = "ns"
PLACE_MIN_CHARS: int | None = 3  # taken on DRCD dev (artifacts/r41/rule.md; scripts/study_anchors.py --places)


@lru_cache(maxsize=4096)
def place_names(text: str, tags: frozenset[str] = frozenset({PLACE_TAG})) -> frozenset[str]:
    """The Chinese place names in `text` as jieba.posseg tags them (`ns`, two characters or more, all CJK); with
    `tags`, the words of those tags (step 59 measured organisations, `nt`, and other proper nouns, `nz`)."""
    import jieba.posseg

    return frozenset(w.word for w in jieba.posseg.cut(text)
                     if w.flag in tags and len(w.word) >= 2 and all(is_cjk(c) for c in w.word))


def question_places(question: str, min_chars: int | None = None, anchors: frozenset[str] = frozenset(),
                    tags: frozenset[str] = frozenset({PLACE_TAG}), names: str | None = None) -> frozenset[str]:
    """The places a question names, `min_chars` characters or more (PLACE_MIN_CHARS when None; 0: none), leaving out
    any inside the question's other `anchors` (a quoted title's) or its quotes; read as `names` reads people's names
    (NAME_READING when None): whole under "passage" (step 60), with step 56's glue read off otherwise (step 58).
    `tags` other than places: what step 59 measured and did not take."""
    least = PLACE_MIN_CHARS if min_chars is None else min_chars
    if not least:
        return frozenset()
    reading = NAME_READING if names is None else names
    quoted = [t.lower() for t in QUOTED.findall(question)]
    found = {u for p in place_names(question, tags)
             if (u := (p if reading == "passage" else unglued(p, "strip"))) and len(u) >= least}
    return frozenset(p for p in found if not any(p in a for a in anchors) and not any(p in q for q in quoted))


@lru_cache(maxsize=1024)
def passage_words(text: str) -> frozenset[str]:
    """The words of `text` as jieba's accurate cut makes them (not search mode: 诸葛瑾 stays one word)."""
    import jieba

    return frozenset(jieba.lcut(text))


def anchors_missing(anchors: frozenset[str], context: str, lead: str = "",
                    places: frozenset[str] = frozenset(), glued: frozenset[str] = frozenset(),
                    divisions: bool | None = None) -> list[str]:
    """The anchors that `context` (where the caller looks: the supporting passage with its title) lacks. A name,
    word or title may also stand in its document's `lead` (`document_lead`); a number must stand in `context`. A
    place (`question_places`, step 58) may stand there whole or in pieces of two characters or more (`in_pieces`).
    A name or place of `glued` (`question_glued`, step 60) also stands there where what is left of it after step 56's
    glue reading (和宜兰 -> 宜兰) is a word of the text of its own (`passage_words`). With `divisions` (DIVISION_STEMS
    or ASKED_DIVISION_STEMS when None, steps 74 and 100: these places are the question's own) a place named with its
    administrative division stands where its stem does (`of_a_division`)."""
    lowered = context.lower()
    named = f"{lowered}\n{lead.lower()}" if lead else lowered
    have = numbers(with_digits(context))
    stems = (DIVISION_STEMS or ASKED_DIVISION_STEMS) if divisions is None else divisions  # all the question's (step 100)
    digits = with_digits(context) if any(ERA_ANCHOR.fullmatch(a) for a in anchors) else ""
    missing = {a for a in anchors if (a not in have if DECIMAL.fullmatch(a) else
                                      not era_stands(a, digits) if ERA_ANCHOR.fullmatch(a) else a not in named)}
    missing |= {p for p in places if p not in named and not in_pieces(p, named)
                and not (stems and of_a_division(p, named))}
    if glued and missing & glued:
        words = passage_words(named)
        missing = {a for a in missing if not (a in glued and (r := unglued(a, "strip")) != a and r in words)}
    return sorted(missing)


def question_glued(question: str, anchors: frozenset[str], places: frozenset[str],
                   names: str | None = None) -> frozenset[str]:
    """The question's names and places whose glue the passage decides (`anchors_missing`), under the "passage" reading
    (NAME_READING when `names` is None, README step 60); none under the others, which read glue off before."""
    if (NAME_READING if names is None else names) != "passage":
        return frozenset()
    return frozenset(a for a in anchors if a in person_names(question)) | places


def question_checks(question: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The question's anchors, places and glued names as shipped: what `anchors_missing` takes after the text."""
    anchors = question_anchors(question)
    places = question_places(question, None, anchors)
    return anchors, places, question_glued(question, anchors, places)


def passage_lacks_anchors(question: str, index: Index, hit: Hit) -> list[str]:
    """The question's anchors (question_anchors) that `hit`'s passage and its document's lead lack: the check an
    extractive answer's first cited passage must pass (README steps 16 and 55)."""
    anchors, places, glued = question_checks(question)
    return anchors_missing(anchors, passage_text(hit), document_lead(index, hit), places, glued)


# 并未 ("did not") only before a verb of telling, like 未 and 没有: alone it states a fact as often as not
# (李白到长安后并未久待…; README step 81, docs/choosing-auto.md)
NOT_FOUND = re.compile(
    r"没有(?:提到|提及|说明|提供|给出|相关|明确)|未(?:提及|提到|说明|给出)|无法(?:回答|确定|得知|从)|不包含|"
    r"并未(?:提及|提到|说明|给出|提供|明确|涉及|包含|记载|指出)|"
    r"\b(?:do|does|did)\s+not\s+(?:mention|say|state|contain|specify|provide)|\bnot\s+(?:mentioned|stated|specified)"
    r"|\bno\s+information\b|\bcannot\s+be\s+(?:determined|found)", re.I)


def says_not_found(text: str) -> bool:
    """The model says, in its own words, that the excerpts do not answer (no refusal sentence is asked of it)."""
    return bool(NOT_FOUND.search(text))
