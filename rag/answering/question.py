"""A question prepared for answering: its language, what shape of answer it wants, and the earlier turn
it leans on.

Follow-ups are resolved before retrieval: when a question leans on the conversation (a pronoun such as
他/它/其/this/he, or it is very short), the previous user question is put in front of it for retrieval, so
"他对毛利率说了什么？" after "美图的CFO是谁？" searches for both. The answer still answers the question as asked; since
README step 36 a Chinese question with a pronoun and words of its own leans the search only (`searched_after`), so the
earlier question's words do not count in its answer's checks either.
A summary of the whole document is not leaned on: it names nothing a follow-up could ask about again ("那它的净利润呢？"
after "这篇文章的主要内容是什么？" asks the net profit, the issue's own example).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from rag.answering.support import CURRENCY_OF, KINDS_OF_UNIT, UNIT_KIND, beyond_text
from rag.answering.text import (
    COUNT_GAP,
    COUNTERS,
    CURRENCY_AMOUNT,
    DATE_WORDS,
    DURATION,
    MONEY_AMOUNT,
    NUMERAL,
    QUESTION_END,
    SHARE_WORDS,
    TYPE_PATTERN,
    question_language,
    shows_count,
    shows_number,
)
from rag.errors import InputError
from rag.tokenize import STOPWORDS, word_places

__all__ = ["Question", "answer_shape", "check_history", "earlier_question", "entity_of", "leans_by_search",
           "followup_term", "last_asked", "missing_answer_type", "points_back", "question_language", "term_candidates", "wanted_type",
           "with_earlier_term", "with_earlier_year"]

# Words that lean on an earlier turn: personal pronouns, and 这/那/此 used on their own or before a
# measure word (这个, 那家, 此事), but not 这段文字 or 那时候 style phrases that name what they mean.
FOLLOWUP = re.compile(r"他|她|它|其|该|上述|前者|后者|[这那此](?:[个些家项款种位次样]|$|[？?，,呢])|"
                      r"\b(he|she|it|its|his|her|they|their|them|this|that|these|those)\b", re.I)
# A question this short ("净利润呢？") is read as a follow-up even without a pronoun.
SHORT_FOLLOWUP_CHARS = 6


# A summary question about the whole document ("这篇文章的主要内容是什么？", "Summarize the article."), not about something
# it names ("吴欣鸿在发布会上讲了什么？" names the person a follow-up's 他 means).
WHOLE_DOCUMENT = re.compile(r"这篇|本文|全文|该文|文章|文档|原文|报道|\b(?:the|this) (?:article|document|text|story|report|paper|page|passage|file)\b", re.I)


def check_history(history: object) -> list[dict]:
    """The conversation as a list of {"role", "content"} turns; raises InputError naming what is wrong."""
    if history is None:
        return []
    if not (isinstance(history, list | tuple) and all(
            isinstance(t, dict) and isinstance(t.get("content", ""), str) for t in history)):
        raise InputError("history must be a list of {\"role\": \"user\"|\"assistant\", \"content\": text} turns.")
    return list(history)


def earlier_question(history: Sequence[dict] | None) -> str:
    """The conversation's last user question, which a follow-up may lean on; "" when there is none, or when it asks
    for a summary of the whole document (it names nothing a follow-up could ask about again)."""
    previous = [t.get("content", "") for t in check_history(history) if t.get("role") == "user" and t.get("content")]
    if not previous or (answer_shape(previous[-1]) == "summary" and WHOLE_DOCUMENT.search(previous[-1])):
        return ""
    return previous[-1]


def followup_context(question: str, history: Sequence[dict] | None) -> str:
    """The earlier user question that `question` leans on by its words (a pronoun, or it is very short), or "" when
    they do not say so (rag.chat.Engine.ask may still lean it by the search: `leans_by_search`)."""
    if FOLLOWUP.search(question) or len(question) <= SHORT_FOLLOWUP_CHARS:
        return earlier_question(history)
    check_history(history)
    return ""


# README step 117: a follow-up that is only a year and 呢 (`2022年呢？`, `那2021年的呢？`) asks the earlier question again
# about that year. It is read as that question with its one four-digit year replaced, so the search, the answer and
# every check read the year where it belongs (the answer path reads a follow-up of seven characters as asked, and any
# sentence holding 2022年 passed for `2022年呢？`). On by default; the switch is for measuring.
YEAR_FOLLOWUP = True
YEAR_ONLY = re.compile(r"^(?:那么?)?\s*(\d{4})\s*年?\s*(?:的)?\s*呢\s*[？?]*$")
FOUR_DIGITS = re.compile(r"(?<![\d.])\d{4}(?![\d.])")


def last_asked(history: Sequence[dict] | None, follows: Callable[[str], bool]) -> str:
    """The conversation's last user question that is not itself a follow-up by `follows` (so a chain of follow-ups
    reads the question they follow); "" when there is none (steps 117 and 118)."""
    return next((t["content"] for t in reversed(check_history(history))
                 if t.get("role") == "user" and t.get("content") and not follows(t["content"])), "")


def with_earlier_year(question: str, history: Sequence[dict] | None) -> str:
    """The earlier user question with its year replaced by the one `question` names, where `question` is only a year
    and 呢 (YEAR_ONLY) and the earlier question, the last one that is not itself such a follow-up, holds exactly one
    four-digit year, another; "" otherwise (README step 117)."""
    found = YEAR_ONLY.match(question.strip()) if YEAR_FOLLOWUP else None
    if not found:
        return ""
    earlier = last_asked(history, lambda text: bool(YEAR_ONLY.match(text.strip())))
    years = FOUR_DIGITS.findall(earlier)
    if len(years) != 1 or years[0] == found.group(1):
        return ""
    return FOUR_DIGITS.sub(found.group(1), earlier, count=1)


# README step 118: a follow-up that is only a name or a thing and 呢 (`比特币呢？` after `美图买了多少枚以太币？`) asks the
# earlier question about it. It is read as that question with X in place of the words most like X (the index's own
# embedder decides which), so the answer must stand beside X and what was asked of it (before, any sentence holding
# 比特币 passed, with the ether count as the answer). On by default; the switch is for measuring.
TERM_FOLLOWUP = True
# README step 119: the answer to such a follow-up must cite a passage that names its term (rag.chat.names_term).
TERM_BESIDE = True
TERM_ONLY = re.compile(r"^(?:那么?)?\s*(?P<term>[^\s？?，,。！!呢]{2,12}?)\s*(?:的)?\s*呢\s*[？?]*$")
ASKING = re.compile(r"什么|谁|哪|几|多少|怎|吗|如何|为什么|为何")
# jieba flags of the words a replaced run is made of: nouns (n, nr, ns, nt, nz ...), Latin words (CFO), abbreviations,
# verbal and adjectival nouns, the morphemes jieba splits off names (美图秀|秀: ag)
TERM_FLAGS = ("n", "eng", "j", "vn", "an", "ag")


def followup_term(question: str) -> str:
    """X of a follow-up that is only X and 呢 (`比特币呢？`, `那美图秀秀呢？`); "" for any other question, and for a year
    (step 117's), a pronoun (`这个呢？`), a question word or digits alone."""
    found = TERM_ONLY.match(question.strip())
    if not found or YEAR_ONLY.match(question.strip()):
        return ""
    term = found.group("term")
    if ASKING.search(term) or FOLLOWUP.search(term) or term.isdigit():
        return ""
    return term


def term_candidates(question: str) -> list[tuple[int, int]]:
    """The places (start, end) in `question` a follow-up's term may take: the longest runs of consecutive jieba words
    that are nouns or like them (TERM_FLAGS), none a stop word: `美图的CFO是谁？` -> 美图, CFO."""
    places: list[tuple[int, int]] = []
    run: tuple[int, int] | None = None
    for word, flag, start, end in [*word_places(question), ("", "x", len(question), len(question))]:
        if word and flag.startswith(TERM_FLAGS) and word.lower() not in STOPWORDS:
            run = (run[0] if run else start, end)
        elif run:
            places.append(run)
            run = None
    return places


def with_earlier_term(question: str, history: Sequence[dict] | None,
                      similarity: Callable[[str, list[str]], Sequence[float]]) -> tuple[str, str]:
    """(the earlier user question with X in place of its words most like X, X) where `question` is only X and 呢
    (followup_term) and the earlier question, the last one that is not itself such a follow-up (of a term or a year),
    does not hold X; ("", "") otherwise (README step 118). `similarity(X, candidates)` gives each candidate's
    likeness to X (the engine's: the cosine of their query vectors); the likest wins, ties to the longer."""
    term = followup_term(question) if TERM_FOLLOWUP else ""
    if not term:
        return "", ""
    earlier = last_asked(history, lambda text: bool(followup_term(text) or YEAR_ONLY.match(text.strip())))
    places = term_candidates(earlier) if earlier and term.lower() not in earlier.lower() else []
    if not places:
        return "", ""
    scores = similarity(term, [earlier[s:e] for s, e in places])
    _, (start, end) = max(zip(scores, places, strict=True), key=lambda sp: (sp[0], sp[1][1] - sp[1][0]))
    return earlier[:start] + term + earlier[end:], term


def points_back(question: str) -> bool:
    """Whether the question's own words point back at the conversation (a pronoun, 这/那 with a measure word), not only
    its shortness (`净利润呢？` leans because it is short; README step 36)."""
    return bool(FOLLOWUP.search(question))


def leans_by_search(alone: float | None, joined: float | None, gain: float) -> bool:
    """Whether a question leans on the earlier one because the search says so (README, step 34): the best passage's
    cosine to the earlier question and this one together (`joined`) exceeds its cosine to this one alone by at least
    `gain` (Config.followup_dense_gain). A follow-up that leaves its subject out (`后来哪一年关掉的？`) finds its
    passage only with the earlier question; a new topic's question finds its own better alone."""
    return alone is not None and joined is not None and joined - alone >= gain


@dataclass(frozen=True)
class Question:
    """What every answerer receives: the question as asked, and the conversation it was asked in."""

    text: str
    # the earlier user question this one's answer leans on too ("" when it stands alone, or leans for the search only)
    previous: str = ""
    history: tuple[dict, ...] = ()  # the whole conversation, oldest first (the LLM answerer sends it)
    # the earlier question put in front of this one for the search only, the answer reading this one as asked (step 34:
    # where the search, not the words, says it leans; step 36: a Chinese question a pronoun leans; "" otherwise)
    searched_after: str = ""
    # the earlier question whose search is fused with this one's (README step 52: the question searched as asked and
    # after the earlier question, the two rankings fused; the answer reads it as asked); "" otherwise
    fused_after: str = ""

    @classmethod
    def make(cls, question: str, history: Sequence[dict] | None = None, pronoun_search_only: bool = False) -> Question:
        """The question in its conversation; with `pronoun_search_only` (Config.pronoun_search_only, README step 36), a
        Chinese question a pronoun leans, with words of its own, leans for the search only (`for_the_search_only`)."""
        turns = check_history(history)
        made = cls(question, followup_context(question, turns), tuple(turns))
        if (pronoun_search_only and made.previous and made.language == "zh" and points_back(question)
                and len(question) > SHORT_FOLLOWUP_CHARS):  # 他呢？ has nothing else to go on: its answer leans too
            return made.for_the_search_only()
        return made

    def for_the_search_only(self) -> Question:
        """This question leaning on its earlier one for the search only: the earlier question stays in front of it
        for the search (`searched_after`), and the answer reads it as asked (README step 36)."""
        if not self.previous:
            return self
        return replace(self, previous="", searched_after=self.previous)

    def fused_with_earlier(self) -> Question:
        """This question searched both as asked and after the conversation's earlier question, the two rankings
        fused (README step 52), where no word or search leans it already; itself otherwise (no earlier question, or a
        summary of the whole document before it)."""
        if self.previous or self.searched_after or self.fused_after:
            return self
        earlier = earlier_question(self.history)
        return replace(self, fused_after=earlier) if earlier else self

    @property
    def retrieval_query(self) -> str:
        """What retrieval searches for: the question, preceded by the earlier question it leans on (with `fused_after`,
        the first of `search_queries`)."""
        before = self.previous or self.searched_after
        return f"{before} {self.text}" if before else self.text

    @property
    def search_queries(self) -> tuple[str, ...]:
        """Every text the search reads: the retrieval query, and with `fused_after` the question after the earlier
        one too (their rankings fused: retrieval.retrieve_fused)."""
        if self.fused_after:
            return (self.retrieval_query, f"{self.fused_after} {self.text}")
        return (self.retrieval_query,)

    @property
    def answer_query(self) -> str:
        """What the answer path embeds for its sentence cosines: the retrieval query, without an earlier question put
        in front for the search only (`searched_after`: the answer reads the question as asked)."""
        return f"{self.previous} {self.text}" if self.previous else self.text

    @property
    def language(self) -> str:
        return question_language(self.text)


# What shape of answer a question wants. These are general Chinese/English question words (interrogatives
# and request verbs), not words of any QA set's questions; the order of the tests below matters.
SUMMARY_Q = re.compile(r"总结|概括|概述|归纳|摘要|主要(?:观点|内容|讲|说|意思)|大意|要点|核心观点|中心思想|讲了(?:些)?什么|"
                       r"说了(?:些)?什么内容|写了什么|\bsummar|\bmain (?:point|idea|argument)s?\b|\boverview\b|"
                       r"\bgist\b|\btl;?dr\b|what (?:is|'s) (?:this|the) (?:article|document|text|story|report|paper|page|passage|file) about", re.I)
ENTITY_Q = re.compile(r"^(?:请?(?:问|介绍一下|简单介绍一下|介绍))?\s*(?P<a>[^，,。？?的]{1,20}?)(?:是谁|是什么人|是哪位|是什么公司|是什么东西|"
                      rf"是什么意思|是干什么的|是做什么的)[{QUESTION_END}]*$|"
                      rf"^(?:请?问)?\s*(?:谁是|什么是|何为|介绍一下|简单介绍一下|介绍)(?P<b>[^，,。？?]{{1,20}}?)[{QUESTION_END}]*$|"
                      r"^\s*(?:who|what) (?:is|are|was|were) (?P<c>(?:the )?(?-i:[A-Z])[\w.&'-]*(?: (?-i:[A-Z])[\w.&'-]*){0,4})\s*\??$|"
                      r"^\s*(?:tell me about|introduce) (?P<d>[\w .&'-]{1,40}?)\s*[.?!]*$", re.I)
OPEN_Q = re.compile(r"为什么|为何|原因|怎么|如何|怎样|哪些|哪几|有什么|有何|带来了?什么|意味着什么|做了什么|"
                    r"面临什么|影响|意义|作用|优势|挑战|问题是什么|介绍|描述|说明|分析|看法|评价|"
                    r"\bwhy\b|\bhow (?!much|many|long|old|far)|\bwhat (?:are|were)\b|\bdescribe\b|\bexplain\b|"
                    r"^\s*list\b|\bwhat did\b|\bwhat does\b|\bwhat happened\b|\bimpact\b|\bchallenges?\b", re.I)

# What a factoid answer must be: the interrogative decides the type of the span.
WANT_PATTERNS = (
    ("time", re.compile(r"哪一?年|哪个?月|几月|几号|哪一?天|什么时候|何时|什么时间|哪个时期|何年|年份|日期|"
                        r"\bwhen\b|what (?:year|date|month|day|time)|which (?:year|date|month|day)", re.I)),
    ("percent", re.compile(r"百分之|百分比|比例|占比|增长率|增速|增幅|毛利率|利润率|份额|(?:增长|下降|下滑|上涨)了?多少|"
                           r"\bpercent|\bshare of\b|\bby how much\b|\bgrowth rate\b|\bmargin\b", re.I)),
    ("number", re.compile(r"多少|多[长大高远久重宽深厚]|几[个位家款名天次倍种项条年岁人万亿千百十]?|\bhow (?:much|many|long|old|far)\b|"
                          r"\bnumber of\b|\bwhat (?:was|is) the (?:total|amount|price|cost|revenue|profit)\b", re.I)),
    ("person", re.compile(r"谁|哪位|什么人|\bwho(?:m|se)?\b", re.I)),
    ("place", re.compile(r"哪里|哪儿|在哪|何地|何处|哪个(?:国家|城市|省|地区|地方)|哪国|\bwhere\b", re.I)),
    ("thing", re.compile(r"什么|哪个|哪家|哪款|哪种|哪一|叫什么|名称|\bwhat\b|\bwhich\b", re.I)),
)
SHAPES = ("factoid", "open", "summary", "entity")


def answer_shape(question: str) -> str:
    """"summary", "entity" (who/what is X), "open" (why, how, which ones, describe) or "factoid"."""
    if SUMMARY_Q.search(question):
        return "summary"
    if ENTITY_Q.search(question.strip()):
        return "entity"
    if OPEN_Q.search(question) and wanted_type(question) in ("thing", "other"):
        return "open"
    return "factoid"


def wanted_type(question: str) -> str:
    """The type of thing a factoid question asks for: time, percent, number, person, place, thing or other."""
    for name, pattern in WANT_PATTERNS:
        if pattern.search(question):
            return name
    return "other"


# Within "number": a question about money, a length of time, or a count with its counter (多少家, 几款; not 这几/哪几, not
# the ordinal 第几). A length of time is looked for first (花了多少时间, 几个小时), then money, then a count.
ASKS_DURATION = re.compile(r"多久|多长时间|(?:花|用|需要?|历时|持续)了?多少时间|多少个?(?:年|月|天|小时|钟头|分钟|秒|周|星期|世纪)|"
                           r"几个?(?:年|月|天|小时|钟头|分钟|周|星期|世纪)")
ASKS_MONEY = re.compile(r"多少钱|花了多少|价格|造价|售价|价值多少|金额|多少(?:美元|元|港元|港币|英镑|欧元|日元|韩元|人民币|台币|"
                        r"新台币|美金|本金|资金|经费|费用)")
ASKS_COUNT = re.compile(rf"(?:多少|(?<![这那哪第])几)([{COUNTERS}])")
# The unit any count is asked in (几局, 多少圈): a numeral in that unit answers it, a counter COUNTERS lacks too (round 31)
ASKS_UNIT = re.compile(r"(?:多少|(?<![这那哪第])几)([\u4e00-\u9fff])")
# Checked only where the question asks a date (哪一年, 几月, 哪天): 什么时候 and 何时 may want a period or an event.
ASKS_DATE = re.compile(r"哪一?年|何年|几月|哪个?月|几号|几日|哪一?天|年份|日期")
# A percentage or a number asked beside "which" or "who" is what the name is picked by, not the answer.
ASKS_WHICH = re.compile(r"哪(?!几)|谁|什么(?!时候|时间)")
ASKS_HOW_OFTEN = re.compile(r"(?:多久|多长时间)[^，,。？?]{0,4}一次")  # a frequency: 每9局比赛 answers it in any unit
# 增长了多少 may be answered by an amount (增长了3.5亿元) as well as by a share
ASKS_CHANGE = re.compile(r"(?:增长|增加|下降|下滑|减少|上涨|上升|下跌|提升|提高)了?多少")
DEMONSTRATIVE_FEW = re.compile(r"[这那哪]几")
TYPE_NAMES = {"time": "a time", "percent": "a percentage", "number": "a number"}


# README step 86: readings of the question the check had wrong, each found on a DRCD dev gold answer it withheld (round
# 54, scripts/gold_scan.py). A year asked with an era (西元几年, 公元前多少年) asks a date, not a length; 百分之多少 names
# its unit, so any number answers it, and a ratio (比例, 比率) is answered by a fraction or any number; a share stated
# as a given (百分之三的能源) is not asked; 多少年轻人 asks people; 日期 is no word across 23日 + 期间; a rank (第几,
# 前几) is not checked: 排名第三 answers it with no counter.
ERA_YEAR_ASKED = re.compile(r"(?:西元|公元|民国|纪元)前?(?:几|多少)年")
PERCENT_NAMED = re.compile(r"百分之(?:多少|几)|多少百分")
RATIO_ASKED = re.compile(r"比例|比率")
PERCENT_GIVEN = re.compile(rf"百分之{NUMERAL}")
DAY_THEN_PERIOD = re.compile(r"日(?=期间)")
YOUNG = re.compile(r"(多少|几)(年轻)")
# README step 106 (round 60, artifacts/r60/rule106.md): a word that begins with a unit of time but is a noun of its own
# (月活跃用户: monthly active users) is not the unit asked; read with a space after 多少/几, any number answers it.
NOT_A_UNIT = re.compile(r"(多少|(?<![这那哪第])几)(?=个?(?:月活|日活|月份|月薪|年纪|年龄|年级|年薪|年度|天文|天然|天气|周边))")
RANK = re.compile(r"第几|第多少|前几")
# ... and answers it had not read: a full-width ％; a fraction; a frequency (每年 answers 多久一次); a whole answer that
# is one plain numeral (42, 五, 2,790,060: no point, no 万 or 亿) answers a count; a Chinese numeral with 十, 百 or 千
# (六十四英尺) is a number; a numeral before the noun after 多少个 (5领 answers 多少个领); a year of an era (民国9年,
# 承久3年) or of the sexagenary cycle (庚申年) is a date.
FULL_WIDTH_PERCENT = re.compile(r"\d\s*％")
FRACTION = re.compile(r"\d\s*/\s*\d")
EVERY = re.compile(rf"每\s*(?:{NUMERAL}\s*个?\s*)?(?:年|月|季|周|星期|天|日|小时)")
PLAIN_NUMERAL = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+|[零〇一二两三四五六七八九十百千]+)")
CHINESE_NUMBER = re.compile(r"[一二两三四五六七八九][十百千]|十[一二三四五六七八九]")
ERA_YEAR = re.compile(r"[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]年|"
                      r"[\u4e00-\u9fff](?<![了用时约近达逾有共期长满过前后第经余多年])\d{1,2}\s*年(?![间来代])")
