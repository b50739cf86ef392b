"""Measures a way of answering elliptical follow-ups ("净利润呢？" after "美图2023年的总收入是多少？") that round 16 tried
and did not take (README "How auto was chosen", round 16): ask them whole, as the previous question with the word
the follow-up takes the place of replaced (`standalone` below: a number for a number, else the noun or name whose
replacement the indexed sentences support best by e5 cosine, by at least --margin over the next reading). The
product asks follow-ups as typed (the previous question in front for retrieval, its words counting half).

SQuAD-format sets hold no such follow-ups, so they are made: for each answerable question Q, its longest noun N that
its paragraph holds is swapped for another noun of the same tag from the same paragraph, and that question is asked
first; then the follow-up "N呢？". Asked whole, the follow-up is Q again, whose gold answers score it.

    python scripts/study_followups.py --dataset ../shared/datasets/cmrc2018_dev.json --questions 150 \
        --answerer extractive --out artifacts/followups-cmrc-extractive.jsonl

Each case is asked through the product's own Engine.ask: the earlier question (its answer becomes the conversation's
assistant turn), Q alone (the bound), the follow-up as typed, and the follow-up asked whole where a reading stands
out (else as typed). It prints how often the rewrite is Q exactly, and right answers / refusals each way.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import study_model as sm  # noqa: E402 - the paragraphs and index set-up are study_model.py's

from rag.evaluation.metrics import fair_match  # noqa: E402
from rag.tokenize import CJK, STOPWORDS, is_cjk  # noqa: E402

# What an elliptical follow-up names, then 呢 ("净利润呢？", "那它的净利润呢？"), or "what about X?" / "and X?"
ELLIPTICAL = re.compile(r"^(?:那么?|还有|那如果)?[，,\s]*(?:它的|他的|她的|其)?(?P<zh>[^，,。？?！!]{1,20}?)呢[？?。!！\s]*$|"
                        r"^\s*(?:(?:and|so|then)[\s,]+)?(?:what|how)\s+about\s+(?:the\s+|its\s+|their\s+)?"
                        r"(?P<en>[^?]{1,60}?)\s*\??\s*$|^\s*and\s+(?:the\s+|its\s+|their\s+)?(?P<and>[^?]{1,60}?)\s*\?\s*$", re.I)
ASKING = re.compile(r"什么|哪|谁|多少|几|怎|为何|吗|\b(?:what|which|who|how|when|where|why)\b", re.I)
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def segment(text: str) -> list[tuple[str, str]]:
    """The words of `text` as written (jieba's precise mode), each with its part of speech; stopwords left out."""
    import jieba.posseg

    words: list[tuple[str, str]] = []
    for piece in re.findall(rf"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:\.\d+)?%?|[{CJK}]+", unicodedata.normalize("NFKC", text)):
        pairs = ([(w.word, w.flag) for w in jieba.posseg.cut(piece)] if is_cjk(piece[0])
                 else [(piece, "m" if piece[0].isdigit() else "eng")])
        words.extend((w, f) for w, f in pairs if w.strip() and w.lower() not in STOPWORDS)
    return words


def elliptical_focus(question: str) -> str:
    """What an elliptical follow-up asks about ("净利润" in "那它的净利润呢？"), or "" when it is not one."""
    m = ELLIPTICAL.match(question.strip())
    focus = next((g for g in m.groups() if g is not None), "").strip() if m else ""
    return "" if not focus or ASKING.search(focus) or not segment(focus) else focus


def standalone(previous: str, focus: str, support: Callable[[Sequence[str]], Sequence[float]], margin: float) -> str:
    """The previous question asked of `focus`: a number replaces its number; else the noun or name whose
    replacement `support` scores best, by `margin` over the next. "" when none stands out."""
    words = [(w, f) for w, f in dict.fromkeys(segment(previous)) if w not in focus and focus not in w]
    number = NUMBER.search(focus)
    if number:
        numbers = [w for w, _ in words if NUMBER.fullmatch(w)]
        return previous.replace(numbers[0], number.group(), 1) if numbers else ""
    asked = [previous.replace(w, focus, 1) for w, f in words if (f[:1] == "n" or f == "eng") and not NUMBER.search(w)]
    if not asked:
        return ""
    scores = list(support(asked))
    ranked = sorted(range(len(asked)), key=lambda i: -scores[i])
    if len(ranked) > 1 and scores[ranked[0]] - scores[ranked[1]] < margin:
        return ""
    return asked[ranked[0]]


def sentence_support(engine: sm.Engine) -> Callable[[Sequence[str]], list[float]]:
    """questions -> the best e5 cosine of an indexed sentence with each."""
    def support(questions: Sequence[str]) -> list[float]:
        vectors = np.asarray(engine.embedder.embed_queries(list(questions)), dtype=np.float32)
        return [float(v) for v in (engine.index.sentence_vectors @ vectors.T).max(axis=0)]
    return support


def followup_case(question: str, context: str, rng: random.Random) -> tuple[str, str] | None:
    """(the earlier question, the follow-up) made from `question`, or None when it has no noun to swap."""
    import jieba.posseg

    own = sorted({(w.word, w.flag) for w in jieba.posseg.cut(question) if w.flag in sm.NOUN_FLAGS and len(w.word) >= 2
                  and w.word in context}, key=lambda w: (-len(w[0]), w[0]))
    if not own:
        return None
    word, flag = own[0]
    others = sorted({w.word for w in jieba.posseg.cut(context) if w.flag == flag and len(w.word) >= 2
                     and w.word not in question and word not in w.word and w.word not in word})
    if not others:
        return None
    return question.replace(word, rng.choice(others), 1), f"{word}呢？"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, required=True, help="a SQuAD-format set")
    ap.add_argument("--t2s", action="store_true", help="convert traditional to simplified Chinese (DRCD)")
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--questions", type=int, default=150)
    ap.add_argument("--answerer", default="extractive")
    ap.add_argument("--margin", type=float, default=0.01,
                    help="how much better the chosen reading must be supported than the next (0: always rewrite)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    args.absent, args.adversarial, args.noun_swaps = 0, 0, 0
    rng = random.Random(0)
    cases, documents = sm.dataset_cases(args, rng)
    contexts = {s: c for s, c, _ in sm.load_paragraphs(args.dataset, args.t2s, args.skip)}
    config = sm.Config(llm_timeout_s=600.0)
    embedder = sm.load_embedder(config, progress=lambda m: print(m, file=sys.stderr))
    engine = sm.Engine(config, Path(tempfile.mkdtemp(prefix="study-index-")), embedder, sm.empty_index(embedder))
    engine.add_documents(documents)
    support = sentence_support(engine)
    counts = {"cases": 0, "rewritten": 0, "rewritten_exactly": 0, "direct": 0, "whole": 0, "as_typed": 0,
              "whole_refused": 0, "as_typed_refused": 0, "direct_refused": 0}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for case in cases:
            made = followup_case(case["question"], contexts.get(case["source"], ""), rng)
            if made is None:
                continue
            earlier, followup = made
            first = engine.ask(earlier, answerer=args.answerer)
            history = [{"role": "user", "content": earlier}, {"role": "assistant", "content": first.text}]
            direct = engine.ask(case["question"], answerer=args.answerer)
            asked = standalone(earlier, elliptical_focus(followup), support, args.margin)
            whole = engine.ask(asked or followup, history=history, answerer=args.answerer)
            typed = engine.ask(followup, history=history, answerer=args.answerer)
            row = {"id": case["id"], "question": case["question"], "earlier": earlier, "followup": followup,
                   "answers": case["answers"], "rewritten": asked}
            for name, answer in (("direct", direct), ("whole", whole), ("as_typed", typed)):
                right = not answer.refused and fair_match(answer.text, case["answers"])
                row[name] = {"text": answer.text, "refused": answer.refused, "right": right, "answerer": answer.answerer}
                counts[name] += right
                counts[f"{name}_refused"] += answer.refused
            counts["cases"] += 1
            counts["rewritten"] += bool(asked)
            counts["rewritten_exactly"] += asked == case["question"]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(f"[{counts['cases']}] {followup} after {earlier[:30]} -> {(asked or 'as typed')[:40]} "
                  f"right: whole {row['whole']['right']}, as typed {row['as_typed']['right']}", file=sys.stderr)
    n = counts["cases"] or 1
    print(json.dumps(counts))
    print(f"{counts['cases']} follow-ups ({args.answerer}): asked whole exactly as the original question "
          f"{100 * counts['rewritten_exactly'] / n:.1f}% (rewritten {100 * counts['rewritten'] / n:.1f}%); right {100 * counts['whole'] / n:.1f}% asked whole, "
          f"{100 * counts['as_typed'] / n:.1f}% as typed, {100 * counts['direct'] / n:.1f}% for the original question "
          f"(refused {100 * counts['whole_refused'] / n:.1f} / {100 * counts['as_typed_refused'] / n:.1f} / "
          f"{100 * counts['direct_refused'] / n:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
