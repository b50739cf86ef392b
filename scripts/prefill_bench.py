"""Times how fast the installed llama.cpp build reads a prompt and writes tokens (README, round 10).

    .venv/bin/python scripts/prefill_bench.py [--tokens 320] [--batches 32 512] [--repeats 3]

Reads the first `--tokens` tokens of the bundled article with the bundled model (n_threads = the cores), at
each `n_batch`, `--repeats` times, then writes 40 tokens after a 100-token prefix already in the cache.
Compare two builds by running it under each (e.g. PYTHONPATH=<a folder holding another llama_cpp>), back to
back on a quiet machine: only the ratio between builds is meaningful on a shared one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from rag.config import BUNDLED_CORPUS, Config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=320)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 512])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--text", type=Path, default=BUNDLED_CORPUS)
    args = ap.parse_args(argv)
    try:
        import llama_cpp
    except ImportError:
        raise SystemExit("llama-cpp-python is not installed; run `make llm-model`") from None
    model = Path(Config().llm_model_path)
    if not model.is_file():
        raise SystemExit(f"{model} is missing; run `make llm-model`")
    if not args.text.is_file():
        raise SystemExit(f"--text {args.text}: no such file; give a UTF-8 text file")
    threads = len(os.sched_getaffinity(0))
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    print(f"llama_cpp from {llama_cpp.__file__}; AVX512 in use: {'AVX512 = 1' in info}; threads {threads}",
          file=sys.stderr)
    text = args.text.read_text(encoding="utf-8")
    for n_batch in args.batches:
        llm = llama_cpp.Llama(model_path=str(model), n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                              n_batch=n_batch, use_mmap=False, verbose=False)
        tokens = llm.tokenize(text.encode("utf-8"))[:args.tokens]
        rates = []
        for _ in range(args.repeats):
            llm.reset()
            start = time.perf_counter()
            llm.eval(tokens)
            rates.append(len(tokens) / (time.perf_counter() - start))
        start, written = time.perf_counter(), 0
        for _ in llm.generate(tokens[:100], temp=0.0, reset=True):  # the 100-token prefix is cached: decoding only
            written += 1
            if written == 40:
                break
        print(json.dumps({"n_batch": n_batch, "prompt_tokens": len(tokens),
                          "prefill_tokens_per_s": [round(r, 1) for r in rates],
                          "decode_tokens_per_s": round(written / (time.perf_counter() - start), 1)}))
        llm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
