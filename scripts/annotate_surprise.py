"""Adds `question_logprobs` (README step 38: each question token's log-probability after the excerpts, as
Generation.question_logprobs records it in the product) and `question_prior_logprobs` (step 46: the same after the same
prompt without the excerpts, as ModelAnswerer.question_prior reads it) to study rows the default answers with the model's own Chinese
factoid answer, or would answer so with the claim cut waived, or (step 47) with the extractive answer standing in for it:
the only rows steps 38, 39, 46 and 47 can change. Two prompt readings per row with the bundled model (about 3.5 s
and 0.4 s here), no generation.

    python scripts/annotate_surprise.py artifacts/r29s/study-*.jsonl --out-dir artifacts/r30s [--cache F] [--open]

`--open` (README step 48, measured and not taken) also reads the rows answered with the model's own answer to a
Chinese open or entity question, which choose_policy.py --open-question-cuts reads.

The prompt is the answer prompt rebuilt from the row (its excerpts, its question, the Chinese instruction); the rows do
not record each excerpt's source and title, so every excerpt is labelled `(doc)`, where the product writes
`(<source> <title>)`. Each reading is kept by the model's name and a digest of the exact prompt it read (`reading_key`),
so a reading is reused only for the same prompt: a row whose excerpts changed (a new excerpt ranker, say) is read again.
`--cache` is appended with every new reading; `--known` files (the committed eval/replies/question-logprobs-r*.jsonl)
are read, never written. Readings kept by study file and row id (before round 37) cannot tell which prompt they read:
they are counted and left unused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import choose_policy  # noqa: E402

from rag.answering.bundled import LlamaCppGenerator, _question_logprobs  # noqa: E402
from rag.answering.prompt import INSTRUCTION, USER, system_language_of, system_message  # noqa: E402
from rag.config import Config  # noqa: E402


def messages_of(row: dict) -> list[dict[str, str]]:
    """The answer prompt of a study row, rebuilt from its excerpts (labelled `(doc)`), its question and its system
    message (English, or Chinese where the row was studied with step 73's `system_language` "question")."""
    blocks = "\n".join(f"[{n}] (doc) {' '.join(e.split())}" for n, e in enumerate(row["excerpts"], 1))
    user = USER.format(excerpts=blocks, question=row["question"], instruction=INSTRUCTION["zh"])
    system = system_message("", system_language_of("zh", row.get("system_language", "en")))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def reading_key(model: str, messages: list[dict[str, str]]) -> str:
    """The cache key of one reading: the model's name and the sha256 (first 24 hex digits) of the prompt's messages."""
    text = json.dumps(messages, ensure_ascii=False, sort_keys=True)
    return f"{model}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:24]}"


def load_readings(paths: list[Path]) -> tuple[dict[str, list], int]:
    """The readings kept in these JSONL files by reading_key, and how many entries were kept the old way (by study file
    and row id, which does not say which prompt was read): those are left out."""
    readings: dict[str, list] = {}
    legacy = 0
    for path in paths:
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                entry = json.loads(line)
                key, lp = entry["key"], entry["lp"]
            except (ValueError, KeyError, TypeError) as err:
                raise SystemExit(f"{path}:{n}: not a reading ({err}): each line is {{\"key\": ..., \"lp\": ...}}") from None
            if ".jsonl:" in key:
                legacy += 1
            else:
                readings[key] = lp
    return readings, legacy


def wanted(row: dict) -> bool:
    """A Chinese factoid row (choose_policy.model_factoid leaves English rows out), with excerpts, that the default
    answers with the model's own answer (step 38's cut may refuse it), or would answer so with the claim cut waived
    (step 39's waiver may keep it)."""
    if not (choose_policy.model_factoid(row) and row.get("excerpts")):
        return False
    for r in (row, {**row, "claim_waived": True}):
        refused, text = choose_policy.shipped_before_model_type(r)  # step 82 needs the rows it refuses read too
        if not refused and text != row["extractive"]:
            return True
    # step 47: an extractive answer standing in for the model's (the hand-over, the misread fallback) is read too
    refused, text = choose_policy.shipped_before_stand_in_cuts(row)
    return not refused and text == row["extractive"]


def wanted_open(row: dict) -> bool:
    """README step 48 (`--open`): a Chinese open or entity row, with excerpts, that the default answers with the model's
    own answer (not the "auto" route's extractive fallback): the rows choose_policy.py --open-question-cuts reads."""
    if not (row.get("excerpts") and choose_policy.model_asked(row, choose_policy.OPEN_CUT_SHAPES[-1])):
        return False
    refused, text = choose_policy.shipped(row)
    return not refused and text != row["extractive"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="study rows (scripts/study_model.py --out)")
    ap.add_argument("--out-dir", type=Path, required=True, help="where the annotated files go (same names)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="readings kept by model and prompt (JSONL): read, and appended with every new reading")
    ap.add_argument("--known", type=Path, nargs="*", default=[],
                    help="more readings kept by model and prompt, read and never written (eval/replies/question-logprobs-r*.jsonl)")
    ap.add_argument("--open", action="store_true",
                    help="also read the rows answered with the model's own answer to a Chinese open or entity question "
                         "(README step 48, choose_policy.py --open-question-cuts)")
    args = ap.parse_args(argv)
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        raise SystemExit(f"no such study file: {', '.join(missing)}")
    unknown = [str(p) for p in args.known if not p.is_file()]
    if unknown:  # a mistyped name (or a glob that matched nothing) would have every row read again, for an hour
        raise SystemExit(f"no such readings file (--known): {', '.join(unknown)}; name committed readings, e.g. "
                         "eval/replies/question-logprobs-r*.jsonl")
    if any(p.resolve().parent == args.out_dir.resolve() for p in args.files):
        raise SystemExit(f"--out-dir {args.out_dir} holds an input file: choose another folder, inputs are not rewritten")
    cache, legacy = load_readings([*args.known, *([args.cache] if args.cache is not None else [])])
    if legacy:
        print(f"{legacy} readings kept by study file and row id (before round 37) left unused: they do not say which "
              "prompt they read", flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    config = Config()
    model = Path(config.llm_model_path).stem
    generator = LlamaCppGenerator(Path(config.llm_model_path), model, config.llm_threads)
    for path in args.files:
        rows = choose_policy.load_rows(path)
        read = 0
        for i, row in enumerate(rows):
            if not (wanted(row) or (args.open and wanted_open(row))):
                continue
            # step 38's reading after the excerpts, and step 46's of the same prompt without them
            for field, excerpts in (("question_logprobs", row["excerpts"]), ("question_prior_logprobs", [])):
                messages = messages_of({**row, "excerpts": excerpts})
                key = reading_key(model, messages)
                if key not in cache:
                    llm = generator.load()
                    llm.n_tokens = 0
                    cache[key] = [list(tv) for tv in _question_logprobs(llm, messages)]
                    if args.cache is not None:
                        with args.cache.open("a", encoding="utf-8") as f:
                            entry = {"key": key, "row": f"{path.name}:{row['id']}", "lp": cache[key]}
                            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
                    read += 1
                    print(f"[{i + 1}/{len(rows)}] {field}: {row['question'][:30]}", flush=True)
                row[field] = cache[key]
        out = args.out_dir / path.name
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{out}: {len(rows)} rows, {read} read now", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