AFTER_COUNTER = re.compile(rf"(?:多少|(?<![这那哪第])几)[{COUNTERS}]([\u4e00-\u9fff])")


# README step 103 (round 60, artifacts/r60/rule103.md): a number asked in a unit of measure (多少光年, 几公里, 多少平方公里,
# 多少吨, 多少摄氏度) is shown only by a numeral before a unit of the same kind (光年 answers 多少米; support.KINDS_OF_UNIT),
# before a Latin unit or a degree sign (km, ℃: not judged), or as one plain numeral. A sentence whose numbers are all of
# other kinds (2.87天, 8倍) does not answer 多少光年. Money, time and people keep their own checks. MEASURE_ASKED: whether
# the check applies (read at call time).
MEASURE_ASKED = True
MEASURE_KINDS = ("length", "area", "weight", "volume", "temperature")
MEASURE_SHOWN_EXTRA = {"temperature": ("度",)}  # 零下10度 answers 多少摄氏度; a bare 度 asks nothing (角度, 电量)
_MEASURE_UNITS = {kind: sorted(KINDS_OF_UNIT[kind].split(), key=len, reverse=True) for kind in MEASURE_KINDS}
_ALL_MEASURE_UNITS = sorted({u for units in _MEASURE_UNITS.values() for u in units}, key=len, reverse=True)


