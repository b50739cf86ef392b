"""Records the pick (README, "How auto was chosen", step 20) on English questions over Chinese text, for fitting
its refusal cut with scripts/choose_policy.py --pick: for each question, the model's first-token probabilities
over "0" (none of them) and "1".."K" for the extractive answerer's K best sentences, the answer the picked sentence
gives (the extractive answerer's refusal rules applied to it, no refusal by the pick), and the extractive
answerer's own answer (the English route without the pick).

    python scripts/study_pick.py --dataset ../shared/datasets/drcd_dev.json --t2s --skip 400 --questions 60 \
        --absent 40 --adversarial 40 --translations eval/drcd_dev_a_en.jsonl --out artifacts/pick-drcd-dev-a-en.jsonl
    python scripts/study_pick.py --qa eval/qa_article.jsonl --split dev --out artifacts/pick-article-dev-en.jsonl

The cases are scripts/study_model.py's (the same --dataset/--skip/--questions/--absent/--adversarial/--noun-swaps
and --translations give the same questions; --qa keeps a split's English questions). It runs the bundled model
(one prompt read per question, about 3-4 s on 2 cores, and with --translate one short translation first); nothing is cached.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import study_model as sm  # noqa: E402 - the cases and index set-up are study_model.py's

from rag.answering.generation import Control  # noqa: E402
from rag.answering.model import AUTO_POLICY, PICK_MAX, ModelAnswerer, pick_candidates  # noqa: E402
from rag.answering.prompt import PICK_SYSTEMS  # noqa: E402

PICK_SENTENCES = 5  # sentences shown (Policy.pick_sentences): the prototype's count, one digit to read


def add_case_arguments(ap: argparse.ArgumentParser) -> None:
    """The options that choose the English questions (shared with scripts/study_english.py)."""
    ap.add_argument("--dataset", type=Path, help="a SQuAD-format set (or --qa)")
    ap.add_argument("--t2s", action="store_true", help="convert traditional to simplified Chinese (DRCD)")
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument("--absent", type=int, default=40)
    ap.add_argument("--adversarial", type=int, default=40)
    ap.add_argument("--noun-swaps", type=int, default=0)
    ap.add_argument("--translations", type=Path, help="with --dataset: the cases' questions in English (JSONL)")
    ap.add_argument("--qa", type=Path, help="our QA file (its English questions) over the project's index")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--index-dir", type=Path, default=None, help="with --qa: the index to read (default: index/)")


def english_cases(ap: argparse.ArgumentParser, args: argparse.Namespace, config: sm.Config,
                  script: str) -> tuple[list[dict], sm.Engine, object]:
    """The English questions `add_case_arguments` chose, the engine to search them with (the project's index for
    --qa; a fresh one over the sample's indexed paragraphs for --dataset) and its embedder."""
    if not args.dataset and not args.qa:
        ap.error("give --dataset (a SQuAD-format set, with --translations) or --qa (our QA file)")
    if args.dataset and not args.translations:
        ap.error("--dataset needs --translations: the questions are English ones over Chinese text")
    if args.qa:
        cases = [c for c in sm.own_cases(args.qa, args.split) if "en" in c.get("tags", ())]
        try:
            engine = sm.Engine.open(config, args.index_dir)
        except sm.RagError as exc:
            raise SystemExit(f"{script} --qa reads the project's index: {exc}") from None
        return cases, engine, engine.embedder
    cases, documents = sm.dataset_cases(args, random.Random(0))
    cases = sm.translated(cases, args.translations)
    embedder = sm.load_embedder(config, progress=lambda m: print(m, file=sys.stderr))
    engine = sm.Engine(config, Path(tempfile.mkdtemp(prefix="study-index-")), embedder, sm.empty_index(embedder))
    engine.add_documents(documents)
    return cases, engine, embedder


def english_study(argv: list[str] | None, script: str, summary: Callable[[list], str],
                  summary_option: dict) -> tuple | None:
    """The start shared by scripts/study_english.py and scripts/study_translated.py: their options (the English
    questions', --out, and --summary built from `summary_option`), --summary's table printed by `summary` (then None),
    or (args, config, cases, engine, embedder, generator) for a recording."""
    ap = argparse.ArgumentParser()
    add_case_arguments(ap)
    ap.add_argument("--out", type=Path, help="the rows (JSONL)")
    ap.add_argument("--summary", nargs="+", **summary_option)
    args = ap.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return None
    if not args.out:
        ap.error("give --out (or --summary)")
    config = sm.Config()
    cases, engine, embedder = english_cases(ap, args, config, script)
    generator = sm.LlamaCppGenerator(Path(config.llm_model_path), "qwen", 0, 120.0)
    return args, config, cases, engine, embedder, generator


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    add_case_arguments(ap)
    ap.add_argument("--sentences", type=int, default=PICK_SENTENCES, help="sentences shown to the model")
    ap.add_argument("--system", choices=sorted(PICK_SYSTEMS), default="pick",
                    help="the pick's system message: its own, or the answer prompt's (kept cached between the two)")
    ap.add_argument("--unbarred", action="store_true",
                    help="lift the extractive answerer's standing bar for English questions (model.json "
                         "cross_language_standing), so that every question is picked for and the bar can be fitted "
                         "with the pick's cut (each row records its standing)")
    ap.add_argument("--translate", action="store_true",
                    help="search with the model's Chinese translation of each question (Policy.translate_for_search, "
                         "ModelAnswerer.search_query), as the product does when routes.json's pick says translate")
    ap.add_argument("--rank-translated", action="store_true",
                    help="with --translate: the answer path too reads the translation's vector (the sentence ranking and "
                         "the standing bar), not the English question's (a measured variant, not the product's)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if not 1 <= args.sentences <= PICK_MAX:
        ap.error(f"--sentences {args.sentences}: the pick reads one digit, so 1 to {PICK_MAX}")
    config = sm.Config()
    cases, engine, embedder = english_cases(ap, args, config, "study_pick.py")
    generator = sm.LlamaCppGenerator(Path(config.llm_model_path), "qwen", 0, 120.0)
    extractive = sm.ExtractiveAnswerer(config.max_answer_chars)
    if args.unbarred:
        extractive = sm.ExtractiveAnswerer(config.max_answer_chars, replace(
            extractive.models, meta={**extractive.models.meta, "cross_language_standing": -math.inf}))
    # record every pick, refuse nothing by it (choose_policy.py --pick fits the cut)
    policy = replace(AUTO_POLICY, pick_sentences=args.sentences, pick_none_at=math.inf, pick_system=args.system,
                     translate_for_search=args.translate)
    answerer = ModelAnswerer(generator, extractive, policy, name="auto")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for i, case in enumerate(cases):
            q, _ = engine.resolve(case["question"], case.get("history") or None, engine.index, config)
            t0 = time.perf_counter()
            query, note, _ = answerer.search_query(q, engine.index, Control())  # as Engine.ask searches
            translate_s = time.perf_counter() - t0
            found = engine.search(q, engine.index, config, query)
            hits = list(found.hits)
            # the answer path reads the question as asked (or, measured apart, the translation's vector)
            vector = embedder.embed_queries([query])[0] if args.rank_translated else found.answer_vector
            evidence = sm.Evidence(engine.index, vector, embedder)
            t0 = time.perf_counter()
            outcome = answerer.run(q, hits, evidence, Control())  # the product's own path: it decides when to pick
            analysis = outcome.analysis  # None when nothing was retrieved
            own = extractive.answer_from(q, hits, evidence, analysis) if analysis else None
            shown = ([analysis.candidates[k].sentence.text.strip() for k in pick_candidates(analysis, args.sentences)]
                     if outcome.pick else [])
            row = {**case, "shape": analysis.shape if analysis else "",
                   "cross_language": bool(analysis and analysis.cross_language), "system": args.system,
                   "standing": round(float(analysis.standing), 4) if analysis else None, "unbarred": args.unbarred,
                   "extractive": own.text if own else "", "extractive_refused": own.refused if own else True,
                   "pick": list(outcome.pick), "sentences": shown, "failure": outcome.failure,
                   "answer": outcome.answer.text, "refused": outcome.answer.refused, "reason": outcome.answer.reason,
                   "translate": args.translate, "rank_translated": args.rank_translated,
                   "search_query": query, "search_note": note,
                   "translate_s": round(translate_s, 3),
                   "wall_s": round(time.perf_counter() - t0, 3)}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            probs = row["pick"] or []
            print(f"[{i + 1}/{len(cases)}] {case['kind']:11s} none {probs[0] if probs else float('nan'):.2f} "
                  f"{case['question'][:50]} -> {(row['answer'] or '')[:40]!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
