"""The answer-side checks that only refuse the model's own answer (README steps 82, 83 and 84), read on every gold
answer of a SQuAD-format set, as if the model had answered with the gold alone: a gold answer a check would withhold is
a right answer it can lose. Step 24 is the same answer-type check read on the extractive answer: the gold's sentence.
No model call; seconds for a whole set (round 53: step 84's first definition would have withheld 24 gold answers of
DRCD and CMRC dev, which the fitting pool had not shown).

    python scripts/gold_scan.py ../shared/datasets/drcd_dev.json --t2s
    python scripts/gold_scan.py ../shared/datasets/cmrc2018_dev.json --show 20

- step 24: `question.missing_answer_type(question, the gold's sentence)` (what the extractive answer shows);
- step 82: `question.missing_answer_type(question, gold)`;
- step 83: `rival.rival_subject(question, the gold's sentence, its paragraph)` (the sentence the gold stands in as the
  support, the paragraph as what the model read);
- step 84: `question.only_value_for_name(question, gold)`;
- step 89: `contrast.contrast_swap(question, the gold's sentence)` (read on both answerers' sentences);
- step 91: `respectively.other_slot(question, gold, the gold's sentence, the sentence before it)` (the model's answer
  given the value a 分别 sentence pairs with another item).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering.contrast import contrast_swap  # noqa: E402
from rag.answering.question import missing_answer_type, only_value_for_name  # noqa: E402
from rag.answering.respectively import other_slot  # noqa: E402
from rag.answering.rival import rival_subject  # noqa: E402
from rag.script import to_simplified  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
STEPS = ("24", "82", "83", "84", "89", "91")


def sentence_at(context: str, start: int) -> str:
    """The sentence of `context` holding character `start` ("" when none does)."""
    return sentences_at(context, start)[1]


def sentences_at(context: str, start: int) -> tuple[str, str]:
    """(the sentence before, the sentence) of `context` holding character `start` ("" for either where there is none)."""
    pos, before = 0, ""
    for sentence in SENTENCE_END.split(context):
        if pos <= start < pos + len(sentence):
            return before, sentence
        pos += len(sentence)
        before = sentence
    return "", ""


def scan(data: dict, convert: Callable[[str], str] = lambda t: t) -> tuple[int, dict[str, list[tuple[str, str, str]]]]:
    """(questions read, {step: [(question, gold, what the check says)]}) over a SQuAD-format set's first gold answers."""
    n, fires = 0, {step: [] for step in STEPS}
    for article in data.get("data", []):
        for paragraph in article.get("paragraphs", []):
            context = convert(paragraph["context"])
            for qa in paragraph.get("qas", []):
                if not qa.get("answers"):
                    continue
                question, answer = convert(qa["question"]), qa["answers"][0]
                gold = convert(answer["text"])
                n += 1
                if missing := missing_answer_type(question, gold):
                    fires["82"].append((question, gold, missing))
                before, sentence = sentences_at(context, answer.get("answer_start", -1))
                if sentence and gold in sentence:  # steps 24 and 83 read the sentence the gold stands in
                    if missing := missing_answer_type(question, sentence):
                        fires["24"].append((question, sentence, missing))
                    if rival := rival_subject(question, sentence, context, gold):
                        fires["83"].append((question, gold, "/".join(rival)))
                    if swap := contrast_swap(question, sentence):
                        fires["89"].append((question, sentence, "/".join(swap)))
                    if slip := other_slot(question, gold, sentence, before):
                        fires["91"].append((question, gold, f"{slip.asked}/{slip.given}"))
                if asked := only_value_for_name(question, gold):
                    fires["84"].append((question, gold, asked))
    return n, fires


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", type=Path, help="a SQuAD-format JSON file")
    ap.add_argument("--t2s", action="store_true", help="convert traditional to simplified Chinese first (DRCD)")
    ap.add_argument("--show", type=int, default=10, help="rows shown per step (default 10)")
    args = ap.parse_args(argv)
    try:
        data = json.loads(args.dataset.read_text(encoding="utf-8"))
        n, fires = scan(data, to_simplified if args.t2s else lambda t: t)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"error: {args.dataset} is not a readable SQuAD-format JSON file ({exc}).", file=sys.stderr)
        return 2
    for step in STEPS:
        print(f"step {step}: {len(fires[step])} of {n} gold answers would be withheld")
        for question, gold, why in fires[step][:args.show]:
            print(f"  {question[:50]} | {gold[:30]} | {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
