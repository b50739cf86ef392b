"""The fitted extractive answerer with the real model: answers shaped by the question, on the article,
on an English document and on CMRC paragraphs; every citation checked against the source text."""

from __future__ import annotations

import json

import pytest

from rag.answering.citations import check_citations
from rag.config import Config
from rag.evaluation.metrics import contains_gold, facts_ok
from tests.conftest import ARTICLE, ROOT

pytestmark = pytest.mark.integration
ORIGINAL = ARTICLE.read_text(encoding="utf-8")
ENGLISH = ROOT / "tests" / "data" / "english_report.md"


def assert_checked(answer, source_text: str) -> None:
    assert check_citations(answer) == []
    for c in answer.citations:
        assert source_text[c.sentence.start:c.sentence.end] == c.sentence.text
        assert source_text[c.hit.chunk.start:c.hit.chunk.end] == c.hit.chunk.text
    if answer.span is not None:
        assert source_text[answer.span.start:answer.span.end] == answer.span.text
        assert answer.span_parts()[1] == answer.span.text and "**" not in answer.text  # offsets, not markup


@pytest.fixture(scope="module")
def english_engine(tmp_path_factory):
    from rag.chat import Engine
    from rag.embedding import load_embedder
    from rag.indexer import empty_index

    config = Config.from_env()
    embedder = load_embedder(config)
    engine = Engine(config, tmp_path_factory.mktemp("en") / "index", embedder, empty_index(embedder))
    engine.add_files([ENGLISH])
    return engine


@pytest.mark.parametrize(("question", "gold"), [
    ("美图的CFO是谁？", "颜劲良"),
    ("美图2023年的总收入是多少？", "27亿"),
    ("美图哪一年关闭了手机业务？", "2018"),
])
def test_factoid_answers_are_bold_spans(real_engine, question, gold):
    answer = real_engine.ask(question)
    assert not answer.refused and answer.kind == "factoid" and answer.answerer == "extractive"
    assert answer.span is not None and gold in answer.span.text, answer.text
    assert len(answer.span.text) <= 12
    assert_checked(answer, ORIGINAL)


def test_an_english_question_over_the_chinese_article_gets_its_sentence_without_bold(real_engine, english_engine):
    """Step 67: the span finder's bold needs the question's words in the sentence; an English question over Chinese
    text shares none, so its sentence answer shows no bold (the Chinese questions above keep theirs; an English question
    over English text keeps its own)."""
    answer = real_engine.ask("What was Meitu's total revenue in 2023?")
    assert not answer.refused and answer.answerer == "extractive", answer.reason
    assert "27 亿元" in answer.text and answer.span is None
    assert_checked(answer, ORIGINAL)
    english = english_engine.ask("What was Northwind's revenue in 2016?")
    assert not english.refused and english.span is not None, english.text


@pytest.mark.parametrize(("question", "reason"), [
    # the issue's own examples: a date was bolded for a price, a year for a count of stores (README step 24)
    ("美图收购站酷花了多少钱？", "the question asks for an amount of money, and the answer's sentence gives none"),
    ("美图有多少家线下门店？", "the question asks for a count of 家, and the answer's sentence gives none"),
])
def test_an_answer_without_what_the_question_asks_for_is_refused(real_engine, question, reason):
    answer = real_engine.ask(question)
    assert answer.refused and answer.answerer == "extractive"
    assert answer.reason == reason


def test_summary_is_five_cited_sentences_in_document_order(real_engine):
    answer = real_engine.ask("这篇文章的主要观点是什么？")
    assert answer.kind == "summary" and not answer.refused
    assert 3 <= len(answer.citations) <= 5
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    starts = [c.sentence.start for c in answer.citations]
    assert starts == sorted(starts)
    assert all(f"[{c.n}]" in answer.text for c in answer.citations)
    assert_checked(answer, ORIGINAL)


