"""What the pick (README step 20) costs the next Chinese answer: the pick's system message is its own, so reading
it pushes the answer prompt's system message out of llama.cpp's prompt cache. Round 15 measured the next answer
reading it again (first token p50 4.10 s against 2.61 s); since round 16 its kept state is put back
(bundled.SystemStates: 2.65 s against 2.58 s).

    python scripts/bench_pick_cache.py [--index-dir index]

For six article questions: the first token of the answer asked right after another Chinese answer, and of the
same question (a trailing space: a new prompt) asked right after an English question the model picked a sentence
for. Live, the bundled model, replies not kept (llm_reply_cache 0); run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from rag.chat import Engine
from rag.config import Config

CHINESE = ["美图2023年的总收入是多少？", "美图的CEO是谁？", "美图2023年的净利润是多少？", "美图秀秀是什么时候推出的？",
           "美图设计室是做什么的？", "美图炒币亏了多少？"]
ENGLISH = ["How many paying subscribers did Meitu have as of December 31, 2023?",
           "What is the name of Meitu's desktop AI video editing tool?", "How many bitcoins did Meitu buy in March 2021?",
           "Which company received the exclusive license to the Meitu phone brand?",
           "What gross margin range did the CFO give for the imaging and design products?",
           "In 2018 Meitu wanted to build a Chinese version of which social app?"]
BEFORE = ["美图的股价是多少？", "美图有多少员工？"]  # asked first, so the answer prompt's system message is cached


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index-dir", type=Path, default=Path("index"))
    args = ap.parse_args(argv)
    engine = Engine.open(Config(llm_timeout_s=600.0, llm_reply_cache=0), args.index_dir)
    engine.ask("美图是什么公司？", answerer="auto")  # load and warm
    after_chinese, after_pick = [], []
    for i, (question, english) in enumerate(zip(CHINESE, ENGLISH, strict=True)):
        engine.ask(BEFORE[i % 2], answerer="auto")
        after_chinese.append(engine.ask(question, answerer="auto").timings_ms["first_token"])
        picked = "pick" in engine.ask(english, answerer="auto").timings_ms
        after_pick.append(engine.ask(question + " ", answerer="auto").timings_ms["first_token"])
        print(f"{question} first token {after_chinese[-1]:.0f} ms after a Chinese answer, {after_pick[-1]:.0f} ms after "
              f"an English question ({'picked' if picked else 'not picked'})", flush=True)
    print(f"first token p50: {statistics.median(after_chinese):.0f} ms after a Chinese answer, "
          f"{statistics.median(after_pick):.0f} ms after an English question's pick")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