def asks_in(units) -> re.Pattern[str]:  # noqa: ANN001 - any iterable of unit words
    """多少 or 几 (not 这几, 第几), an optional 个, then one of `units` (the longest first), captured: 多少平方公里."""
    return re.compile(r"(?:多少|(?<![这那哪第])几)\s*个?\s*(" + "|".join(sorted(set(units), key=len, reverse=True)) + ")")


ASKS_MEASURE = asks_in(_ALL_MEASURE_UNITS)
MEASURE_SHOWN = {kind: re.compile(NUMERAL + COUNT_GAP + "(?:" + "|".join((*units, *MEASURE_SHOWN_EXTRA.get(kind, ()))) + ")")
                 for kind, units in _MEASURE_UNITS.items()}
LATIN_MEASURE = re.compile(r"\d\s*(?:[A-Za-z]{1,3}(?![A-Za-z])|℃|℉|°)")  # 8848m高: no \b before a CJK character


# README step 104 (round 60, artifacts/r60/rule104.md): the unit a question asks its number in (多少港元, 几公里, 多少钱)
# says what kind of value is wanted, not what the value is of; any sentence giving an amount in 港元 holds it. The claim
# share (claim.claim_share) leaves these words out of the question's weight.
ASKS_IN_UNIT = asks_in([*_ALL_MEASURE_UNITS, *CURRENCY_OF, "钱"])


