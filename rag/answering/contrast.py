"""A sentence that says the opposite side of what the question asks (README step 89).

`美图秀秀的日活跃用户有多少？` was answered with the article's sentence about 月活跃用户 (monthly users; the article gives
no daily figure). `加拿大生活成本最低的城市？` was answered `多伦多…加拿大生活成本最高的城市`. The question writes a piece
made of a contrast character and its neighbour (日活, 最低); the sentence never writes that character, and writes the
same piece with another character of its class instead (月活, 最高). The sentence then speaks of the other side.

Pure but for opencc (both are read in simplified characters) and jieba (the pieces named by the question's words):
strings in, the two pieces out. Nothing is fitted; the classes and what counts were fixed on DRCD dev (its gold
answers' sentences, which it must not refuse, and its contrast swaps, which it must) and reported held out on DRCD test
and CMRC dev (docs/choosing-auto.md, step 89; rule in artifacts/r55/rule89.md).
"""

from __future__ import annotations

import re

from rag.script import to_simplified

# Closed classes of characters that name one side of a contrast: a period (daily, monthly, yearly, weekly, quarterly),
# up and down, the compass, left and right, the sexes, inside and outside, in and out, buying and selling, rising and
# falling prices, high and low, long and short, early and late, new and old, plus and minus. 前/后 is not one: DRCD
# dev's questions invert before/after against their sentences (`在位之前是没有…` over `之后…也都积极推行了`), which is
# how a question is written, not a slip.
CLASSES = ("日月年周季", "上下", "东西南北", "左右", "男女", "内外", "进出", "买卖", "涨跌", "高低", "长短", "早晚",
           "新旧", "正负")
CLASS_OF = {c: members for members in CLASSES for c in members}
HAN = re.compile(r"[\u4e00-\u9fff]")
# neighbours that make no word with the character (低的, 的日): such pieces count, but are named last
FUNCTION = frozenset("的之了是在和与及或为于把被也都就着过")


def pieces(question: str) -> list[tuple[str, str, bool]]:
    """(contrast character, its neighbour, whether the character comes first) for each two-character piece of
    `question` made of a contrast character and a Chinese neighbour outside its class (东西 is a thing, not a side),
    those whose neighbour is a function character (的, 是) last."""
    found: list[tuple[str, str, bool]] = []
    for i, c in enumerate(question):
        members = CLASS_OF.get(c)
        if not members:
            continue
        for j, first in ((i + 1, True), (i - 1, False)):
            if 0 <= j < len(question) and HAN.match(question[j]) and question[j] not in members:
                found.append((c, question[j], first))
    return sorted(found, key=lambda p: p[1] in FUNCTION)  # stable: the question's order otherwise


def contrast_swap(question: str, sentence: str) -> tuple[str, str] | None:
    """(the question's piece, the sentence's piece) where `sentence` writes the other side of a contrast the question
    asks about, else None: the question's piece is not in `sentence`, its contrast character is nowhere in it (a
    sentence that writes both sides, 东西德 or 北接…南临, may answer either), and the piece with another character of
    the class is in it and not in the question. Both are read in simplified characters (rag/script.py's t2s), so text in
    traditional ones gets the same check (東 is 东; 週期 is 周期, and no swap of 周期)."""
    question, sentence = to_simplified(question), to_simplified(sentence)
    for c, neighbour, first in pieces(question):
        piece = c + neighbour if first else neighbour + c
        if c in sentence:
            continue
        for other in CLASS_OF[c]:
            swapped = other + neighbour if first else neighbour + other
            if other != c and swapped in sentence and swapped not in question:
                return named(question, piece, sentence, swapped)
    return None


def named(question: str, piece: str, sentence: str, swapped: str) -> tuple[str, str]:
    """The two pieces as a reader knows them: the question's words the piece falls in (jieba), and the same span around
    the sentence's piece where the characters added are shared (外第 and 内第 are named 国外第一家 and 国内第一家; 日活
    and 月活 are named 日活跃 and 月活跃); the bare pieces where no such span is shared."""
    import jieba  # loaded on first use (~0.5 s; the answer path has loaded it already)

    at = question.find(piece)
    words = [(start, end) for _, start, end in jieba.tokenize(question) if start < at + 2 and end > at]
    left, right = at - words[0][0], words[-1][1] - (at + 2)
    for t in (i for i in range(len(sentence)) if sentence.startswith(swapped, i)):
        if (t >= left and sentence[t - left:t] == question[at - left:at]
                and sentence[t + 2:t + 2 + right] == question[at + 2:at + 2 + right]):
            return question[at - left:at + 2 + right], sentence[t - left:t + 2 + right]
    return piece, swapped
