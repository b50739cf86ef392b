"""Records step 66 (README, "How auto was chosen"): an English question over Chinese text answered as the model's
Chinese translation of it, by the default's Chinese path (every Chinese check and cut as saved), against the English
route as shipped (the pick), read from scripts/study_english.py's rows of the same cases (their `answer`).

    python scripts/study_translated.py --dataset ../shared/datasets/drcd_dev.json --t2s --skip 400 --questions 60 \
        --absent 40 --adversarial 40 --translations eval/drcd_dev_a_en.jsonl --out artifacts/r44/tr-drcd-dev-a.jsonl
    python scripts/study_translated.py --qa eval/qa_article.jsonl --split dev --out artifacts/r44/tr-article-dev.jsonl
    python scripts/study_translated.py --summary artifacts/r44/tr-drcd-dev-a.jsonl:artifacts/r44/english-drcd-dev-a.jsonl

The question is translated with step 23's prompt (prompt.translate_messages, read by prompt.translation_of); a
follow-up translates only itself and is resolved against its conversation as typed. Where no Chinese translation comes
back, the row says so and the English route's answer stands for it. About 5-7 s a question on 2 cores.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import study_model as sm  # noqa: E402 - the cases and index set-up are study_model.py's
from study_pick import english_study  # noqa: E402 - the same English questions as the pick's

from rag.answering import decide  # noqa: E402
from rag.answering.base import refuse  # noqa: E402
from rag.answering.generation import Control  # noqa: E402
from rag.answering.model import AUTO_POLICY, ModelAnswerer  # noqa: E402
from rag.answering.prompt import TRANSLATE_TOKENS, translate_messages, translation_of  # noqa: E402
from rag.evaluation.metrics import fair_match, percentile  # noqa: E402


def rates(rows: list[dict], answer: str, refused: str) -> tuple[float, float, float, int, int]:
    """(answerable right, not answerable refused, answerable refused, answerable, not answerable) of `rows`, reading
    the answer and refusal from the fields named."""
    ans = [r for r in rows if r["kind"] == "answerable"]
    other = [r for r in rows if r["kind"] != "answerable"]

    def pct(n: int, d: int) -> float:
        return 100.0 * n / d if d else float("nan")

    return (pct(sum(not r[refused] and fair_match(r[answer], r["answers"]) for r in ans), len(ans)),
            pct(sum(r[refused] for r in other), len(other)), pct(sum(r[refused] for r in ans), len(ans)),
            len(ans), len(other))


def joined(pair: str) -> list[dict]:
    """`translated.jsonl:english.jsonl`: the translated rows, each with the English route's answer of its case, kept to
    the rows that route counts (English over Chinese text)."""
    mine, _, theirs = pair.partition(":")
    if not theirs:
        raise SystemExit(f"--summary {pair}: give each set as TRANSLATED.jsonl:STUDY_ENGLISH.jsonl")
    route = {}
    for line in Path(theirs).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            route[r["id"]] = r
    out = []
    for line in Path(mine).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        base = route.get(r["id"])
        if base is None:
            raise SystemExit(f"--summary {pair}: {r['id']} has no row in {theirs}; give the same cases")
        if not base["cross_language"]:
            continue
        translated = r["translation"] is not None
        out.append({**r, "route_answer": base["answer"], "route_refused": base["refused"],
                    "tr_answer": r["answer"] if translated else base["answer"],
                    "tr_refused": r["refused"] if translated else base["refused"]})
    return out


def summary(pairs: list[str]) -> str:
    lines = ["| set | rows | English route: right / refused / answerable refused (balanced) | translated: right / "
             "refused / answerable refused (balanced) | translated | seconds p50 / p95 (translation + answer) |",
             "|---|---|---|---|---|---|"]
    balanced = {"route": [], "tr": []}
    for pair in pairs:
        rows = joined(pair)
        cells = []
        for key in ("route", "tr"):
            right, refused, wrong, n_ans, n_other = rates(rows, f"{key}_answer", f"{key}_refused")
            bal = (right + refused) / 2
            balanced[key].append(bal)
            cells.append(f"{right:.1f} / {refused:.1f} / {wrong:.1f} ({bal:.1f})")
        secs = [r["translate_s"] + r["answer_s"] for r in rows if r["translation"] is not None]
        done = sum(r["translation"] is not None for r in rows)
        timing = f"{percentile(secs, 50):.2f} / {percentile(secs, 95):.2f}" if secs else "–"
        lines.append(f"| {Path(pair.partition(':')[0]).name} | {len(rows)} | {cells[0]} | {cells[1]} | "
                     f"{done} / {len(rows)} | {timing} |")
    lines.append(f"\nbalanced, the sets averaged: English route {sum(balanced['route']) / len(pairs):.2f}, "
                 f"translated {sum(balanced['tr']) / len(pairs):.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    started = english_study(argv, "study_translated.py", summary, {
        "metavar": "TRANSLATED:ENGLISH",
        "help": "print the table of these row files, each joined with study_english.py's rows, and stop"})
    if started is None:
        return 0
    args, config, cases, engine, embedder, generator = started
    answerer = ModelAnswerer(generator, sm.ExtractiveAnswerer(config.max_answer_chars), AUTO_POLICY, name="auto")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for i, case in enumerate(cases):
            history = case.get("history") or None
            t0 = time.perf_counter()
            reply = generator.generate(translate_messages(case["question"]), TRANSLATE_TOKENS, Control())
            translation = None if reply.stopped else translation_of(reply.text)
            translate_s = time.perf_counter() - t0
            row = {**case, "translation": translation, "translate_reply": reply.text,
                   "translate_s": round(translate_s, 3), "answer": "", "refused": True, "reason": "", "answerer": "",
                   "answer_s": 0.0}
            if translation is not None:
                q, _ = engine.resolve(translation, history, engine.index, config)
                found = engine.search(q, engine.index, config)
                t0 = time.perf_counter()
                if found.hits:
                    answer = answerer.run(q, list(found.hits), sm.Evidence(engine.index, found.answer_vector, embedder),
                                          Control()).answer
                else:
                    answer = refuse(q.text, answerer="auto", reason=decide.NO_HITS)  # as Engine.ask refuses
                row.update(answer=answer.text, refused=answer.refused, reason=answer.reason, answerer=answer.answerer,
                           answer_s=round(time.perf_counter() - t0, 3), language=q.language)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(f"[{i + 1}/{len(cases)}] {case['kind']:11s} {case['question'][:40]} -> {translation!r:.40} -> "
                  f"{row['answer'][:40]!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