@lru_cache(maxsize=1024)  # the claim share asks it of one question for every sentence that may support a claim
def asked_unit_words(question: str) -> frozenset[str]:
    """The question's words (rag.tokenize's, folded) that lie wholly inside a unit it asks its number in, 多少 or 几
    included (港元 of 美图的市值是多少港元？; 几公斤 and 公斤 of 有几公斤？), and nowhere else in it (README step 104)."""
    from rag.tokenize import tokenize

    folded = unicodedata.normalize("NFKC", question).lower()
    spans = [m.span() for m in ASKS_IN_UNIT.finditer(folded)]
    if not spans:
        return frozenset()
    out = set()
    for word in dict.fromkeys(tokenize(question)):
        starts = [i for i in range(len(folded)) if folded.startswith(word, i)]
        if starts and all(any(a <= i and i + len(word) <= b for a, b in spans) for i in starts):
            out.add(word)
    return frozenset(out)


def missing_measure(question: str, answer: str) -> str:
    """The unit of measure `question` asks a number in that `answer` shows no number in (README step 103): "a number in
    光年" for 食变星大陵五距离地球多少光年？ answered by a sentence giving 2.87天; "" when it shows one, or none is asked."""
    asked = ASKS_MEASURE.search(question) if MEASURE_ASKED else None
    if asked is None:
        return ""
    kind = UNIT_KIND[asked.group(1)]
    if MEASURE_SHOWN[kind].search(answer) or LATIN_MEASURE.search(answer) or _plain_numeral(answer):
        return ""
    return f"a number in {asked.group(1)}"


