"""A number's hedge, carried from the sentence it stands on into a model's answer.

The support checks compare numbers by value (support.numbers_missing), so `5.6万平方米` is supported by a passage
sentence that says `近5.6万平方米`, and `4.5亿` by `超过4.5亿`. Shown as the answer, the bare figure states as exact what
the document gives as an estimate or a bound. `carry_hedges` puts the source's hedge back, verbatim: a word before
the number (约, 近, 超过, 不到, …) and 多/余 right after it (`440多光年`, `1万余人`).

It is a fidelity rule, not a fitted one: no threshold, nothing chosen on figures. It changes no verdict (answered or
refused) and only ever adds a word the cited sentence holds beside that same number. Conservative by design: it acts
only on a Chinese answer sentence; the number must stand in a supporting sentence with the same unit after it (the
answer's `10人` is not the source's `超过10米`), every such occurrence must carry the same hedge (a number stated once
hedged and once not is left as written), and a number the answer already hedges is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answering.text import question_language

# A number as the answer writes it, with its magnitude word (5.6万, 27亿, 2016, 13.27).
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:万亿|千万|百万|万|亿|千)?")
# Words that hedge the number after them, longest first so that 大约 is read before 约. A hedge the answer shows is
# the source's own word, except that 约为/约有 (a verb with it) are shown as 约; a hedge negated in the source
# (不多于, 未超过, 没超过) is shown with its negation.
BEFORE = ("不超过", "不少于", "不低于", "大约", "约为", "约有", "将近", "接近", "超过", "多于", "少于", "高于", "低于",
          "不到", "不足", "至少", "最少", "最多", "多达", "约", "近", "逾", "超")
SHOWN = {"约为": "约", "约有": "约"}
NEGATIONS = "不未没"
# A one-character hedge that ends a longer word is not a hedge: 最近3年, 签约3年, 纽约2001年, 英超20支球队, 反超3分.
NOT_AFTER = {"近": "最附将接靠邻临亲贴逼拉走就远新相趋", "约": "签合条预公契制相履违解节邀和婚赴大纽续租特缔毁守失践要集隐简盟协",
             "超": "高赶中英西德意法欧反出入"}
AFTER = ("多", "余")  # 440多光年, 1万余人: more than the number
NOT_HEDGE_AFTER = {"多": "媒元样少", "余": "额下数"}  # 多媒体, 余额: a word, not "more than"
# What already qualifies a number in the answer, so nothing is added: any hedge word (even one that ends a longer
# word, 最近3年), other approximations before it, and the ones after it (1500公里左右, 5年以内).
QUALIFIED_BEFORE = (*BEFORE, "最近", "附近", "过去", "大概", "几乎", "差不多", "高达", "达")
QUALIFIED_AFTER = ("左右", "上下", "以上", "以下", "以内", "之内", "前后", "多", "余")


def _glued(text: str, start: int, end: int) -> bool:
    """The number text[start:end] is part of a longer one (2016 in 20160, 5 in 3.5, 27亿 in 127亿, 2 in 2,000) or of a
    name (the 5 of MP5, the 3 of Q3, the 20 of 歼-20, the 19 of COVID-19)."""
    before = text[start - 1] if start > 0 else ""
    before2 = text[start - 2] if start > 1 else ""
    after = text[end] if end < len(text) else ""
    after2 = text[end + 1] if end + 1 < len(text) else ""
    return (before.isdigit() or (before in ".," and before2.isdigit()) or (before.isascii() and before.isalpha())
            or (before == "-" and before2.isalnum() and not before2.isdigit())
            or after.isdigit() or (after in ".," and after2.isdigit()))


def _is_unit(ch: str) -> bool:
    """A character that says what the number counts (年, 人, 米, a letter, %): must agree between answer and source."""
    return ch.isalnum() or (ch != "" and ch in "%％‰")  # CJK characters and letters are alphanumeric; spaces and [ are not


def _after_number(text: str, end: int) -> tuple[str, str]:
    """What follows the number ending at text[end]: its 多/余 ("" when none) and its unit, up to two unit characters
    ("光年" of 440多光年, "平方" of 5.6万平方米, "" of a bare 4.5亿[1])."""
    suffix = text[end] if end < len(text) and text[end] in AFTER else ""
    if suffix and text[end + 1:end + 2] and text[end + 1] in NOT_HEDGE_AFTER[suffix]:
        suffix = ""
    unit = ""
    for ch in text[end + len(suffix):end + len(suffix) + 2]:
        if not _is_unit(ch):
            break
        unit += ch
    return suffix, unit


def hedge_before(text: str, start: int) -> str:
    """The hedge word that ends just before text[start] ("" when none): `约` in `面积约4万`, `超过` in `超过4.5亿`,
    `未超过` in `期限未超过5年`, nothing in `最近3年` or `纽约2001年`."""
    head = text[:start].rstrip()
    for word in BEFORE:
        if head.endswith(word):
            if len(word) == 1 and len(head) >= 2 and head[-2] in NOT_AFTER.get(word, ""):
                return ""
            rest = head[:-len(word)]
            if rest and rest[-1] in NEGATIONS and not word.startswith("不"):
                return rest[-1] + word
            return word
    return ""


def _qualified(sentence: str, start: int, end: int) -> bool:
    """The answer's number is qualified already: a hedge or approximation word just before it, or one among the few
    characters after it (1500公里左右, 5.6万平方米左右, 3年以上)."""
    head = sentence[:start].rstrip()
    if any(head.endswith(word) for word in QUALIFIED_BEFORE):
        return True
    window = sentence[end:end + 6]
    return any(word in window for word in QUALIFIED_AFTER)


def _units_agree(answer_unit: str, source_unit: str) -> bool:
    """The answer's unit and the source's name the same thing: equal, or one the start of the other (年 and 年前, not
    年级 and 年前); a bare answer number ("" unit) agrees with any."""
    return not answer_unit or source_unit.startswith(answer_unit) or (bool(source_unit)
                                                                      and answer_unit.startswith(source_unit))


def _source_reading(source: str, number: str, unit: str) -> list[tuple[str, str]]:
    """Each occurrence of `number` in `source` whose unit agrees with the answer's `unit`, as (hedge before, 多/余
    after)."""
    out = []
    start = source.find(number)
    while start >= 0:
        end = start + len(number)
        if not _glued(source, start, end):
            suffix, source_unit = _after_number(source, end)
            if _units_agree(unit, source_unit):
                out.append((hedge_before(source, start), suffix))
        start = source.find(number, start + 1)
    return out


def carry_hedges(sentence: str, sources: Sequence[str]) -> str:
    """`sentence` (a model's answer sentence) with each number's hedge from `sources` (the passage sentences that
    support it) put back: `嘉兴南站建筑总面积为5.6万平方米` over `…建筑总面积近5.6万平方米…` reads
    `嘉兴南站建筑总面积为近5.6万平方米`; `440光年` over `距离地球约440多光年` reads `约440多光年`. Unchanged where the
    sentence is not Chinese, the number is not in a source with the same unit, the sources disagree, or the sentence
    qualifies it already."""
    if not sources or question_language(sentence) != "zh":
        return sentence
    out: list[str] = []
    last = 0
    for m in NUMBER.finditer(sentence):
        number, start, end = m.group(0), m.start(), m.end()
        if _glued(sentence, start, end) or _qualified(sentence, start, end):
            continue
        _, unit = _after_number(sentence, end)
        readings = {r for source in sources for r in _source_reading(source, number, unit)}
        if len(readings) != 1:
            continue
        before, after = next(iter(readings))
        if not before and not after:
            continue
        out.append(sentence[last:start] + SHOWN.get(before, before) + number + after)  # an insertion only
        last = end
    return "".join(out) + sentence[last:] if out else sentence
