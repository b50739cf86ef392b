"""How long the bundled model stays busy after Stop (issue 16: "Stop frees the model within 1 s").

Loads the bundled GGUF, sends a ~400-token prompt ten times (a different one each time, so nothing is
cached), presses Stop 0.5-3.5 s after each start (mostly while the prompt is still being read, the longest
part of an answer here) and prints how long `generate` took to return after Stop: that is when the model is
free for the next person. Run it alone on a quiet machine:

    .venv/bin/python scripts/stop_latency.py
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering.bundled import LlamaCppGenerator  # noqa: E402
from rag.answering.generation import Control  # noqa: E402
from rag.config import Config  # noqa: E402

STOP_AT_S = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 0.7, 1.3, 2.2)
QUESTION = "请逐条说明美图公司的影像产品、设计产品和视频产品各有哪些功能，以及它们的收入。"


def main() -> int:
    path = Path(Config().llm_model_path)
    generator = LlamaCppGenerator(path, "qwen", reply_cache=0)
    why = generator.available()
    if why:
        print(why, file=sys.stderr)
        return 1
    generator.load()
    after_stop: list[float] = []
    for i, at in enumerate(STOP_AT_S):
        control = Control()
        pressed: list[float] = []
        messages = [{"role": "system", "content": "你是助手。"},
                    {"role": "user", "content": f"第{i}题。" + QUESTION * 8}]
        timer = threading.Timer(at, lambda c=control, p=pressed: (p.append(time.monotonic()), c.stop.set()))
        start = time.monotonic()
        timer.start()
        out = generator.generate(messages, 200, control)
        end = time.monotonic()
        timer.join()
        if not pressed or not out.stopped:
            print(f"stop at {at:.1f} s: the answer ended first ({end - start:.2f} s), not counted")
            continue
        after_stop.append(end - pressed[0])
        print(f"stop at {at:.1f} s: free {after_stop[-1]:.2f} s after Stop ({out.tokens} tokens written)")
    if after_stop:
        print(f"free after Stop: median {statistics.median(after_stop):.2f} s, max {max(after_stop):.2f} s "
              f"over {len(after_stop)} stops")
    generator.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
