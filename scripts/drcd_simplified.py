"""A DRCD file (traditional Chinese, SQuAD format) in simplified characters, for `rag eval --dataset` (round 50): the
paragraphs from --skip on (the first 400 of DRCD dev fitted the extractive answerer), until --questions questions are
taken, each article's title kept (it names the paragraph's source, `title#k`, in the evaluation's index).

    python scripts/drcd_simplified.py ../shared/datasets/drcd_dev.json --skip 400 --questions 300 --out /tmp/drcd.json
    rag eval --dataset /tmp/drcd.json --limit 300 --absent 0.5 --answerer auto,extractive --out eval/out/drcd-abs
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path


def simplified(data: dict, skip: int, questions: int, convert: Callable[[str], str]) -> dict:
    """The articles of `data` holding paragraphs skip, skip+1, … (in file order), converted, until `questions`
    questions are in; answer_start is kept (t2s maps one character to one)."""
    out: dict = {"version": f"{data.get('version', 'drcd')}-t2s-skip{skip}", "data": []}
    taken = seen = 0
    for article in data.get("data", []):
        for paragraph in article.get("paragraphs", []):
            seen += 1
            if seen <= skip or taken >= questions:
                continue
            qas = [{"id": q["id"], "question": convert(q["question"]),
                    "answers": [{"text": convert(a["text"]), "answer_start": a["answer_start"]} for a in q["answers"]]}
                   for q in paragraph.get("qas", [])]
            out["data"].append({"title": convert(article.get("title", "doc")),
                                "paragraphs": [{"context": convert(paragraph["context"]), "qas": qas}]})
            taken += len(qas)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--skip", type=int, default=400, help="paragraphs to pass over first (default 400)")
    ap.add_argument("--questions", type=int, default=300, help="questions to take (whole paragraphs; default 300)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        data = json.loads(args.dataset.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ValueError('no "data" list of articles')
        from rag.script import to_simplified

        out = simplified(data, args.skip, args.questions, to_simplified)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"error: {args.dataset} is not a readable SQuAD-format JSON file ({exc}).", file=sys.stderr)
        return 2
    n = sum(len(p["qas"]) for a in out["data"] for p in a["paragraphs"])
    try:
        args.out.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {args.out} ({exc}); give --out a path in a folder that exists.", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(out['data'])} paragraphs, {n} questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
