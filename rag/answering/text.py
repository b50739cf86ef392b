"""The text rules every answering stage shares, one home each: which characters are Chinese, where
sentences and clauses end, what a year, an amount or a percentage looks like, character n-grams, and the
[n] citation markers.

Pure functions and patterns over strings. Chunking (sentences) and document cleaning (sentence ends) use
them too, so a sentence the index stores and a sentence an answerer cuts end at the same characters. The
CJK range itself is rag.tokenize's (the bottom layer: BM25 words are split by script there), re-exported.
"""

from __future__ import annotations

import re

from rag.schema import CITATION_MARKER, Hit, Sentence
from rag.tokenize import CJK, STOPWORDS, is_cjk

__all__ = ["CJK", "CITATION_MARKER", "STOPWORDS", "is_cjk"]

# --- Scripts ---------------------------------------------------------------------------------------------


def script_counts(text: str) -> tuple[int, int]:
    """(CJK characters, Latin letters) in text."""
    return sum(1 for c in text if is_cjk(c)), sum(1 for c in text if c.isascii() and c.isalpha())


LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def question_language(question: str) -> str:
    """"zh" when the question is mostly Chinese: CJK characters at least a third of its Latin letters, or at
    least four of them, or at least two per Latin word. The last counts a product name written in Latin
    letters as the one word it is: "DreamAvatar是什么？" (3 CJK characters, 11 letters, 1 word) is Chinese,
    "Who founded 美图?" (2 characters, 2 words) English."""
    cjk, latin = script_counts(question)
    words = len(LATIN_WORD.findall(question))
    return "zh" if cjk * 3 >= latin or cjk >= 4 or (cjk > 0 and cjk >= 2 * words) else "en"


def mostly_cjk(text: str) -> bool:
    """True when most letters of `text` are CJK characters (an English question over such text shares no
    words with it, so only meaning can match)."""
    cjk, latin = script_counts(text)
    return cjk > latin


def mostly_latin(text: str) -> bool:
    """True when `text` has more Latin letters than CJK characters (English): a document chunked at the Latin scale
    (chunking.chunk_document, README step 76) and a passage quoted at the Latin answer scale (step 78). Text of neither
    (figures alone) is not."""
    cjk, latin = script_counts(text)
    return latin > cjk


# --- Sentences and clauses -----------------------------------------------------------------------------
# A sentence ends at one of SENTENCE_END (a run of them, plus any closing quotes or brackets), at an English
# full stop followed by a space and a capital (not 2.7, not e.g.), at a line break, or at the end.
SENTENCE_END = "。！？!?；;…"
CLOSING = "”’」』)）\"'"
SENTENCE = re.compile(rf"[^\n]*?(?:[{SENTENCE_END}]+[{CLOSING}]*|\.(?=\s+[A-Z“\"(])|\n|$)")
# What ends a question as typed ("X是谁？", "who is X?"): stripped before a question is matched.
QUESTION_END = "？?。.!！"
COMMAS = "，,"
# Clause marks inside a sentence: a long sentence is cut at these into a window that fits.
CLAUSE_MARKS = "，,：:；;、"
CLAUSE = re.compile(rf"[^{CLAUSE_MARKS}]*[{CLAUSE_MARKS}]?")
# Pieces of a sentence between commas and sentence ends (a "whole clause" answer candidate).
CLAUSE_RUN = re.compile(rf"[^{COMMAS}{SENTENCE_END}]+")


def clauses(text: str) -> list[str]:
    """`text` cut after each clause mark; the pieces, marks kept, join back to `text`."""
    return [c for c in CLAUSE.findall(text) if c]


def trim_clause_mark(text: str) -> str:
    """`text` without the clause marks it ends with (a window cut after "，" does not end in one)."""
    return text.rstrip(CLAUSE_MARKS)


def same_paragraph(hit: Hit, a: Sentence, b: Sentence) -> bool:
    """Whether two sentences of the hit's passage stand in one paragraph (no line break between their starts)."""
    lo, hi = sorted((a.start, b.start))
    return "\n" not in hit.chunk.text[lo - hit.chunk.start: hi - hit.chunk.start]


