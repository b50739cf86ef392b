"""Sweep the refusal thresholds of rag/answer.py on a QA set and print the trade-off.

For every case it finds the best eligible sentence *without* refusing, records its coverage and cosine,
and whether answering with it would contain the gold answer. Then, for a grid of thresholds, it prints
the share of answerable questions answered correctly and the share of unanswerable ones refused.
Usage: .venv/bin/python scripts/calibrate_refusal.py [eval/qa_article.jsonl]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from rag import answer as A
from rag.chat import Engine, clean_question, followup_context, followup_query
from rag.config import Config
from rag.datasets import load_jsonl_cases
from rag.metrics import contains_gold, strip_citation_markers
from rag.retrieval import retrieve
from rag.tokenize import tokenize


def main() -> None:
    dataset = Path(sys.argv[1] if len(sys.argv) > 1 else "eval/qa_article.jsonl")
    engine = Engine.open(Config(), seed=True)
    cases = load_jsonl_cases(dataset)
    rows = []
    for case in cases:
        question, _ = clean_question(case.question, 500)
        previous = followup_context(question, list(case.history))
        query = followup_query(previous, question)
        vector = engine.embedder.embed_queries([query])[0]
        hits = retrieve(engine.index, vector, tokenize(query), 5)
        q = A.Query.make(question, previous)
        cands = A.score_candidates(q, vector, engine.index, hits)
        best = cands[0] if cands else None
        ans = A.answer_question(q, vector, engine.index, hits, policy=A.RefusalPolicy(-1.0, -1.0, -99.0))
        z = A.standing(best.cosine, engine.index.sentence_vectors @ vector) if best else 0.0
        correct = case.answerable and contains_gold(strip_citation_markers(ans.text), case.answers)
        rows.append((case, best, correct, z))
        cov = f"{best.coverage:.2f}" if best and not math.isnan(best.coverage) else "nan"
        print(f"{case.id} {'A' if case.answerable else 'U'} {'ok ' if correct else '-- '} kind={q.kind:7s} "
              f"cov={cov} cos={best.cosine if best else 0:.3f} z={z:.2f} {case.question[:40]}")
    answerable = [r for r in rows if r[0].answerable]
    unanswerable = [r for r in rows if not r[0].answerable]
    print(f"\nupper bound (never refuse): answer correct {sum(r[2] for r in answerable) / len(answerable):.3f}")
    grid = [(cov, cos, z) for cov in (0.3, 0.35, 0.4, 0.45, 0.5) for cos in (0.0, 0.85, 0.87, 0.89)
            for z in (2.0, 2.2, 2.4, 2.6)]
    for min_cov, min_cos, min_z in grid:
        p = A.RefusalPolicy(min_cov, min_cos, min_z)
        ok = sum(1 for _, b, c, z in answerable if c and not A.should_refuse(b, z, p)) / len(answerable)
        ref = sum(1 for _, b, _, z in unanswerable if A.should_refuse(b, z, p)) / len(unanswerable)
        print(f"min_coverage={min_cov:.2f} min_cosine={min_cos:.2f} min_z={min_z:.1f}: "
              f"answered correctly {ok:.3f}, unanswerable refused {ref:.3f}")


if __name__ == "__main__":
    main()
