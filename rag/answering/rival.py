"""A supporting sentence about a rival of what the question asks about (README step 83).

`美图美业解决方案业务的增速是多少？` was answered `52.8%`: the growth of 影像与设计产品业务, stated in the sentence after
the one that lists both businesses. The question writes a noun phrase, modifier + head (解决方案 + 业务); the sentence
the answer stands on writes the same head with another modifier (产品 + 业务) and not the question's modifier, while the
text the model read does write the question's phrase elsewhere. The value then belongs to a sibling of what was asked.

Pure: strings in, the two phrases out. Nothing is fitted; which phrases count was fixed on the fitting pool (DRCD) and
the rule reported held out (docs/choosing-auto.md, step 83).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

from rag.answering.question import wanted_type
from rag.tokenize import STOPWORDS

# jieba.posseg tags: a modifier that can name what is meant (nouns, names, noun-verbs, Latin, abbreviations) ...
MODIFIER_TAGS = ("n", "vn", "eng", "j")
# ... and a head noun that the modifier narrows (nouns, names, noun-verbs)
HEAD_TAGS = ("n", "vn")
# a phrase right after an interrogative (哪个历史时期, 什么样的公司) is the kind of the answer, not its subject
ASKING = ("哪", "什么", "何", "几", "多少")
# tags of a name that pins a phrase written right before it (卢安达总统保罗·卡加梅: the person, not the title)
NAME_TAGS = ("nr", "ns", "nt", "nz", "eng")


@lru_cache(maxsize=4096)
def tagged(text: str) -> tuple[tuple[str, str], ...]:
    """jieba.posseg's words of `text` with their tags, blanks left out (cached: questions and sentences recur)."""
    import jieba.posseg  # loaded on first use: ~0.5 s

    return tuple((w.word, w.flag) for w in jieba.posseg.cut(text) if w.word.strip())


def _phrase_word(word: str, flag: str, tags: tuple[str, ...]) -> bool:
    return flag.startswith(tags) and len(word) >= 2 and word not in STOPWORDS


def noun_phrases(words: tuple[tuple[str, str], ...]) -> list[tuple[int, str, str]]:
    """(position, modifier, head) of each two neighbouring words that read as modifier + head noun."""
    return [(i, a, b) for i, ((a, fa), (b, fb)) in enumerate(pairwise(words))
            if _phrase_word(a, fa, MODIFIER_TAGS) and _phrase_word(b, fb, HEAD_TAGS)]


def rival_subject(question: str, sentence: str, shown: str, answer: str = "") -> tuple[str, str] | None:
    """(the question's phrase, the sentence's rival phrase) where `sentence` names a rival of what the question asks
    about, else None.

    A question phrase counts when its modifier is not in `sentence`, it does not follow an interrogative, it is not a
    title standing before a name the sentence holds, and the phrase itself is written in `shown` (the text the model
    read, the sentence left out): the documents know what was asked. Its rival is the same head in `sentence` after a
    modifier the question does not hold (and neither modifier contains the other). README step 87: where the question
    asks a name (not a time, percentage or number), a rival written in `answer` is the name the answer gives, not a
    rival (德国国营铁路 answering 德国联邦铁路与什么公司合并？)."""
    names = bool(answer) and wanted_type(question) not in ("time", "percent", "number")
    asked = tagged(question)
    elsewhere = shown.replace(sentence, "")
    said = noun_phrases(tagged(sentence))
    for at, modifier, head in noun_phrases(asked):
        if modifier in sentence or modifier + head not in elsewhere:
            continue
        if at > 0 and asked[at - 1][0].startswith(ASKING):
            continue
        if at + 2 < len(asked):
            after, flag = asked[at + 2]
            if flag.startswith(NAME_TAGS) and len(after) >= 2 and after in sentence:
                continue
        for _, other, same in said:
            if same == head and other not in question and modifier not in other and other not in modifier:
                if names and other + same in answer:
                    continue
                return modifier + head, other + same
    return None


def shown_text(excerpts: Sequence[str], scope: str) -> str:
    """What the model read around one supporting sentence: its excerpts' texts, and the sentence's passage with its
    document's lead (`support.document_scope`), one per line. The product and scripts/choose_policy.py (from a study
    row's `excerpts` and `claim_passage`) both build it here."""
    return "\n".join(excerpts) + "\n" + scope
