"""A total given for one of its parts (README step 102).

`美图买以太币花了多少人民币？` over `…购买了1.5万枚以太币和379.1214枚比特币。这两种加密货币的总对价分别约为2210万美元和1790万美元。
按当时的汇率计算,所购总价约合2亿元人民币。` was answered `2亿元人民币`: the price of both coins together. Every check passes
(the value stands in its sentence, the question's words beside it); the answer is still wrong, because the sentence
gives a total (总价) and the question asks one of the parts it totals.

`part_of_total` says so where all of these hold:
- the question asks no total and no list (`ASKS_ALL`, or two of its words joined by 和/与/及/、);
- a number of the answer stands in the sentence right after a total word (`TOTAL_WORD`, within `MAX_GAP` characters
  of the same clause, no 分别/依次 between: 总对价分别约为… pairs each part with its own value, step 91's case), and
  the sentence points back at what it totals before that word (`POINTS_BACK`: 所购, 这, 上述, 两者);
- a piece of the question (two CJK characters or more) that the sentence does not hold stands in the sentences before
  it joined to a list (和 与 及 以及 、 right before or after it): one part of what the sentence totals.

Pure: strings in, a `Part` out. Nothing is fitted. The words were written before any figure; it must leave gold
answers alone, and v1 fired on one of DRCD dev's, so v2 asks that the sentence point back (`POINTS_BACK`), and fires on
none of DRCD dev's, DRCD test's or CMRC dev's (docs/choosing-auto.md, step 102; rule in artifacts/r59/rule102.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answering.support import numbers, with_digits, without_thousands_commas

ASKS_ALL = re.compile(r"总|共|合计|累计|全部|整体|加起来|一起|两者|三者|各|分别")
TOTAL_WORD = "总对价|总金额|总价|总额|总计|总共|一共|共计|合计|总和|总值|累计"
# v2 (after v1 fired on a DRCD dev gold answer, 客语在台湾的使用者总共有212万人 for 客家语): the total's sentence points back
# at what was listed before it (所购总价, 这两种…的总额), before its total word
# (因此 "therefore" and 此外 "besides" point nowhere: seen in the spots `artifacts/r59/total_spots.py` lists)
POINTS_BACK = re.compile(r"这|(?<!因)此(?!外)|上述|以上|前述|[两二三四五六七八九十]者|所购|所买|所售|所收")
MAX_GAP = 8  # characters between the total word and its number (所购总价约合2亿元: 2)
JOIN = r"以及|和|与|及|、"
QUESTION_LIST = re.compile(rf"\w{{2,}}(?:{JOIN})\w{{2,}}")  # \w holds CJK characters too
MIN_PART_CHARS = 2
AFTER_JOIN = 14  # characters looked at on each side of a joiner (1.5万枚以太币和379.1214枚比特币)
CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Part:
    """An answer giving a sentence's total for one of its parts: the part the question names (`part`), the total word
    (`total`) and the value the answer took from after it (`value`, digits)."""
    part: str
    total: str
    value: str


def totals(sentence: str) -> dict[str, str]:
    """The numbers `sentence` writes right after a total word, each with that word, where the sentence points back at
    what it totals before that word (`POINTS_BACK`): {"2": "总价"} for 所购总价约合2亿元."""
    text = without_thousands_commas(with_digits(sentence))
    out: dict[str, str] = {}
    for m in re.finditer(rf"({TOTAL_WORD})([^，,。；;！？!?\d]{{0,{MAX_GAP}}}?)(\d+(?:\.\d+)?)", text):
        if not re.search(r"分别|依次", m.group(2)) and POINTS_BACK.search(text[:m.start()]):
            out.update({n: m.group(1) for n in numbers(m.group(3))})
    return out


def listed_parts(question: str, sentence: str, before: str) -> list[str]:
    """The pieces of `question` (two to eight CJK characters, longest first) that `before` writes joined to a list
    (ending right before 和, 与, 及, 以及 or 、, or standing within `AFTER_JOIN` characters after one, in its clause)
    and that `sentence` does not hold: 以太币 of 购买了1.5万枚以太币和379.1214枚比特币."""
    spans = ((i, j) for i in range(len(question)) for j in range(i + MIN_PART_CHARS, min(len(question), i + 8) + 1))
    pieces = sorted({question[i:j] for i, j in spans if CJK_RUN.fullmatch(question[i:j]) and question[i:j] not in sentence},
                    key=len, reverse=True)
    found: list[str] = []
    for m in re.finditer(JOIN, before):
        left = before[max(0, m.start() - AFTER_JOIN):m.start()]
        right = re.split(r"[，,。；;！？!?]", before[m.end():m.end() + AFTER_JOIN])[0]
        found += [p for p in pieces if (left.endswith(p) or p in right) and not any(p in f for f in found)]
    return found


def part_of_total(question: str, answer: str, sentence: str, before: str) -> Part | None:
    """The `Part` where `answer` gives `sentence`'s total for one part the question names (the list standing in
    `before`, the sentences before it); None otherwise."""
    if ASKS_ALL.search(question) or QUESTION_LIST.search(question):
        return None
    given = totals(sentence)
    values = [n for n in sorted(numbers(with_digits(answer))) if n in given]
    if not values:
        return None
    parts = listed_parts(question, sentence, before)
    return Part(parts[0], given[values[0]], values[0]) if parts else None