# --- Type patterns: what a year, a time, an amount, a percentage looks like (Chinese and English) ----------
DECIMAL = re.compile(r"\d+(?:\.\d+)?")  # a number written in digits (27, 13.27), as the answer checks compare them
YEAR = re.compile(r"(?<!\d)(?:1[5-9]|20)\d{2}(?!\d)")
TIME = re.compile(r"\d{2,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*[日号]|[一二三四五六七八九十〇零]{2,4}年|世纪|年代|朝|"
                  r"去年|今年|明年|年初|年底|年末|上半年|下半年|季度|\b(?:1[5-9]|20)\d{2}\b|"
                  r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d|\bq[1-4]\b", re.I)
PERCENT = re.compile(r"\d\s*%|百分之|\d\s*成|\bpercent\b|\bper cent\b", re.I)
NUMBER = re.compile(r"\d|[一二两三四五六七八九十百千万亿]+\s*(?:亿|万|千|百|个|款|家|倍|成|名|种|人|次|项|条|位|岁|米|公里)|"
                    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b",
                    re.I)
MONEY = re.compile(r"\d+(?:\.\d+)?\s*(?:亿|万|千)?\s*(?:元|美元|港元|人民币|英镑|欧元|日元)|[$¥￥€£]\s*\d|"
                   r"\d\s*(?:million|billion)?\s*(?:dollars|yuan|usd|rmb)\b", re.I)
# The wanted type of a factoid question (rag/answering/question.py) -> what its answer must show.
TYPE_PATTERN = {"time": TIME, "percent": PERCENT, "number": NUMBER}
# What an answer must show for the kind of value a Chinese factoid asks (question.py's missing_answer_type, README step
# 24). Fitted on round 18's DRCD dev a and article dev study rows, widened in review to accept more ways of writing the
# same value (三个小时, 两个多月, 1000韩元, 十二月, 康熙三年, 3个百分点). MONEY above stays as the span features read it.
# A numeral: digits, or Chinese numerals starting with a digit character (not a lone 千 or 万: 千万不要), or 几 (几十万),
# or an approximate one, 数 or 上 before a magnitude (数亿份, 数十家, 上千人, 上万名; README step 83: 数亿份图片和视频 answers
# 多少图片和视频, and the check had refused it). A 万 or 亿 right after is left to the pattern that reads one (COUNT_GAP).
NUMERAL = r"(?:\d[\d,.]*|[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*|几|数[十百千]+|上[百千]+|[数上](?=[万亿]))"
CURRENCY = r"(?:元|美元|港元|港币|人民币|英镑|欧元|日元|韩元|日圆|美金|台币|新台币|澳元|加元|法郎|马克|卢布|镑|块|钱|两|贯|文)"
_WITH_CURRENCY = NUMERAL + r"\s*(?:多|余)?\s*(?:亿|万|千|百)?\s*" + CURRENCY + r"|[$¥￥€£]\s*\d"
CURRENCY_AMOUNT = re.compile(_WITH_CURRENCY)  # an amount with its currency or a currency sign
MONEY_AMOUNT = re.compile(_WITH_CURRENCY + "|" + NUMERAL + r"\s*(?:万|亿)")  # a bare 30万 or 13.27亿 is a sum too
YEAR_POINT = r"(?:1[5-9]|20)\d{2}\s*年(?!历史|之久|的历史)"  # 2018年 is a point in time; 2000年的历史 is a length
DURATION = re.compile(
    r"(?<![\d.])(?!" + YEAR_POINT + ")" + NUMERAL + r"\s*(?:多|余)?\s*(?:个\s*(?:多|半)?\s*(?:月|小时|钟头|星期|世纪|季度)|"
    r"(?:多|余)?\s*(?:年|天|小时|钟头|分钟|秒|周|星期|世纪|代|载|旬|季度))|"
    r"半\s*个?\s*(?:年|月|天|小时|世纪)|(?:有|约|近|达|逾|历时|长达)\s*\d+\s*(?:多|余)?\s*年")  # 3月 is a date, 3个月 a length
# A date shown in Chinese numerals or by an era (十二月, 康熙三年, 光绪元年, 元旦) besides TIME's forms.
DATE_WORDS = re.compile(r"[一二三四五六七八九十]{1,3}\s*[月日号]|(?:元|[一二三四五六七八九十]{1,4})年|元旦|春节|除夕")
# A share written without a % sign: 3个百分点, 三分之一, 三成, 一半, 翻倍.
SHARE_WORDS = re.compile(r"百分点|分之|[一二两三四五六七八九十]\s*成|一半|翻倍|\d\s*倍|[一二两三四五六七八九十]\s*倍")
# Counters a count question asks with (多少家, 几款). People and things are counted with any of 人名位个户, or as a bare
# 万 or 亿 (月活跃用户数达2.49亿 answers 多少人); 个 stands for any counter.
COUNTERS = "个名位家款种项条座所台部辆架艘本卷章篇首次场届枚只头匹人岁层张件门支间颗棵株户"
PEOPLE_COUNTERS = "人名位户个"
# What may stand between a numeral and its counter or unit: 多, 余 or 来 ("more than"), and a magnitude written after digits
# (约2亿台, 3.5万名: a Chinese numeral holds its own 万 and 亿). README step 82.
COUNT_GAP = r"\s*(?:多|余|来)?\s*(?:万亿|千万|百万|亿|万|千|百)?\s*(?:多|余)?\s*"
COUNTED = re.compile(rf"{NUMERAL}{COUNT_GAP}[{COUNTERS}]")  # a numeral with any counter: 三百多家, 2亿台


def shows_number(text: str) -> bool:
    """Whether text gives any number: digits, or a Chinese numeral with a unit of time, money or a counter (约两年
    answers 多长的窗口期). Read only where a question asks for a number of no narrower kind."""
    return any(p.search(text) for p in (NUMBER, DURATION, MONEY_AMOUNT, COUNTED))


def shows_count(text: str, counter: str) -> bool:
    """Whether text gives a number followed by `counter`: for 个 any counter, for a count of people or things any of
    PEOPLE_COUNTERS or a bare 万/亿 (1200名学生 answers 多少人)."""
    if counter == "个":
        units = f"[{COUNTERS}]|万|亿"
    elif counter in PEOPLE_COUNTERS:
        units = f"[{PEOPLE_COUNTERS}]|万|亿"
    else:
        units = re.escape(counter)
    return re.search(NUMERAL + COUNT_GAP + rf"(?:{units})", text) is not None


def years(text: str) -> frozenset[str]:
    """The years written in text (1500-2099, not inside a longer number)."""
    return frozenset(YEAR.findall(text))


# --- Character n-grams ------------------------------------------------------------------------------------
CJK_RUN = re.compile(f"[{CJK}]+")


def char_bigrams(text: str) -> set[str]:
    """Every pair of neighbouring characters of text (none for a single character)."""
    return {text[i:i + 2] for i in range(len(text) - 1)}


def char_grams(text: str) -> set[str]:
    """Character bigrams of the CJK runs plus lower-cased Latin words and numbers: overlap of these
    survives word-segmentation differences (利润率 / 毛利率 share 利润 and 润率)."""
    out: set[str] = set()
    for run in CJK_RUN.findall(text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
        if len(run) == 1:
            out.add(run)
    out.update(w for w in re.findall(r"[a-z]+|\d+(?:\.\d+)?", text.lower()) if w not in STOPWORDS)
    return out


# --- Citation markers -------------------------------------------------------------------------------------


def marked(text: str, n: int) -> str:
    """A quoted piece as an answer shows it: the text, then its marker."""
    return f"{text}[{n}]"


def markers(text: str) -> list[int]:
    """The [n] markers of text, in order, repeats kept."""
    return [int(n) for n in CITATION_MARKER.findall(text)]


def strip_markers(text: str) -> str:
    """Text without its [n] markers, nothing else changed."""
    return CITATION_MARKER.sub("", text)
