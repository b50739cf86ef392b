"""A value the sentence gives for another item of a "respectively" list (README step 91).

`美图购买比特币的总对价是多少？` over `…购买了1.5万枚以太币和379.1214枚比特币。这两种加密货币的总对价分别约为2210万美元和
1790万美元。` was answered `约2210万美元`: ether's price. Every check of the answer passes (the value, 比特币 and 总对价 all
stand in the sentence and its neighbour); the answer is still wrong, because 分别 (respectively) pairs the n-th value
with the n-th item, and the question names the second item.

A sentence with 分别 or 依次 pairs two lists: its values, after the marker (to the end of that clause), and its items,
the nearest clause before the marker, in the sentence or the one before, listing as many pieces. A list is a clause
split on 、 with its last piece split at the last 和/与/及/以及/或. Each piece is known by a key: for values, the numbers
it writes where every value writes its own; otherwise, as for items, its name: the last word (jieba) of the piece once
the suffix every piece shares is cut off, with that suffix put back (广告业务, 比特币), standing in no other piece. The
question names item k where exactly one item's name stands in it; the answer gives value j where exactly one value's
key stands in it; j != k is the misreading, and the model answerer gives value k in its place.

Pure but for jieba: strings in, a Slip out. Nothing is fitted; the markers and what counts were fixed on DRCD dev's gold
answers (which it must leave alone) and questions written on its pairings, and reported held out on DRCD test and CMRC
dev (docs/choosing-auto.md, step 91; rule in artifacts/r56/rule91.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answering.text import DECIMAL
from rag.script import to_simplified

MARKER = re.compile(r"分别|依次")
CLAUSE_END = re.compile(r"[，,：:。；;！？!?]")
LAST_JOIN = re.compile(r"以及|和|与|及|或")
LEADING_VERB = re.compile(r"(?<=^约)[为是]|^[为是]")  # 约为2210万美元 -> 约2210万美元; 为13.27亿元 -> 13.27亿元
MIN_PIECES = 2
MIN_KEY_CHARS = 2  # one character (空, 年) stands in too many questions to name an item


@dataclass(frozen=True)
class Slip:
    """An answer giving the value a 分别 sentence pairs with another item: the item the question names (`asked`), the
    item whose value the answer gives (`given`), and the value paired with `asked` (`value`, as the sentence writes
    it, its leading 为/是 left out)."""

    asked: str
    given: str
    value: str


@dataclass(frozen=True)
class Slots:
    """The items and values one 分别 sentence pairs, in order, each with its key (None where no key can be told)."""

    items: tuple[str, ...]
    values: tuple[str, ...]
    item_keys: tuple[str, ...] | None
    value_keys: tuple[frozenset[str], ...] | None


def listed(clause: str) -> list[str]:
    """The pieces `clause` lists: split on 、, the last piece split at its last 和/与/及/以及/或 (A、B和C; A和B)."""
    parts = clause.split("、")
    joins = list(LAST_JOIN.finditer(parts[-1]))
    if joins:
        last = joins[-1]
        parts[-1:] = [parts[-1][:last.start()], parts[-1][last.end():]]
    parts = [p.strip() for p in parts]
    return parts if all(parts) else []


def _shared_suffix(pieces: list[str]) -> int:
    n = 0
    while all(len(p) > n + 1 for p in pieces) and len({p[-1 - n] for p in pieces}) == 1:
        n += 1
    return n


def word_keys(pieces: list[str]) -> tuple[str, ...] | None:
    """Each piece's name: its last jieba word once the suffix every piece shares is cut off, with that suffix (空军 and
    陆军 of `空军和陆军`; 广告业务 of `…影像与设计产品业务、美业解决方案业务和广告业务`); None where a name is one character or
    stands in another piece too."""
    import jieba  # loaded on first use (~0.5 s; the answer path has loaded it already)

    cut = _shared_suffix(pieces)
    keys = []
    for piece in pieces:
        words = [w for w in jieba.lcut(piece[:len(piece) - cut] if cut else piece) if w.strip()]
        if not words:
            return None
        keys.append(words[-1] + (piece[len(piece) - cut:] if cut else ""))
    if min(map(len, keys)) < MIN_KEY_CHARS:
        return None
    # each name stands in its own piece only: 技术 of 机器人技术 is in 加密技术的发展奠下了基础 too
    alone = all(sum(key in piece for piece in pieces) == 1 for key in keys)
    return tuple(keys) if alone else None


def value_keys(values: list[str]) -> tuple[frozenset[str], ...] | None:
    """Each value's numbers where every value writes numbers and no two write the same; else its word key."""
    numbers = [frozenset(DECIMAL.findall(v)) for v in values]
    if all(numbers) and all(not (a & b) for i, a in enumerate(numbers) for b in numbers[i + 1:]):
        return tuple(numbers)
    words = word_keys(values)
    return tuple(frozenset({w}) for w in words) if words else None


