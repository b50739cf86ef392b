"""Where an evaluation run loses its answerable questions: the search, the excerpts, the model's reading, the decision
after it, or the metric (README, step 37). No model call: it reads `rag eval`'s results.jsonl and the reply file the
run kept its replies in (RAG_LLM_REPLY_FILE), whose prompts hold the excerpts the model read.

    python scripts/loss_budget.py eval/out/X REPLY_FILE [--limit 300] [--show excerpts]

Each answerable question with gold answers (factoid and open kinds) falls in the first of these that holds:
right (fair_match), near (near_match credits it; the metric's strictness), search (no gold in the top hits' text),
extractive (no model reply for it: the extractive route, e.g. English over Chinese), excerpts (the gold is in a hit but
not in what the model read), misread (the gold is in the excerpts but the reply holds neither fair nor near), decision
(the reply was right and the shown answer is not: refused, or replaced by the extractive answer). Each is split by
whether the shown answer was a refusal. The gold counts as present where its normalized text is a substring
(normalize_answer); a long clause-like gold split across sentences counts as absent, so "excerpts" is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering.text import strip_markers  # noqa: E402
from rag.evaluation.metrics import fair_match, near_match, normalize_answer  # noqa: E402

QUESTION_LINE = re.compile(r"^问题 / Question: (.*)$", re.M)
EXCERPT_LINE = re.compile(r"^\[\d+\] \(.*?\) (.*)$", re.M)
ORDER = ("right", "near", "search", "extractive", "excerpts", "misread", "decision")


def reply_text(entry: dict) -> str | None:
    """The reply a reply-file entry holds (the bundled model's pieces, or a text), None when it holds none."""
    if "pieces" in entry:
        return "".join(entry["pieces"])
    return entry.get("text")


def prompts(path: Path) -> dict[str, list[tuple[list[str], str]]]:
    """Question -> [(the excerpts' texts, the reply)] of every answer prompt in a reply file, in file order."""
    out: dict[str, list[tuple[list[str], str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        reply = reply_text(entry)
        key = json.loads(entry.get("key", "null"))
        messages = key[0] if isinstance(key, list) and key and isinstance(key[0], list) else key
        if reply is None or not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
            continue
        user = str(messages[-1].get("content", ""))
        asked = QUESTION_LINE.search(user)
        if not asked or "</excerpts>" not in user:
            continue
        excerpts = EXCERPT_LINE.findall(user.split("</excerpts>")[0])
        out.setdefault(asked.group(1).strip(), []).append((excerpts, reply))
    return out


def holds(text: str, golds: list[str]) -> bool:
    have = normalize_answer(text)
    return any((g := normalize_answer(gold)) and g in have for gold in golds)


def the_prompt(candidates: list[tuple[list[str], str]], hits: str) -> tuple[list[str], str] | None:
    """The prompt this run made among a question's prompts in the file: the last whose every excerpt is text of the
    run's hits (an excerpt is a slice of a hit; other runs' prompts, with other code, may show other slices)."""
    flat = "".join(hits.split())
    mine = [c for c in candidates if c[0] and all("".join(e.split()) in flat for e in c[0])]
    return mine[-1] if mine else None


def category(row: dict, found: dict[str, list[tuple[list[str], str]]], k: int) -> str:
    golds = [g for g in row.get("answers") or [] if normalize_answer(g)]
    answer, refused, question = row.get("answer") or "", bool(row.get("refused")), row["question"]
    if not refused and fair_match(answer, golds):
        return "right"
    if not refused and near_match(answer, golds, question):
        return "near"
    hits = "\n".join(h.get("text", "") for h in (row.get("hits") or [])[:k])
    if not holds(hits, golds):
        return "search"
    prompt = the_prompt(found.get(question.strip(), []), hits)
    if prompt is None:
        return "extractive"
    excerpts, reply = prompt
    if not holds(" ".join(excerpts), golds):
        return "excerpts"
    said = strip_markers(reply)
    if not (fair_match(said, golds) or near_match(said, golds, question)):
        return "misread"
    return "decision"


def budget(rows: list[dict], found: dict[str, list[tuple[list[str], str]]], k: int = 5) -> Counter:
    """(category, "refused" | "answered") -> count over the answerable factoid and open rows with gold answers."""
    counts: Counter = Counter()
    for row in rows:
        if not row.get("answerable") or row.get("kind") not in ("factoid", "open"):
            continue
        if not any(normalize_answer(g) for g in row.get("answers") or []):
            continue
        counts[(category(row, found, k), "refused" if row.get("refused") else "answered")] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a rag eval --out folder (its results.jsonl)")
    ap.add_argument("replies", type=Path, help="the reply file the run kept its replies in (RAG_LLM_REPLY_FILE)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions of the run")
    ap.add_argument("--top", type=int, default=5, help="hits the search counts (the run's k; default 5)")
    ap.add_argument("--show", choices=ORDER, default=None, help="also list the questions of one category")
    args = ap.parse_args(argv)
    results = args.run / "results.jsonl"
    for path in (results, args.replies):
        if not path.is_file():
            raise SystemExit(f"no such file: {path} (give a rag eval --out folder and the run's RAG_LLM_REPLY_FILE)")
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()][: args.limit]
    found = prompts(args.replies)
    counts = budget(rows, found, args.top)
    total = sum(counts.values())
    print(f"{args.run}: {total} answerable factoid and open questions with gold answers")
    for name in ORDER:
        for shown in ("answered", "refused"):
            if counts[(name, shown)]:
                print(f"  {name:10s} {shown:8s} {counts[(name, shown)]:4d}  {100 * counts[(name, shown)] / total:5.1f}%")
    if args.show:
        for row in rows:
            if row.get("answerable") and row.get("kind") in ("factoid", "open") and \
                    any(normalize_answer(g) for g in row.get("answers") or []) and category(row, found, args.top) == args.show:
                print(f"- {row['id']} {row['question']} | gold {row['answers'][0][:40]} | {row.get('answer', '')[:80]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
