"""Adds `missing_meaning` (rag/answering/meaning.py, README step 30) to every checked sentence of study rows made
before scripts/study_model.py recorded it, from the claim context each row already holds: no model call, no index.
Where a row records the passage too (`claim_passage`, rows made since round 26) it measures step 31's
`missing_meaning_passage` as well; either is measured again at this code (round 26's correction of missing_words).
Rows made since round 27 record the extractive answer's context and passage too: step 32's `extractive_meaning` and
`extractive_meaning_passage` are measured again from them.

    python scripts/annotate_meaning.py artifacts/r24/study-*.jsonl --out-dir artifacts/r25

Each input file is written under --out-dir with the same name. The cosines are those of the configured embedder
(Config().model, the default e5-small), which the product's cut must be fitted with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answering.meaning import WordVectors, weakest_in  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402


def annotate(row: dict, words: WordVectors) -> dict:
    """The row with `missing_meaning` (and `missing_meaning_passage` where the passage is recorded), with the word each
    is of, on each checked sentence that records its claim context, and the embedder the cosines are from
    (`meaning_embedder`: name and weights' fingerprint, which choose_policy.py --meaning-cut saves)."""
    for c in row.get("checked") or []:
        context = c.get("claim_context")
        if context is None:
            continue
        scopes = [("", "window")] + ([("_passage", "passage")] if c.get("claim_passage") is not None else [])
        for key, scope in scopes:  # as scripts/study_model.py measures them
            word, cosine = weakest_in(row["question"], context, c.get("claim_passage") or "", words, scope)
            c[f"missing_meaning{key}"], c[f"missing_word{key}"] = round(cosine, 4), word
    if row.get("extractive_context") is not None:  # rows made since round 27: step 32's feature of the extractive answer
        for key, scope in (("", "window"), ("_passage", "passage")):
            word, cosine = weakest_in(row["question"], row["extractive_context"], row.get("extractive_passage") or "",
                                      words, scope)
            row[f"extractive_meaning{key}"], row[f"extractive_word{key}"] = round(cosine, 4), word
    row["meaning_embedder"] = {"name": words.embedder.name, "fingerprint": words.embedder.fingerprint}
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="study rows (scripts/study_model.py --out)")
    ap.add_argument("--out-dir", type=Path, required=True, help="where the annotated files go (same names)")
    args = ap.parse_args(argv)
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        raise SystemExit(f"no such study file: {', '.join(missing)}")
    if any(p.resolve().parent == args.out_dir.resolve() for p in args.files):
        raise SystemExit(f"--out-dir {args.out_dir} holds an input file: choose another folder, inputs are not rewritten")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    words = WordVectors(load_embedder(Config()))
    for path in args.files:
        rows = [annotate(json.loads(line), words) for line in path.read_text(encoding="utf-8").splitlines()]
        out = args.out_dir / path.name
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{out}: {len(rows)} rows", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
