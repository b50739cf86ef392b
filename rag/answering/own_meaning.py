"""routes.json's cuts of the extractive answerer's own answers, read alone: the meaning cut (README step 61) and the
claim cut (step 72).

Apart from rag/answering/model.py, which reads every section of routes.json when imported: the extractive answerer
(`--answerer extractive`, the default's fallback) is built without the model answerer's module, and a bad value in
another section does not stop it. model.py's meaning sections share its checks (`cut_embedder`).
scripts/study_anchors.py --choose ROWS --meaning (--claim) --write saves each section.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from rag.answering.meaning import MeaningCut
from rag.errors import ModelError

ROUTES_FILE = Path(__file__).with_name("routes.json")  # the file model.py reads too (its ROUTES_FILE)
SECTION = "extractive_own_meaning_cut"
CLAIM_SECTION = "extractive_own_claim_cut"  # README step 72


def cut_embedder(path: Path, section: str, key: str, value: float, saved: dict, fix: str) -> tuple[str, str]:
    """A saved meaning section's checks shared by every meaning cut (this one and model.py's): the cosine `value` at
    `key` from -1 to 1, and the embedder its cosines are from, with its weights' fingerprint ("" where none was saved);
    each bad field named with `fix`."""
    if not -1.0 <= value <= 1.0:
        raise ModelError(f"{path} has {section} {key} {value!r}: a cosine must be from -1 to 1. {fix}")
    embedder, fingerprint = saved.get("embedder"), saved.get("fingerprint", "")
    if not isinstance(embedder, str) or not embedder:
        raise ModelError(f"{path} has {section} {saved!r} without `embedder` (the embedding model its cosines are "
                         f"from). {fix}")
    if not isinstance(fingerprint, str):
        raise ModelError(f"{path} has {section} fingerprint {fingerprint!r}: it must be the embedder's weights "
                         f"fingerprint, a string. {fix}")
    return embedder, fingerprint


def saved_below(path: Path, section: str) -> tuple[object, object]:
    """routes.json's `section` as saved and its `below` (None, None where the file or the section is missing or null;
    `below` None where the section is not an object or lacks it)."""
    if not path.is_file():
        return None, None
    saved = json.loads(path.read_text(encoding="utf-8")).get(section)
    return saved, saved.get("below") if isinstance(saved, dict) else None


def load_own_meaning_cut(path: Path = ROUTES_FILE) -> MeaningCut | None:
    """The saved cut with the embedder its cosines are from; None when none was taken (the section null or absent, or
    no file). Every bad field is named with the fix. The cut reads the whole cited passage and its lead ("passage"),
    the only scope step 61 fitted."""
    saved, below = saved_below(path, SECTION)
    if saved is None:
        return None
    fix = f"Rerun scripts/study_anchors.py --choose ROWS --meaning --write {path}, or write {SECTION}: null."
    if isinstance(below, bool) or not isinstance(below, int | float) or math.isnan(below):
        raise ModelError(f"{path} has {SECTION} {saved!r}: its `below` must be a number. {fix}")
    embedder, fingerprint = cut_embedder(path, SECTION, "below", below, saved, fix)
    scope = saved.get("scope", "passage")
    if scope != "passage":
        raise ModelError(f"{path} has {SECTION} scope {scope!r}: this cut reads the cited passage and its lead, "
                         f"\"passage\" only. {fix}")
    return MeaningCut(float(below), embedder, fingerprint)


def load_own_claim_cut(path: Path = ROUTES_FILE) -> float | None:
    """README step 72's claim cut of the extractive answerer's own Chinese factoid answers (the share of the question's
    word weight beside the cited sentence below which it refuses); None when none was taken (null, absent, no file).
    A bad value is named with the fix."""
    saved, below = saved_below(path, CLAIM_SECTION)
    if saved is None:
        return None
    fix = f"Rerun scripts/study_anchors.py --choose ROWS --claim --write {path}, or write {CLAIM_SECTION}: null."
    if isinstance(below, bool) or not isinstance(below, int | float) or not 0.0 < below <= 1.0:
        raise ModelError(f"{path} has {CLAIM_SECTION} {saved!r}: its `below` must be a share of the question's word "
                         f"weight, above 0 and at most 1. {fix}")
    return float(below)
