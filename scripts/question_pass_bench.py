"""Times reading the question's log-probabilities (README steps 38 and 42) on the exact prompts a run sent, by the
kind of answer each prompt asked for, and checks that the two ways of reading them agree.

    .venv/bin/python scripts/question_pass_bench.py eval/replies/fresh-r31-article-test.jsonl [--limit 12]

Each kept reply's key holds the messages and the token budget of one request (64: a factoid, 160: an open or
entity answer). For up to `--limit` prompts of each budget, the bundled model answers the prompt afresh, its user
turn read anew each time (nothing replayed): once without the question's log-probabilities, once with them read
while the prompt is read (step 42, Control.read_question), and then the question is read again after that answer as
the separate pass of step 38 did (`_question_logprobs`), timed. The table gives the first token's and the answer's time each way, the
pass's time, and the largest difference between the two readings of any question token (and of the question's
surprise, the least expected token: what step 38's cut reads). Figures move with the machine's load: run it alone.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

from rag.config import Config

CUT = -16.0  # routes.json's question_surprise_cut (README step 38)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("replies", type=Path, help="kept replies (RAG_LLM_REPLY_FILE), e.g. eval/replies/fresh-r31-article-test.jsonl")
    ap.add_argument("--limit", type=int, default=12, help="prompts of each token budget (default 12)")
    args = ap.parse_args(argv)
    if not args.replies.is_file():
        raise SystemExit(f"{args.replies}: no such file; give a JSONL file of kept replies (RAG_LLM_REPLY_FILE)")
    if args.limit < 1:
        raise SystemExit(f"--limit {args.limit}: give at least 1")
    model = Path(Config().llm_model_path)
    if not model.is_file():
        raise SystemExit(f"{model} is missing; run `make llm-model`")
    from rag.answering.bundled import LlamaCppGenerator, _question_logprobs
    from rag.answering.confidence import question_surprise
    from rag.answering.generation import Control

    prompts: dict[int, list[list[dict[str, str]]]] = {}
    with args.replies.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                messages, budget = json.loads(json.loads(line)["key"])
            except (ValueError, KeyError, TypeError):
                raise SystemExit(f"{args.replies} line {n} is not a kept reply (no key of [messages, max_tokens])") from None
            if len(prompts.setdefault(budget, [])) < args.limit:
                prompts[budget].append(messages)
    generator = LlamaCppGenerator(model, "bench", timeout_s=600.0, reply_cache=0)
    rows = []
    try:
        llm = generator.load()
        for budget, group in sorted(prompts.items()):
            for i, messages in enumerate(group, 1):
                llm.n_tokens = 0  # each answer reads its user turn afresh (the system message's state is put back)
                plain = generator.generate(messages, budget, Control())
                llm.n_tokens = 0
                read = generator.generate(messages, budget, Control(read_question=True))
                start = time.perf_counter()
                again = _question_logprobs(llm, messages)
                took = time.perf_counter() - start
                diff = max((abs(a[1] - b[1]) for a, b in zip(read.question_logprobs, again, strict=True)),
                           default=math.nan) if len(read.question_logprobs) == len(again) else math.inf
                s1, s2 = question_surprise(read.question_logprobs), question_surprise(again)
                surprise_diff = abs(s1[1] - s2[1]) if s1 and s2 else math.nan
                rows.append((budget, plain.seconds, read.seconds, took, diff, surprise_diff, s2[1] if s2 else math.nan,
                             plain.first_token_s, read.first_token_s))
                print(f"  budget {budget}: {i}/{len(group)} answer {plain.seconds:.2f} s, with the question read "
                      f"{read.seconds:.2f} s, the pass after it {took:.3f} s; readings differ by at most {diff:.3f}",
                      file=sys.stderr, flush=True)
    finally:
        generator.close()
    print("| budget | prompts | first token p50 s | the same, question read with the prompt | answer p50 s | the same, "
          "question read with the prompt | pass after the answer p50 s | pass mean s | largest token difference | "
          "largest surprise difference |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for budget in sorted(prompts):
        mine = [r for r in rows if r[0] == budget]
        print(f"| {budget} | {len(mine)} | {statistics.median(r[7] for r in mine):.2f} | "
              f"{statistics.median(r[8] for r in mine):.2f} | {statistics.median(r[1] for r in mine):.2f} | "
              f"{statistics.median(r[2] for r in mine):.2f} | {statistics.median(r[3] for r in mine):.3f} | "
              f"{statistics.mean(r[3] for r in mine):.3f} | {max(r[4] for r in mine):.3f} | "
              f"{max(r[5] for r in mine):.3f} |")
    near = [r[6] for r in rows if abs(r[6] - CUT) < 1.0]
    print(f"\nsurprises within 1 of step 38's cut ({CUT}): {len(near)} of {len(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
