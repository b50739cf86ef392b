"""rag.llama_check: the build check `make llm-model` runs after installing llama-cpp-python (round 45: the native
build died with SIGSEGV in ggml's AMX kernel on a machine that lists AMX). The verdicts by hand, with real child
processes standing in for a crashing and a failing build; the bundled model's own probe under the llm marker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag import llama_check
from rag.config import Config


def child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_build_killed_by_a_signal_is_named_with_the_portable_fix() -> None:
    run = child("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert run.returncode == -11
    assert llama_check.verdict(run, "native") == (
        "the llama.cpp build (native) was killed by SIGSEGV while running the model on this CPU; rebuild it for any "
        "x86-64-v3 CPU: make llm-model LLAMA_CPU=portable")


def test_a_failing_portable_build_names_its_last_error_and_what_to_check() -> None:
    run = child("import sys; print('loading', file=sys.stderr); sys.exit('llama_load_model_from_file: failed')")
    message = llama_check.verdict(run, "portable")
    assert message.startswith("the llama.cpp build (portable) failed (exit status 1: llama_load_model_from_file: "
                              "failed) while running the model on this CPU; the build is the portable one already")
    assert "/proc/cpuinfo" in message


def test_a_probe_that_ran_is_no_problem() -> None:
    assert llama_check.verdict(child("print('ok')"), "native") == ""


def test_a_missing_model_is_named_with_its_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.gguf"
    assert llama_check.main([str(missing), "--build", "native"]) == 2
    assert capsys.readouterr().err == f"error: {missing} does not exist; build it with: make llm-model\n"


@pytest.mark.llm
@pytest.mark.integration
def test_the_installed_build_runs_the_bundled_model(capsys: pytest.CaptureFixture[str]) -> None:
    model = Path(Config().llm_model_path)
    if not model.is_file():
        pytest.fail(f"{model} is missing: the llm tests need the bundled model; run `make llm-model`.")
    run = llama_check.probe(model)
    assert llama_check.verdict(run, "this") == "", run.stderr[-2000:]
    assert run.stdout.strip().startswith("'")  # the generated text's repr
    assert llama_check.main([str(model), "--build", "native"]) == 0
    assert capsys.readouterr().out == "llama.cpp build (native) runs the model on this CPU\n"
