"""A question typed in traditional Chinese characters, read in the script the documents are written in (README step 88).

Every rule of the answer path reads simplified Chinese: jieba's dictionary, the question's interrogatives (几, 什么,
谁), the anchors a passage must hold, the words a supporting sentence is checked against. A user in Hong Kong or Taiwan
who types `美圖去年的淨利潤是多少？` over the bundled (simplified) article gets none of them: on DRCD dev's s400 slice,
traditional questions over the same paragraphs in simplified characters were answered right 46.7% of the time by the
extractive answerer, against 79.3% for the same questions in simplified characters (round 54).

Pure: a question's character is read in its simplified form (opencc's t2s) unless the documents write it as the
question does, beside a neighbour of it there. A name the documents keep in traditional characters (黄霑 in CMRC's
simplified paragraphs) stays as typed, and over documents written in traditional characters (a tenth or more of their
distinct Chinese characters are traditional forms) the whole question does (step 90).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _t2s():  # noqa: ANN202 - opencc's converter; loaded on first use (~0.1 s)
    import opencc

    return opencc.OpenCC("t2s")


# The share of the documents' distinct Chinese characters that t2s changes at and above which they are written in
# traditional characters (README step 90). On the fitting corpora: DRCD dev s400's 300 questions' paragraphs 37.5% as
# written, 0.05% converted to simplified; the article 0.0%. Set between the two groups, far from both; held out, DRCD
# test's first 300 questions' paragraphs read 36.7%, CMRC dev's whole corpus 0.10%.
TRADITIONAL_AT = 0.10


def traditional_share(characters: frozenset[str]) -> float:
    """The share of `characters`' Chinese characters (CJK unified ideographs) that t2s changes, read one by one."""
    han = [c for c in characters if "\u4e00" <= c <= "\u9fff"]
    return sum(to_simplified(c) != c for c in han) / len(han) if han else 0.0


def to_simplified(text: str) -> str:
    """`text` in simplified characters (opencc's t2s, phrase-aware), as the scripts read DRCD."""
    return _t2s().convert(text)


def fold_to_documents(text: str, documents: frozenset[str], writes: Callable[[str], bool] = lambda s: False,
                      traditional: bool = False) -> str:
    """`text` with each traditional character in its simplified form, unless the documents write it as typed: the
    character is among `documents` (their characters) and, with a neighbour of it in `text`, stands in them
    (`writes`: whether the documents hold a string). 黄霑 stays where the documents write 黄霑; 於 of 於何时 is read
    于 though a large corpus writes 於 somewhere (a name). The question's interrogatives are read so too (誰, 幾 → 谁,
    几), though the documents need not write them. `text` itself when nothing changes. opencc reads phrases (乾隆 stays,
    乾燥 becomes 干燥), so the conversion is made on the whole text; where it changes the length (rare), the whole
    conversion is taken if no changed character is written in the documents, else nothing. README step 90: over
    documents written in traditional characters (`traditional`: `Index.traditional`, read by `traditional_share`),
    `text` is read as typed: folding a few of its characters left it in mixed script, which matched them worse."""
    if traditional:  # README step 90: documents written in traditional characters read the question as typed
        return text
    simplified = to_simplified(text)
    if simplified == text:
        return text
    if len(simplified) != len(text):
        foreign = all(c not in documents for c in set(text) - set(simplified))
        return simplified if foreign else text

    def kept(i: int) -> bool:
        return text[i] in documents and any(writes(pair) for pair in (text[max(i - 1, 0):i + 1], text[i:i + 2])
                                            if len(pair) == 2)

    return "".join(s if t != s and not kept(i) else t for i, (t, s) in enumerate(zip(text, simplified, strict=True)))
