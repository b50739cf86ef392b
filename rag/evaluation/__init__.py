"""The evaluation wing: how well and how fast rag answers, measured on QA sets and corpora.

datasets (QA sets: our JSONL and SQuAD-format files), metrics (pure functions over plain spans, flags and
strings), evaluate (score one case into an EvalRow, summarize a run; the one home of "correct"), runs (the
configurations of `rag eval`, `--compare`, writing results), report (report.md / report.html and the
terminal table), baseline (the plain tutorial pipeline, the reference row), bench (`rag bench`: build and
query cost against corpus size).
"""