# README step 107 (round 61, artifacts/r61/rule107.md): a sum written with 万 or 亿 and no currency answers a question
# asking an amount of money, but not where a unit of measure or a counter follows it (台北101的总造价是多少？ answered
# 37万4千平方公尺, the floor area; 2.49亿人). SUM_NOT_MEASURED: whether it is read so (read at call time).
SUM_NOT_MEASURED = True
BARE_SUM = re.compile(NUMERAL + r"\s*(?:万|亿)(?:\s*(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十]+)\s*[万千百十]?)*")
MEASURED_AFTER = re.compile(r"\s*(?:多|余)?\s*(?:平方|立方)?(?:" + "|".join(map(re.escape, _ALL_MEASURE_UNITS))
                            + rf"|[{COUNTERS}])")


def shows_money(answer: str) -> bool:
    """Whether `answer` gives an amount of money: a number with a currency or a currency sign, or a sum written with 万
    or 亿 that no unit of measure or counter follows (README step 107; any such sum without SUM_NOT_MEASURED)."""
    if not SUM_NOT_MEASURED:
        return MONEY_AMOUNT.search(answer) is not None
    return (CURRENCY_AMOUNT.search(answer) is not None
            or any(not MEASURED_AFTER.match(answer, m.end()) for m in BARE_SUM.finditer(answer)))


