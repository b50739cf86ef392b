"""Records step 65's English answer line (README, "How auto was chosen") on English questions over Chinese text: for
each question, the default answerer's answer as it is without the line (the English route: the picked sentence) and
with it (the model's `words (English)` reply, whether english.check_line passed it and why not), with the gold answers,
so that the rule can compare the two answers the same rows give.

    python scripts/study_english.py --dataset ../shared/datasets/drcd_dev.json --t2s --skip 400 --questions 60 \
        --absent 40 --adversarial 40 --translations eval/drcd_dev_a_en.jsonl --out artifacts/r44/english-drcd-dev-a.jsonl
    python scripts/study_english.py --qa eval/qa_article.jsonl --split dev --out artifacts/r44/english-article-dev.jsonl
    python scripts/study_english.py --summary artifacts/r44/english-*.jsonl

The cases are scripts/study_model.py's (the same --dataset/--skip/--questions/--absent/--adversarial and
--translations give the same questions as step 20's pick studies; --qa keeps a split's English questions). The product's
own path (ModelAnswerer.run with routes.json's policy), then ModelAnswerer.in_english on its outcome: one pick read
and one short line written per question, about 4-6 s on 2 cores; nothing is cached.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import study_model as sm  # noqa: E402 - the cases and index set-up are study_model.py's
from study_pick import english_study  # noqa: E402 - the same English questions as the pick's

from rag.answering.generation import Control  # noqa: E402
from rag.answering.model import AUTO_POLICY, ModelAnswerer  # noqa: E402
from rag.evaluation.metrics import fair_match, percentile  # noqa: E402


def summary(paths: list[Path]) -> str:
    """Per file: answerable right without and with the line, not answerable refused, how many answered English
    factoids got a line shown, and the line's seconds (p50 / p95)."""
    lines = ["| file | rows | answerable right, sentence answer | answerable right, with the line | "
             "not answerable refused | lines shown / asked | line's right (gold in the line) | line s p50 / p95 |",
             "|---|---|---|---|---|---|---|---|"]
    for path in paths:
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        rows = [r for r in rows if r["cross_language"]]
        ans = [r for r in rows if r["kind"] == "answerable"]
        other = [r for r in rows if r["kind"] != "answerable"]
        base = sum(not r["refused"] and fair_match(r["answer"], r["answers"]) for r in ans)
        line = sum(not r["refused"] and fair_match(r["answer_line"], r["answers"]) for r in ans)
        asked = [r for r in rows if r["line_asked"]]
        shown = [r for r in asked if not r["line_why"]]
        shown_right = sum(fair_match(r["answer_line"], r["answers"]) for r in shown if r["kind"] == "answerable")
        shown_ans = sum(r["kind"] == "answerable" for r in shown)
        secs = [r["line_s"] for r in asked]
        refused = sum(r["refused"] for r in other)

        def pct(n: int, d: int) -> str:
            return f"{100 * n / d:.1f}" if d else "–"

        lines.append(f"| {path.name} | {len(rows)} | {pct(base, len(ans))} ({base}/{len(ans)}) | "
                     f"{pct(line, len(ans))} ({line}/{len(ans)}) | {pct(refused, len(other))} | "
                     f"{len(shown)} / {len(asked)} | {shown_right}/{shown_ans} | "
                     f"{percentile(secs, 50):.2f} / {percentile(secs, 95):.2f} |" if secs else
                     f"| {path.name} | {len(rows)} | {pct(base, len(ans))} | {pct(line, len(ans))} | "
                     f"{pct(refused, len(other))} | 0 / 0 | – | – |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    started = english_study(argv, "study_english.py", summary,
                            {"type": Path, "help": "print the table of these row files and stop"})
    if started is None:
        return 0
    args, config, cases, engine, embedder, generator = started
    extractive = sm.ExtractiveAnswerer(config.max_answer_chars)
    without = ModelAnswerer(generator, extractive, replace(AUTO_POLICY, english_line=False), name="auto")
    with_line = ModelAnswerer(generator, extractive, replace(AUTO_POLICY, english_line=True), name="auto")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for i, case in enumerate(cases):
            q, _ = engine.resolve(case["question"], case.get("history") or None, engine.index, config)
            query, _, _ = without.search_query(q, engine.index, Control())  # as Engine.ask searches
            found = engine.search(q, engine.index, config, query)
            hits = list(found.hits)
            evidence = sm.Evidence(engine.index, found.answer_vector, embedder)
            t0 = time.perf_counter()
            outcome = without.run(q, hits, evidence, Control())  # the product's path without the line
            run_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            lined = with_line.in_english(q, outcome, Control())
            line_s = time.perf_counter() - t0
            analysis = outcome.analysis
            asked = bool(lined.english_reply or lined.english_why)
            row = {**case, "shape": analysis.shape if analysis else "",
                   "cross_language": bool(analysis and analysis.cross_language),
                   "answer": outcome.answer.text, "refused": outcome.answer.refused, "reason": outcome.answer.reason,
                   "span": outcome.answer.span.text if outcome.answer.span else "",
                   "sentence": (outcome.answer.citations[0].sentence.text
                                if outcome.answer.citations and outcome.answer.citations[0].sentence else ""),
                   "answer_line": lined.answer.text, "line_asked": asked, "line_reply": lined.english_reply,
                   "line_why": lined.english_why, "line_notice": lined.answer.notice,
                   "run_s": round(run_s, 3), "line_s": round(line_s, 3)}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(f"[{i + 1}/{len(cases)}] {case['kind']:11s} {case['question'][:50]} -> "
                  f"{(row['answer_line'] or '')[:50]!r} {row['line_why'][:60]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
