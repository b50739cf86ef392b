"""A change asked, a level answered (README step 94), and a change answered, a level asked (step 105).

`美图2023年付费订阅用户数同比增长了多少？` over `…美图付费订阅用户数超911万,同比增长62.3%,创历史新高。` was answered `超911万`:
the level, where the question asks how much it grew. Every check passes (the value stands in the sentence, beside the
question's words).

The question asks a change where it writes a verb of change then 多少/几 (增长了多少, 下降了几个百分点; not 增长到了多少,
which asks the level) or a rate (增幅是多少). The sentence writes its changes: a verb of the same direction, at most
two characters of 同比/约/近/了/达/为, then a number with its unit. Where it writes exactly one, and the answer's
numbers are not that one but one of them stands elsewhere in the sentence, the answer gave a level; the model answerer
gives the change in its place.

The other way (step 105): `美图的付费率是多少？` over the same sentence was answered `62.3%`, a change given where the
question asks a level, which the sentence may not hold at all; that answer is withheld (`change_for_level`).

Pure: strings in, the level given and the change out. Nothing is fitted; what counts was fixed on the article's dev
split and questions of my own (docs/choosing-auto.md, step 94; rule in artifacts/r56/rule94.md), and for step 105 read
on DRCD dev's gold answers and the article's dev split (rule in artifacts/r60/rule105.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answering.text import DECIMAL
from rag.script import to_simplified

UP = "增长|增加|上升|提升|提高|上涨"
DOWN = "下降|减少|下滑|降低|下跌|回落"
RATE = "增幅|涨幅|跌幅|降幅|增速|增长率"
ASKS_CHANGE = re.compile(rf"({UP}|{DOWN})(?![到至])了?(?:约|大约)?(?:多少|几)|({RATE})(?:是|为|有)?(?:多少|几)")
CHANGE = re.compile(rf"({UP}|{DOWN}|{RATE})(?:[同比约近了达为]{{0,2}})(\d+(?:\.\d+)?\s*"
                    r"(?:%|％|个百分点|倍|[万亿]*(?:美元|港元|元|人次|人|户|个|家|台|辆|吨))?)")


@dataclass(frozen=True)
class Level:
    """An answer giving a level where its question asks a change: the number it gave, and the change its sentence
    writes (`change`, the number with its unit: 62.3%)."""

    given: str
    change: str


def direction(verb: str) -> str:
    """"up", "down", or "both" (a rate: 增幅, 增速)."""
    return "up" if re.fullmatch(UP, verb) else "down" if re.fullmatch(DOWN, verb) else "both"


def asked_change(question: str) -> str | None:
    """The direction of the change `question` asks (up, down, both), or None where it asks none."""
    m = ASKS_CHANGE.search(question)
    return direction(m.group(1) or m.group(2)) if m else None


def level_for_change(question: str, answer: str, sentence: str) -> Level | None:
    """The Level where `question` asks a change, `sentence` writes exactly one change of that direction, and `answer`
    gives another number of the sentence instead; else None. Read in simplified characters."""
    question, answer, sentence = to_simplified(question), to_simplified(answer), to_simplified(sentence)
    asked = asked_change(question)
    if asked is None:
        return None
    changes = {m.group(2).strip() for m in CHANGE.finditer(sentence)
               if asked == "both" or direction(m.group(1)) in (asked, "both")}
    numbers = {DECIMAL.match(c).group(0) for c in changes}  # type: ignore[union-attr]
    if len(numbers) != 1:
        return None
    said = DECIMAL.findall(answer)
    if not said or numbers & set(said):
        return None
    written = set(DECIMAL.findall(sentence))
    given = next((n for n in said if n in written), None)
    return Level(given, max(changes, key=len)) if given is not None else None  # 62.3% over 62.3 where both are read


# README step 105 (round 60, artifacts/r60/rule105.md): a question that writes any word of change or comparison asks, or
# may ask, a change; only one that writes none asks a level. A year (2023年) an answer gives is when, not how much.
CHANGE_WORDS = re.compile(rf"{UP}|{DOWN}|{RATE}|成长|[增减涨跌升降]|变化|变动|同比|环比|比")
YEAR_WRITTEN = re.compile(r"(?:1[5-9]|20)\d{2}\s*年")


def change_for_level(question: str, answer: str, sentence: str) -> str | None:
    """The change `sentence` writes (62.3%) that `answer` gives where `question` asks a level (no word of change or
    comparison): every number of the answer but its years and the question's own is a change the sentence writes
    (CHANGE), and there is one; else None. Read in simplified characters (README step 105)."""
    question, answer, sentence = to_simplified(question), to_simplified(answer), to_simplified(sentence)
    if CHANGE_WORDS.search(question):
        return None
    changes = {DECIMAL.match(m.group(2)).group(0): m.group(2).strip() for m in CHANGE.finditer(sentence)}  # type: ignore[union-attr]
    asked = set(DECIMAL.findall(question))
    said = {n for n in DECIMAL.findall(YEAR_WRITTEN.sub("", answer)) if n not in asked}
    if not said or not said <= changes.keys():
        return None
    return max((changes[n] for n in said), key=len)