def _plain_numeral(answer: str) -> bool:
    """Whether `answer`, less punctuation and filler, is one plain numeral (42, 五, 2,790,060)."""
    bare = re.sub(r"[\s。，,.!！?？、：:约共有是为]+$|^[\s约共有是为]+", "", answer)
    return PLAIN_NUMERAL.fullmatch(bare) is not None


def missing_answer_type(question: str, answer: str) -> str:
    """What a Chinese factoid question asks for that `answer` does not show ("" when it shows it, or when the question
    asks for no time, percentage or number): "an amount of money" for 美图收购站酷花了多少钱？ answered 今年2月, "a
    length of time" for 花了多长时间？ answered 六百卷, "a count of 家" for 有多少家门店？ answered 2.49亿."""
    if RANK.search(question) or PERCENT_GIVEN.search(question):
        return ""
    asked = YOUNG.sub(r"\1人", DAY_THEN_PERIOD.sub("日 ", question))  # README step 86: 多少年轻人, 23日期间
    asked = NOT_A_UNIT.sub(r"\1 ", asked)  # README step 106: 多少月活跃用户
    want = "time" if ERA_YEAR_ASKED.search(asked) else wanted_type(asked)
    if want == "number" and wanted_type(DEMONSTRATIVE_FEW.sub("", asked)) != "number":
        return ""  # 这几种生物只在哪个地方才有？ asks a place: 这几 is "these few", not a count
    if want not in TYPE_PATTERN:
        return ""
    if want == "time" and not (ASKS_DATE.search(asked) or ERA_YEAR_ASKED.search(asked)):
        return ""  # 什么时候 is also answered by a period or an event (春节时期, 二战后)
    if want != "time" and ASKS_WHICH.search(asked):
        return ""  # 哪家初创公司蚕食份额？ asks a name, about a share
    if want == "number":
        if ASKS_HOW_OFTEN.search(asked) and EVERY.search(answer):
            return ""
        if ASKS_DURATION.search(asked) and not ASKS_HOW_OFTEN.search(asked):
            return "" if DURATION.search(answer) else "a length of time"
        if ASKS_MONEY.search(asked):
            return "" if shows_money(answer) else "an amount of money"
        if measure := missing_measure(asked, answer):
            return measure
        count = ASKS_COUNT.search(asked)
        if count:
            after = AFTER_COUNTER.search(asked)
            if _plain_numeral(answer) or (after and re.search(NUMERAL + COUNT_GAP + re.escape(after.group(1)), answer)):
                return ""
            return "" if shows_count(answer, count.group(1)) else f"a count of {count.group(1)}"
        unit = ASKS_UNIT.search(asked)
        if unit and re.search(NUMERAL + COUNT_GAP + re.escape(unit.group(1)), answer):
            return ""
        shown = shows_number(answer) or CHINESE_NUMBER.search(answer) or _plain_numeral(answer)
        return "" if shown else TYPE_NAMES[want]
    if want == "percent":
        if (PERCENT_NAMED.search(asked) or RATIO_ASKED.search(asked)) and (shows_number(answer) or FRACTION.search(answer)):
            return ""
        shown = (TYPE_PATTERN["percent"].search(answer) or SHARE_WORDS.search(answer)
                 or FULL_WIDTH_PERCENT.search(answer) or FRACTION.search(answer))
        return "" if shown or (ASKS_CHANGE.search(asked) and shows_number(answer)) else TYPE_NAMES[want]
    shown = TYPE_PATTERN["time"].search(answer) or DATE_WORDS.search(answer) or ERA_YEAR.search(answer)
    return "" if shown else TYPE_NAMES[want]