def test_open_answer_has_several_cited_sentences(real_engine):
    answer = real_engine.ask("美图为什么放弃了社交？")
    assert answer.kind == "open" and not answer.refused
    assert 1 <= len(answer.sentences) <= 4
    assert len(answer.text) <= 280
    assert contains_gold(answer.text, ["烧钱"]), answer.text
    assert_checked(answer, ORIGINAL)


def test_entity_answer_names_the_role(real_engine):
    answer = real_engine.ask("颜劲良是谁？")
    assert answer.kind == "entity" and not answer.refused, answer.text
    assert facts_ok(answer.text, [["CFO"]], 1), answer.text
    assert_checked(answer, ORIGINAL)


def test_list_item_is_picked_by_position(real_engine):
    answer = real_engine.ask("美图美业解决方案业务一年收入多少钱？")
    assert answer.span is not None and answer.span.text.startswith("5.69亿"), answer.text
    assert_checked(answer, ORIGINAL)


ENGLISH_CASES = [("When was Northwind Traders founded?", "1994"), ("What was the revenue in 2016?", "2.7 billion"),
                 ("How many new stores does the company plan to open?", "120"),
                 ("Who is the chief executive officer?", "Thomas Hardy"), ("What was the gross margin?", "41%")]


def test_english_document(english_engine):
    """English text and English years/amounts/percentages: 4 of these 5 answered with the gold when this
    test was written (the founding year loses to the 2016 revenue sentence); every answer is checked."""
    source = ENGLISH.read_text(encoding="utf-8")
    right = 0
    for question, gold in ENGLISH_CASES:
        answer = english_engine.ask(question)
        right += not answer.refused and contains_gold(answer.text, [gold])
        assert_checked(answer, source)
        if answer.span is not None:
            assert answer.span.text[-1].isalnum() or answer.span.text[-1] in "%)", answer.span.text
    assert right >= 4, right
    refused = english_engine.ask("Who won the football world cup in 2014?")
    assert refused.refused and refused.citations == ()
    summary = english_engine.ask("Summarize the report.")
    assert summary.kind == "summary" and 3 <= len(summary.citations) <= 5
    assert_checked(summary, source)


def test_cli_json_has_span_and_sentences(real_index_dir):
    from tests.test_integration import run_rag

    out = run_rag("ask", "美图的CFO是谁？", "--json", "--index-dir", str(real_index_dir))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["answerer"] == "extractive" and data["kind"] == "factoid"
    span = data["span"]
    assert span["text"] == "颜劲良" and ORIGINAL[span["start"]:span["end"]] == "颜劲良"
    assert data["answer"][span["at"]:span["at"] + len("颜劲良")] == "颜劲良"
    assert data["sentences"][0]["citations"] == [1] and data["sentences"][0]["unsupported"] is False
    base = run_rag("ask", "美图的CFO是谁？", "--json", "--answerer", "sentence", "--index-dir", str(real_index_dir))
    assert json.loads(base.stdout)["answerer"] == "sentence"


def test_eval_compares_answerers(real_index_dir, tmp_path):
    from rag.cli import main

    out = tmp_path / "cmp"
    assert main(["eval", "--index-dir", str(real_index_dir), "--answerer", "extractive,sentence", "--split", "dev",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [s["config"].split(",")[0] for s in summary] == ["extractive", "sentence"]
    assert all(s["markers_ok"] == 1.0 for s in summary)
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["split"] for r in rows} == {"dev"}
    second = [json.loads(x) for x in (out / "results-sentence.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in second] == [r["id"] for r in rows] and {r["answerer"] for r in second} == {"sentence"}


def test_cmrc_absent_contexts_are_refused(tmp_path):
    from rag.cli import main

    out = tmp_path / "absent"
    slice_ = ROOT / "eval" / "cmrc2018_dev_200.json"
    assert main(["eval", "--dataset", str(slice_), "--absent", "0.5", "--index-dir", str(tmp_path / "i"),
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))[0]
    assert summary["n_unanswerable"] > 30
    assert summary["refused_unanswerable"] >= 0.6, summary["refused_unanswerable"]
