"""The Makefile's choice of llama.cpp build (README step 63): native where the CPU has AVX-512, portable elsewhere,
a choice given on the command line kept in the venv, `auto` forgetting it, a bad value named with its fix.
Read through `make -n` (nothing is built), with a made-up /proc/cpuinfo and venv."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AVX512 = "flags\t\t: fpu sse sse2 ssse3 avx avx2 fma f16c bmi1 bmi2 avx512f avx512bw avx512vl\n"
AVX2 = "flags\t\t: fpu sse sse2 ssse3 avx avx2 fma f16c bmi1 bmi2\n"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
# what the child make must not inherit from a `make test LLAMA_CPU=…` or an exported variable
INHERITED = {"LLAMA_CPU", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "CPUINFO", "VENV"}


def dry_run(tmp_path: Path, flags: str, *args: str, environ: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """`make -n llm-model` on a CPU with `flags` and the venv tmp_path/venv, `environ` added to a clean environment."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\n" + flags)
    venv = tmp_path / "venv"
    venv.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in INHERITED} | (environ or {})
    return subprocess.run(["make", "-n", "-C", str(ROOT), "llm-model", f"CPUINFO={cpuinfo}", f"VENV={venv}", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def recorded(tmp_path: Path, name: str, build: str) -> None:
    """The venv's record `name` (.llama-cpu-chosen, or .llama-cpu before step 63) saying `build`."""
    (tmp_path / "venv").mkdir(exist_ok=True)
    (tmp_path / "venv" / name).write_text(build + "\n")


def build_of(run: subprocess.CompletedProcess[str]) -> str:
    """Which wheel folder the dry run installs from: "native" or "portable"."""
    assert run.returncode == 0, run.stderr
    installs = [line for line in run.stdout.splitlines() if "pip install -q --no-deps --force-reinstall" in line]
    assert len(installs) == 1, run.stdout
    return "native" if "-native-" in installs[0] else "portable"


def test_avx512_cpu_gets_the_native_build_by_default(tmp_path: Path) -> None:
    run = dry_run(tmp_path, AVX512)
    assert build_of(run) == "native"
    assert ".llama-cpu-chosen" not in run.stdout  # nothing chosen, nothing kept


def test_cpu_without_avx512_gets_the_portable_build(tmp_path: Path) -> None:
    assert build_of(dry_run(tmp_path, AVX2)) == "portable"


def test_a_choice_on_the_command_line_is_kept(tmp_path: Path) -> None:
    run = dry_run(tmp_path, AVX512, "LLAMA_CPU=portable")
    assert build_of(run) == "portable"
    assert f"echo portable > {tmp_path / 'venv'}/.llama-cpu-chosen" in run.stdout


def test_a_kept_choice_wins_over_the_cpu_default(tmp_path: Path) -> None:
    recorded(tmp_path, ".llama-cpu-chosen", "portable")
    assert build_of(dry_run(tmp_path, AVX512)) == "portable"


@pytest.mark.parametrize(("record", "build", "flags", "default"), [
    (".llama-cpu-chosen", "portable", AVX512, "native"),  # a choice kept since step 63
    (".llama-cpu", "native", AVX2, "portable"),  # a choice recorded before step 63
])
def test_auto_forgets_a_kept_choice(tmp_path: Path, record: str, build: str, flags: str, default: str) -> None:
    recorded(tmp_path, record, build)
    run = dry_run(tmp_path, flags, "LLAMA_CPU=auto")
    assert build_of(run) == default
    assert f"rm -f {tmp_path / 'venv'}/.llama-cpu-chosen {tmp_path / 'venv'}/.llama-cpu" in run.stdout


def test_a_choice_in_the_environment_is_kept_too(tmp_path: Path) -> None:
    run = dry_run(tmp_path, AVX512, environ={"LLAMA_CPU": "portable"})
    assert build_of(run) == "portable"
    assert f"echo portable > {tmp_path / 'venv'}/.llama-cpu-chosen" in run.stdout


def test_a_venv_that_chose_native_before_step_63_keeps_it(tmp_path: Path) -> None:
    """Before step 63 .venv/.llama-cpu recorded the build, and native was only ever chosen (portable the default)."""
    recorded(tmp_path, ".llama-cpu", "native")
    run = dry_run(tmp_path, AVX2)
    assert build_of(run) == "native"
    assert f"echo native > {tmp_path / 'venv'}/.llama-cpu-chosen" in run.stdout
    recorded(tmp_path, ".llama-cpu", "portable")  # the old default: the CPU's default now
    assert build_of(dry_run(tmp_path, AVX512)) == "native"


def test_a_wrong_build_is_named_with_the_choices(tmp_path: Path) -> None:
    run = dry_run(tmp_path, AVX2, "LLAMA_CPU=fast")
    assert run.returncode != 0
    assert ("LLAMA_CPU=fast is not a build; use LLAMA_CPU=native, LLAMA_CPU=portable or LLAMA_CPU=auto "
            "(this CPU's default: portable)") in run.stderr


def test_the_native_build_leaves_amx_out_and_every_build_is_checked(tmp_path: Path) -> None:
    """Round 45: a machine listing AMX crashed the native build in ggml's AMX kernel. The native build is compiled
    without AMX into a folder of its own (a wheel built before is never reused), and after the model is joined the
    build is run once (rag.llama_check) whichever build it is."""
    amx = AVX512.rstrip("\n") + " amx_tile amx_int8 amx_bf16\n"
    run = dry_run(tmp_path, amx)
    assert build_of(run) == "native"
    assert ("CMAKE_ARGS=\"-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16' "
            "-DCMAKE_CXX_FLAGS='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'") in run.stdout
    assert ".wheels/llama-cpp-0.3.36-native-noamx-" in run.stdout
    assert "-m rag.llama_check models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --build native" in run.stdout
    portable = dry_run(tmp_path, AVX2)
    assert "-DGGML_NATIVE=OFF" in portable.stdout and "amx" not in portable.stdout
    assert "-m rag.llama_check models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --build portable" in portable.stdout
