"""Uploaded files -> the index, all or nothing: staged under storable names, indexed, then kept.

The UI hands over the paths of files a browser uploaded; the names people gave them are what the
index cites, changed only where a file system could not hold them.
"""

from __future__ import annotations

import os
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rag.documents import check_file_size, path_key, read_documents
from rag.errors import InputError

if TYPE_CHECKING:
    from rag.chat import Engine
    from rag.indexer import AddReport

# Characters no common file system (ext4, APFS, NTFS, FAT) accepts in a name, or that make a path.
NOT_STORABLE = set('<>:"/\\|?*')
MAX_NAME_BYTES = 200  # below the usual 255-byte limit, leaving room for a "-2" when two names clash
MAX_SUFFIX_CHARS = 16


def storable_name(name: str, default: str = "upload") -> str:
    """The name a person gave a file, changed only where a file system could not store it.

    Only the last path component is kept ('../../etc/passwd' gives 'passwd'); characters that are not
    allowed in file names and control characters become '_'; leading dots and spaces (hidden files,
    '..') and trailing dots and spaces (dropped by Windows) are removed; a name longer than
    MAX_NAME_BYTES in UTF-8 is shortened before its suffix. Letters of any script, spaces and brackets
    stay: '星火 report (2025).txt' is stored, listed and cited as it is.
    """
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if c in NOT_STORABLE or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                   for c in name)
    name = name.lstrip(". ").rstrip(". ")
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > MAX_SUFFIX_CHARS:
        stem, dot, suffix = name, "", ""
    stem = stem.rstrip(". ") or default
    budget = MAX_NAME_BYTES - len(f"{dot}{suffix}".encode())
    while len(stem.encode()) > budget:
        stem = stem[:-1]
    return f"{stem.rstrip('. ')}{dot}{suffix}"


def add_uploads(engine: Engine, uploads_dir: Path, files: Sequence[str | Path],
                progress: Callable[[str], None] | None = None) -> AddReport:
    """Copy uploaded files into uploads_dir under storable names and index them, all or nothing.

    Files are staged in a private folder inside uploads_dir and indexed from there; only files the
    index actually took are moved into uploads_dir. If any file is too large or unreadable, this raises
    before the index is written, the staged copies are deleted and neither the index nor uploads_dir
    changes.
    """
    paths = [Path(f) for f in files or []]
    if not paths:
        raise InputError("no file was chosen; pick .txt, .md, .html, .pdf or .docx files.")
    for p in paths:  # before copying anything: a huge file is refused without filling the disk
        check_file_size(p, engine.config.max_file_bytes)
    uploads_dir = Path(uploads_dir).resolve()
    uploads_dir.mkdir(parents=True, exist_ok=True)
    staging = uploads_dir / f".incoming-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        staged: list[Path] = []
        for p in paths:
            staged.append(_stage(p, staging, staged))
        # A document is identified by its path (rag/indexer.py identity): the path it will be kept at,
        # not the staging one, so uploading a changed file again replaces it.
        documents = [replace(d, path=path_key(uploads_dir / s.name))
                     for d, s in zip(read_documents(staged, engine.config.max_file_bytes), staged, strict=True)]
        report = engine.add_documents(documents, progress=progress)
        kept = set(report.added) | set(report.replaced)
        for s in staged:
            if s.name in kept:
                os.replace(s, uploads_dir / s.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _stage(path: Path, staging: Path, taken: Sequence[Path]) -> Path:
    """Copy one upload into staging under its storable name ('name-2.txt' when two uploads share one)."""
    name = first = storable_name(path.name)
    stem, dot, suffix = first.rpartition(".")
    n = 2
    while any(t.name == name for t in taken):
        name = f"{stem}-{n}{dot}{suffix}" if dot else f"{first}-{n}"
        n += 1
    target = staging / name
    if target.resolve().parent != staging:
        raise InputError(f"{path.name!r} cannot be stored safely; rename the file and upload it again.")
    shutil.copyfile(path, target)
    return target