def slots(sentence: str, before: str = "") -> Slots | None:
    """The items and values `sentence` pairs with 分别/依次 (`before`: the sentence preceding it, where the items may
    stand), or None where it has no marker, its values list fewer than two pieces, or no clause before lists as many."""
    marker = MARKER.search(sentence)
    if not marker:
        return None
    after = sentence[marker.end():]
    end = CLAUSE_END.search(after)
    values = listed(after[:end.start()] if end else after)
    if len(values) < MIN_PIECES:
        return None
    clauses = CLAUSE_END.split(sentence[:marker.start()])[::-1] + CLAUSE_END.split(before)[::-1]
    for clause in clauses:
        items = listed(clause)
        if len(items) == len(values):
            return Slots(tuple(items), tuple(values), word_keys(items), value_keys(values))
    return None


def which(text: str, keys: tuple[str, ...] | tuple[frozenset[str], ...] | None, numbers: bool = False) -> int | None:
    """The one position whose key stands in `text` (for number keys: among the numbers `text` writes); None where no
    key or more than one does."""
    if not keys:
        return None
    written = frozenset(DECIMAL.findall(text)) if numbers else frozenset()

    def stands(key) -> bool:  # noqa: ANN001 - a word, or a set of words or numbers
        if isinstance(key, str):
            return key in text
        return bool(key & written) if numbers else any(k in text for k in key)

    found = [i for i, key in enumerate(keys) if stands(key)]
    return found[0] if len(found) == 1 else None


def names_value(question: str, keys: tuple[frozenset[str], ...], numeric: bool) -> bool:
    """Whether `question` writes one of the values itself: it asks about the list (`…分别是民主进步党还有哪一个政党?`
    over `两个政党…分别是…民主进步党与…中国国民党`), not for the value of an item."""
    written = frozenset(DECIMAL.findall(question)) if numeric else frozenset()
    return any((key & written) if numeric else any(k in question for k in key) for key in keys)


def other_slot(question: str, answer: str, sentence: str, before: str = "") -> Slip | None:
    """The Slip where `sentence` pairs items with values by 分别 and `answer` gives the value of another item than the
    question names (比特币 asked, 以太币's 2210万美元 given); else None. A value named by words is looked for beyond the
    question's own words (support.beyond_text: `李维斯特为机器学习的发展奠下了基础` says 机器学习), one named by numbers
    in the whole answer; all three texts are read in simplified characters."""
    from rag.answering.support import beyond_text  # support imports much; this module stays light

    question, answer = to_simplified(question), to_simplified(answer)
    found = slots(to_simplified(sentence), to_simplified(before))
    if found is None or found.item_keys is None or found.value_keys is None:
        return None
    k = which(question, found.item_keys)
    numeric = all(DECIMAL.fullmatch(x) for key in found.value_keys for x in key)
    # numbers are read in the whole answer (beyond_text drops the point of 13.27); words beyond the question, folded
    # as beyond_text folds them (CIA -> cia)
    said = answer if numeric else beyond_text(answer, question)
    keys = found.value_keys if numeric else tuple(frozenset(k.lower() for k in key) for key in found.value_keys)
    j = which(said, keys, numbers=numeric)
    if k is None or j is None or j == k or names_value(question, found.value_keys, numeric):
        return None
    return Slip(found.item_keys[k], found.item_keys[j], LEADING_VERB.sub("", found.values[k]))