# README step 84: a question that asks a person, place or thing, and no time or quantity, is not answered by a time or
# a number alone (自由印度临时政府是何人建立的? answered 自由印度临时政府是1945年建立的。). Not where the question asks a
# time-like noun (哪个时期, 什么年代, 哪一个月份), a measure (什么距离), an occurrence (哪次, 哪届: a year names one) or a
# thing written in digits (股票代码, 型号), which a number may be.
TIME_LIKE = re.compile(r"什么时|年代|时期|朝代|世纪|时代|年间|期间|阶段|季节|时候|时间|年号|月份")
DIGIT_VALUED = re.compile(r"代码|编号|号码|型号|数字|比分|分数|版本|电话|编码|学号|车次|航班|序号|"
                          r"距离|长度|高度|深度|宽度|面积|体积|重量|温度|速度|价格|年龄|人数|数量|数目|规模|"
                          r"哪一?[次届期]")
VALUE_UNIT = rf"(?:世纪|年代|[年月日号时分秒岁%％]|[{COUNTERS}])"  # what makes a Chinese numeral a time or number
VALUE_EXPRESSION = re.compile(rf"(?:公元前?|约|大约|近|超过?)?{NUMERAL}{COUNT_GAP}{VALUE_UNIT}?"
                              rf"(?:[初末底中]|以[前后上下]|左右|前后|多)?")
VALUE_FILLER = re.compile(r"[是的于在了约共为有到和及等之以其\s\W_]")
ASKS_PERSON = re.compile(r"何人|何者")  # besides wanted_type's 谁, 哪位, 什么人
NUMERAL_CHAR = re.compile(r"\d|[零〇一二两三四五六七八九十百千万亿]")
# jieba.posseg tags of a word that a numeral before it names (二二八事件, 21号线, 1994年世界杯, 「1910年革命」)
NAMING_TAGS = ("n", "vn", "q", "b", "j")


def is_value(text: str) -> bool:
    """A time or number as such: digits, or a Chinese numeral with its unit (1945年, 6世纪, 三个); a bare Chinese
    numeral (二二八, 十五) is more often part of a name (二二八事件, 路易十五)."""
    return bool(re.search(r"\d", text)) or bool(re.search(VALUE_UNIT, text))


