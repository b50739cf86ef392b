"""Word tokens for BM25 and lexical overlap: jieba for Chinese, lower-cased words for Latin script."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import jieba
import jieba.posseg

jieba.setLogLevel(logging.WARNING)

# Function words and question words: they carry no topic, and in a question they would otherwise
# reward any sentence that shares "的" or "多少" with it.
STOPWORDS = frozenset("""
的 了 是 在 和 与 及 或 也 都 就 而 又 被 把 对 从 向 为 以 于 之 其 这 那 这个 那个 这些 那些 一个 有 没有 还 将
吗 呢 吧 啊 呀 么 什么 多少 几 哪 哪里 哪儿 哪个 哪些 哪一 哪一年 哪年 谁 怎么 怎样 如何 为什么 是否 是不是
何时 什么时候 多久 多大 请问 告诉 我 你 他 她 它 我们 你们 他们 她们 它们 年 月 日 个 家 位 等 中 上 下
说 表示 了解 文章 文中 提到 根据
a an the of in on at to for from by with about and or is are was were be been did do does what which who
whom whose when where why how much many that this these those it its his her their he she they there
according article mentioned say said tell me please
""".split())

# The CJK characters, as a regex class body: CJK Unified Ideographs and Extension A. The one definition
# (rag/answering/text.py re-exports it): words are split by script here, and answering counts scripts by it.
CJK_FIRST, CJK_LAST = "\u3400", "\u9fff"
CJK = f"{CJK_FIRST}-{CJK_LAST}"
TOKEN_RE = re.compile(rf"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?%?|[{CJK}]+")


def is_cjk(char: str) -> bool:
    return CJK_FIRST <= char <= CJK_LAST


@lru_cache(maxsize=1)
def _ready() -> bool:
    jieba.initialize()
    return True


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    """Search-mode jieba words (so 美图秀秀 also yields 美图, 秀秀) plus Latin words and numbers.

    Text is NFKC-normalized and lower-cased first, so full-width Ｗｉｎｋ and Wink match.
    """
    _ready()
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for piece in TOKEN_RE.findall(text):
        if is_cjk(piece[0]):
            tokens.extend(w for w in jieba.cut_for_search(piece) if w.strip())
        else:
            tokens.append(piece)
    if keep_stopwords:
        return tokens
    return [t for t in tokens if t not in STOPWORDS]


def word_places(text: str) -> list[tuple[str, str, int, int]]:
    """jieba's words of `text` as written (not normalized), each with its part-of-speech flag and place (start, end)."""
    _ready()
    places, at = [], 0
    for pair in jieba.posseg.cut(text):
        places.append((pair.word, pair.flag, at, at + len(pair.word)))
        at += len(pair.word)
    return places


@lru_cache(maxsize=1 << 16)
def token_set(text: str) -> frozenset[str]:
    """The distinct tokens of text, cached: answering looks at the same indexed sentences again and again."""
    return frozenset(tokenize(text))
