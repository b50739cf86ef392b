"""Checks, once after `make llm-model` installs llama-cpp-python, that the build can run the model on this CPU.

A llama.cpp build compiled for one CPU can crash the whole process on another, or even on the CPU it was compiled on:
a virtual machine may list instructions (AMX) that its host does not let a program use, and the first matrix product
then dies with a segmentation fault, which no Python code can catch. So the model is loaded and asked for a few tokens
in a child process, and a crash there is told to a person with the build it came from and the fix, before `make run`
or `make test` meets it. Takes a few seconds (the model's load and a short prompt).

    python -m rag.llama_check models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf [--build native]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

TOKENS = 4
# run in the child: load the model and generate a few tokens on two threads
PROBE = """
import sys
import llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=2, verbose=False)
out = llm.create_completion("1+1=", max_tokens={tokens}, temperature=0.0)
print(repr(out["choices"][0]["text"]))
"""


def probe(model: Path, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """The probe's run in a child Python (this interpreter), its output captured."""
    return subprocess.run([sys.executable, "-c", PROBE.format(tokens=TOKENS), str(model)], capture_output=True,
                          text=True, timeout=timeout)


def verdict(run: subprocess.CompletedProcess[str], build: str) -> str:
    """"" where the probe generated; otherwise what went wrong, for a person, with the fix."""
    if run.returncode == 0:
        return ""
    if run.returncode < 0:
        try:
            what = f"was killed by {signal.Signals(-run.returncode).name}"
        except ValueError:
            what = f"was killed by signal {-run.returncode}"
    else:
        last = (run.stderr.strip().splitlines() or ["no message"])[-1]
        what = f"failed (exit status {run.returncode}: {last})"
    fix = ("rebuild it for any x86-64-v3 CPU: make llm-model LLAMA_CPU=portable" if build == "native" else
           "the build is the portable one already; check that this CPU has AVX2, FMA and F16C "
           "(grep -o 'avx2\\|fma\\|f16c' /proc/cpuinfo | sort -u)")
    return f"the llama.cpp build ({build or 'unknown'}) {what} while running the model on this CPU; {fix}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check that the installed llama.cpp build runs the model here.")
    parser.add_argument("model", type=Path, help="the GGUF file")
    parser.add_argument("--build", default="", help="the build's name (native or portable), for the message")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"error: {args.model} does not exist; build it with: make llm-model", file=sys.stderr)
        return 2
    try:
        run = probe(args.model)
    except subprocess.TimeoutExpired:
        print(f"error: the llama.cpp build ({args.build or 'unknown'}) did not generate {TOKENS} tokens in 300 s on "
              "this CPU; is the machine overloaded?", file=sys.stderr)
        return 2
    problem = verdict(run, args.build)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    print(f"llama.cpp build ({args.build or 'unknown'}) runs the model on this CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
