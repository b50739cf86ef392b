"""QA sets: our JSONL format, and SQuAD-format files such as CMRC 2018 (every context its own document)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    evidence_offsets: tuple[int, ...] = field(default=())  # known start offsets (SQuAD answer_start)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_jsonl_cases(path: Path) -> list[Case]:
    cases = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                cases.append(Case(id=str(row["id"]), question=row["question"], answers=tuple(row.get("answers", [])),
                                  evidence=tuple(row.get("evidence", [])), history=tuple(row.get("history") or ()),
                                  tags=tuple(row.get("tags", []))))
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{path}:{lineno} is not a valid case ({exc}); each line needs "
                                 "{\"id\", \"question\", \"answers\", \"evidence\"}.") from None
    if not cases:
        raise InputError(f"{path} holds no cases.")
    return cases


def is_squad(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def load_squad(path: Path, limit: int | None = None) -> tuple[list[Document], list[Case]]:
    """Contexts become documents named '<title or id>#<n>'; with `limit`, the first N questions and only
    the contexts they need (so a quick run indexes a small corpus)."""
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
            documents.append(make_document(source, context))
            for qa in paragraph.get("qas", []):
                if limit is not None and len(cases) >= limit:
                    break
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", []) if a["text"].strip()))
                starts = tuple(a.get("answer_start", -1) for a in qa.get("answers", []))
                cases.append(Case(id=str(qa["id"]), question=qa["question"], answers=answers,
                                  evidence=answers, tags=("cmrc2018",), source=source,
                                  evidence_offsets=starts))
    return documents, cases
