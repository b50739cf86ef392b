"""QA sets: our JSONL format, and SQuAD-format files such as CMRC 2018 (every context its own document)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rag.documents import make_document
from rag.errors import InputError
from rag.schema import Document


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    answers: tuple[str, ...]  # empty: the documents do not answer it
    evidence: tuple[str, ...]  # substrings of the source that support the answer
    history: tuple[dict, ...] = ()
    tags: tuple[str, ...] = ()
    source: str | None = None  # document the evidence lives in (None: search every document)
    # Required facts of open/summary/list/entity answers: groups of acceptable strings; the answer must
    # hold one string of at least `facts_needed` groups. Empty: scored by `answers` alone.
    facts: tuple[tuple[str, ...], ...] = ()
    facts_needed: int = 0
    split: str = "test"  # "dev" (answering rules may be tuned on it) or "test" (figures are reported on it)

    @property
    def answerable(self) -> bool:
        return bool(self.answers or self.facts)


def load_jsonl_cases(path: Path) -> list[Case]:
    cases = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                facts = row.get("facts") or {}
                groups = tuple(tuple(str(x) for x in g) for g in facts.get("groups", []))
                needed = int(facts.get("need", len(groups)))
                if groups and not 1 <= needed <= len(groups):
                    raise ValueError(f"facts.need={needed} must be between 1 and {len(groups)} groups")
                split = row.get("split", "test")
                if split not in SPLITS:
                    raise ValueError(f"split={split!r} must be one of {', '.join(SPLITS)}")
                cases.append(Case(id=str(row["id"]), question=row["question"], answers=tuple(row.get("answers", [])),
                                  evidence=tuple(row.get("evidence", [])), history=tuple(row.get("history") or ()),
                                  tags=tuple(row.get("tags", [])), facts=groups, facts_needed=needed, split=split))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"{path}:{lineno} is not a valid case ({exc}); each line needs "
                                 "{\"id\", \"question\", \"answers\", \"evidence\"}.") from None
    if not cases:
        raise InputError(f"{path} holds no cases.")
    return cases


SPLITS = ("dev", "test")


def select_split(cases: list[Case], split: str) -> list[Case]:
    """The cases of one split ("dev" or "test"), or all of them ("all")."""
    if split == "all":
        return cases
    if split not in SPLITS:
        raise InputError(f"--split {split!r} is unknown; choose dev, test or all.")
    return [c for c in cases if c.split == split]


def is_squad(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def is_absent(source: str, share: float) -> bool:
    """Whether context `source` is left out of the index in an absent-context run (a fixed hash split)."""
    return share > 0 and int(hashlib.sha1(source.encode("utf-8")).hexdigest(), 16) % 1000 < share * 1000


def load_squad(path: Path, limit: int | None = None, absent_share: float = 0.0) -> tuple[list[Document], list[Case]]:
    """Contexts become documents named '<title or id>#<n>'; with `limit`, the first N questions and only
    the contexts they need (so a quick run indexes a small corpus). With `absent_share`, that share of
    the contexts (chosen by a fixed hash of their names) is not indexed, and their questions become
    unanswerable cases tagged "absent": the realistic "not in the documents" test."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path} is not a SQuAD-format JSON file ({exc}).") from None
    documents: list[Document] = []
    cases: list[Case] = []
    for article in data:
        for p_no, paragraph in enumerate(article.get("paragraphs", [])):
            if limit is not None and len(cases) >= limit:
                return documents, cases
            source = f"{article.get('id') or article.get('title', 'doc')}#{p_no}"
            context = paragraph["context"]
            absent = is_absent(source, absent_share)
            if not absent:
                documents.append(make_document(source, context))
            for qa in paragraph.get("qas", []):
                if limit is not None and len(cases) >= limit:
                    break
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", []) if a["text"].strip()))
                if absent:
                    cases.append(Case(id=str(qa["id"]), question=qa["question"], answers=(), evidence=(),
                                      tags=("squad", "absent"), source=None))
                    continue
                cases.append(Case(id=str(qa["id"]), question=qa["question"], answers=answers,
                                  evidence=answers, tags=("squad",), source=source))
    return documents, cases