def numeral_names_a_thing(answer: str, question: str) -> bool:
    """Whether a numeral of `answer` is part of a name: one word holding it and more (二尖瓣, 路易十五, 九一八事变:
    jieba's words), or, after it and its units, a word of the question (二二八 + 事件 asked 哪一个事件; 21 + 号线; 1994年 +
    世界杯; 2003年 + 系列)."""
    import jieba.posseg  # loaded on first use, as support.names does

    words = [(w.word, w.flag) for w in jieba.posseg.cut(answer)]
    numeric = [bool(NUMERAL_CHAR.fullmatch(w) or NUMERAL_CHAR.search(w) and f == "m") or w in "年月日号"
               for w, f in words]
    for i, (word, flag) in enumerate(words):
        if not NUMERAL_CHAR.search(word):
            continue
        if flag.startswith(NAMING_TAGS) and re.search(r"[\u4e00-\u9fff]", NUMERAL_CHAR.sub("", word)):
            return True
        after = next((j for j in range(i + 1, len(words)) if not numeric[j]), None)
        if after is not None and words[after][1].startswith(NAMING_TAGS) and words[after][0] in question:
            return True
    return False


# README step 111 (round 61, artifacts/r61/rule111.md): an answer that restates its question up to the interrogative and
# puts a time there gives no name, whatever follows (美图是在哪里上市的？ answered 美图是在2016年登陆资本市场的:
# 登陆资本市场 restates 上市, so step 84's "a value alone" misses it). SLOT_VALUE: whether it is read (at call time).
SLOT_VALUE = True
INTERROGATIVE = re.compile(r"哪|谁|什么|何")
# The values it reads in a name's place: times (2016年, 1920年代, 14世纪, 3月, 5日); a bare numeral or a count there may
# begin a name (58同城, 21号线, 3D), and Latin letters, digits or a hyphen after a time go on with one (2003年X).
TIME_UNIT = re.compile(r"年|世纪|月|日")
NAME_GOES_ON = re.compile(r"[A-Za-z0-9\-]")


def value_in_its_place(question: str, answer: str) -> str:
    """The time `answer` puts where `question`'s first interrogative stands, where the answer begins with the question's
    text before it (two characters or more): 2016年 for 美图是在哪里上市的？ answered 美图是在2016年登陆资本市场的; ""
    otherwise, for a value that is no time (`TIME_UNIT`), and where the numeral is part of a name
    (`numeral_names_a_thing`, `NAME_GOES_ON`)."""
    asking = INTERROGATIVE.search(question)
    if asking is None or asking.start() < 2:
        return ""
    said = re.sub(r"\s+", "", answer)
    before = question[:asking.start()]
    if not said.startswith(before):
        return ""
    value = VALUE_EXPRESSION.match(said, len(before))
    if (value is None or not is_value(value.group()) or not TIME_UNIT.search(value.group())
            or NAME_GOES_ON.match(said, value.end()) or numeral_names_a_thing(answer, question)):  # jieba's read last
        return ""
    return value.group()


def only_value_for_name(question: str, answer: str) -> str:
    """What a Chinese factoid question asks for ("a person", or "a name" for a place or thing) when `answer` says beyond
    its question (support.beyond_text) a time or number and nothing else, and no numeral of it is part of a name, or
    (README step 111) restates the question and puts a time in its interrogative's place (`value_in_its_place`); ""
    otherwise, and for a question that asks a time, a percentage, a number, a time-like noun, a measure, an occurrence
    or a thing written in digits."""
    want = "person" if ASKS_PERSON.search(question) else wanted_type(question)
    if want not in ("person", "place", "thing") or TIME_LIKE.search(question) or DIGIT_VALUED.search(question):
        return ""
    if any(pattern.search(question) for name, pattern in WANT_PATTERNS if name in ("time", "percent", "number")):
        return ""
    if SLOT_VALUE and value_in_its_place(question, answer):  # README step 111
        return "a person" if want == "person" else "a name"
    beyond = beyond_text(answer, question)
    values = [m.group() for m in VALUE_EXPRESSION.finditer(beyond) if is_value(m.group())]
    if not values:
        return ""
    rest = beyond
    for value in values:
        rest = rest.replace(value, "", 1)
    if VALUE_FILLER.sub("", rest) or numeral_names_a_thing(answer, question):
        return ""
    return "a person" if want == "person" else "a name"


def entity_of(question: str) -> str:
    """X in "X是谁" / "什么是X" / "who is X" ("" when the question is not an entity question)."""
    m = ENTITY_Q.search(question.strip())
    if not m:
        return ""
    name = next(g for g in m.groups() if g)
    return re.sub(r"^(?:the)\s+", "", name.strip(), flags=re.I)
