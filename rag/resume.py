"""Resumable indexing: every finished document's vectors wait in `index/.resume/` until a generation
holding them is saved, so an interrupted `rag index` of 10,000 files embeds only what it had not done.

Only runs of more than one batch keep entries (one batch has nothing to resume from, and a small add
leaves no trace). Entries are keyed by the document's content hash and valid only for the model and chunk settings in
`settings.json` (other settings wipe the folder). Each entry is written to a temporary name and renamed,
so a kill leaves whole entries or none. The index itself is untouched until the save: the previous
generation stays live, as before.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

RESUME_DIR = ".resume"


class ResumeCache:
    """Vectors of finished documents. `folder=None` keeps nothing (indexing that cannot resume)."""

    def __init__(self, folder: Path | None, settings: dict[str, Any]) -> None:
        self.folder = folder
        if folder is None:
            return
        self.settings = settings
        try:
            same = json.loads((folder / "settings.json").read_text(encoding="utf-8")) == settings
        except (OSError, ValueError):
            same = False
        if not same:  # entries of other settings (or none): start empty; nothing is written until `put`
            shutil.rmtree(folder, ignore_errors=True)

    def get(self, doc_id: str, n_chunks: int, n_sentences: int) -> tuple[np.ndarray, np.ndarray] | None:
        if self.folder is None or not (self.folder / f"{doc_id}.npz").exists():
            return None
        try:
            with np.load(self.folder / f"{doc_id}.npz") as f:
                chunks, sentences = f["chunks"], f["sentences"]
        except (OSError, ValueError, KeyError):  # a damaged entry is only lost work: embed again
            return None
        if len(chunks) != n_chunks or len(sentences) != n_sentences:
            return None
        return chunks, sentences

    def put(self, doc_id: str, chunks: np.ndarray, sentences: np.ndarray) -> None:
        if self.folder is None:
            return
        if not (self.folder / "settings.json").exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "settings.json").write_text(json.dumps(self.settings, sort_keys=True), encoding="utf-8")
        tmp = self.folder / f".{doc_id}.{os.getpid()}.npz"
        np.savez(tmp, chunks=chunks, sentences=sentences)
        os.replace(tmp, self.folder / f"{doc_id}.npz")


def clear(index_dir: Path) -> None:
    """Drop the entries once a generation holds them (the writer holds the index lock)."""
    shutil.rmtree(index_dir / RESUME_DIR, ignore_errors=True)
