"""README step 33: a Chinese open answer of the model's quotes the passage sentences it stands on (Policy.quote_open,
routes.json open_quotes); the product path, the saved choice and the fitting script's simulation."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rag.answering.citations import check_citations
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.generation import Control
from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer, load_open_quotes
from rag.answering.question import Question
from rag.errors import ModelError
from tests.answering.test_english_standing import write_rows
from tests.answering.test_meaning import row
from tests.answering.test_model_answerer import Scripted, _script, retrieved

OPEN_Q = "为什么美图的净利润增长了？"
REPLY = "美图2023年总收入27亿元[1]。净利润3.7亿元[1]。"


def answered(engine, quote: bool, reply: str = REPLY, question: str = OPEN_Q):  # noqa: ANN001, ANN201
    q, hits, evidence = retrieved(engine, question)
    policy = replace(DEFAULT_POLICY, quote_open=quote)
    return ModelAnswerer(Scripted(reply), ExtractiveAnswerer(), policy, "auto").run(q, hits, evidence, Control())


def test_an_open_answer_quotes_the_sentences_it_stands_on_once_each(fake_engine):
    words = answered(fake_engine, False)
    assert words.analysis.shape == "open" and not words.answer.refused
    assert words.answer.text == "美图2023年总收入27亿元[1]。净利润3.7亿元[2]。"
    quoted = answered(fake_engine, True)
    # the two supporting sentences touch in one passage: one quote, the document's own text, cited once
    assert quoted.answer.text == "财报显示美图2023年总收入27 亿元,同比增长29.3%;净利润3.7亿元,同比增长233.2%。[1]"
    assert [c.sentence.text for c in quoted.answer.citations] == [quoted.answer.text[:-3]]
    assert check_citations(quoted.answer) == []  # [1] resolves to that text in its passage
    assert (quoted.answer.answerer, quoted.answer.kind, quoted.answer.refused) == ("auto", "open", False)
    assert quoted.answer.notice.endswith(f"Quoted: the passage sentences the model's answer stands on. Its own words: "
                                         f"“{words.answer.text}”")


def test_quotes_of_two_places_are_cited_apart_and_bounded_as_open_answers_are(fake_engine, monkeypatch):
    import rag.answering.model as model

    profit = answered(fake_engine, False)
    first = "财报显示美图2023年总收入27 亿元,同比增长29.3%;净利润3.7亿元,同比增长233.2%。"
    other = answered(fake_engine, False, "3.7亿元[1]", "美图2023年的净利润是多少？")
    far = [c for c in other.checked if c.kept]  # the adjusted net profit's sentence, away from the first quote
    assert far[0].support.sentence.text == "经调整后归属于母公司权益持有人净利润3.7亿元,同比增长233.2%。"
    q = Question.make(OPEN_Q)
    two = model.quote_support(q, [*profit.checked, *far], profit.answer.hits, "auto", "open")
    assert two.text == f"{first}[1]{far[0].support.sentence.text}[2]" and check_citations(two) == []
    twice = model.quote_support(q, [*profit.checked, *far, *profit.checked], profit.answer.hits, "auto", "open")
    assert twice.text == two.text  # a sentence already quoted is not quoted again
    monkeypatch.setattr(model, "OPEN_CHARS", len(first) + 10)  # the second quote would pass the bound: left out
    assert model.quote_support(q, [*profit.checked, *far], profit.answer.hits, "auto", "open").text == f"{first}[1]"


def test_a_stopped_open_answer_stays_the_part_written_before_stop(fake_engine):
    from rag.answering.generation import Generation

    class Stopped:
        name = "scripted"

        def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
            return Generation(REPLY, stopped=True, tokens=3)

    q, hits, evidence = retrieved(fake_engine, OPEN_Q)
    out = ModelAnswerer(Stopped(), ExtractiveAnswerer(), replace(DEFAULT_POLICY, quote_open=True), "auto").run(
        q, hits, evidence, Control())
    assert not out.answer.refused and out.answer.text == "美图2023年总收入27亿元[1]。净利润3.7亿元[2]。"
    assert "Stopped" in out.answer.notice and "Quoted" not in out.answer.notice


def test_factoids_refusals_and_other_languages_keep_the_models_words(fake_engine):
    factoid = answered(fake_engine, True, "3.7亿元[1]", "美图2023年的净利润是多少？")
    assert factoid.analysis.shape == "factoid" and factoid.answer.text == "3.7亿元[1]"
    refused = answered(fake_engine, True, "美图有4800名员工[1]。")  # supported by no passage
    assert refused.answer.refused and "Quoted" not in refused.answer.notice
    english = answered(fake_engine, True, "Revenue was 27亿元 [1].", "Why did Meitu's profit grow?")
    assert "Quoted" not in english.answer.notice


def test_the_saved_choice_is_read_and_checked(tmp_path):
    assert AUTO_POLICY.quote_open is SAVED  # routes.json (round 27's fit)
    path = tmp_path / "routes.json"
    assert load_open_quotes(path) == {}
    path.write_text('{"open_quotes": null}', encoding="utf-8")
    assert load_open_quotes(path) == {}
    path.write_text('{"open_quotes": {"quote": true}}', encoding="utf-8")
    assert load_open_quotes(path) == {"quote_open": True}
    path.write_text('{"open_quotes": {"quote": "yes"}}', encoding="utf-8")
    with pytest.raises(ModelError, match=r"open_quotes .*its `quote` must be true or false.*--open-quotes --write"):
        load_open_quotes(path)


SAVED = True  # routes.json's open_quotes (README step 33)


def open_row(kind: str, sentences: list[str], words: str, answers: tuple[str, ...] = (), **extra) -> dict:  # noqa: ANN003
    """A study row of a Chinese open question the default answers with the model's `words`, its kept sentences standing
    on `sentences` (test_meaning.row's fields, the shape open)."""
    r = row(kind, 0.99, True, **extra)
    kept = {**r["checked"][0], "text": words}
    return {**r, "shape": "open", "question": "项目为什么延期？", "answers": list(answers), "confidence": None,
            "extractive": "别的句子。[1]", "checked": [{**kept, "claim_sentence": s} for s in sentences]}


def test_choose_policy_simulates_the_quote_and_takes_it_on_the_pooled_gain(tmp_path, capsys):
    cp = _script("choose_policy")
    assert cp.merged_quotes(["甲乙丙丁戊己。", "甲乙丙丁戊己。庚辛壬癸子丑。", "庚辛壬癸子丑。寅卯辰巳午未。"]) == [
        "甲乙丙丁戊己。庚辛壬癸子丑。寅卯辰巳午未。"]
    assert cp.merged_quotes(["甲乙。", "丙丁。"]) == ["甲乙。", "丙丁。"]
    long = open_row("answerable", ["甲" * 200 + "。", "乙" * 60 + "。", "丙" * 40 + "。"], "答")
    assert cp.open_quoted(long, True) == (False, "甲" * 200 + "。" + "丙" * 40 + "。")  # 262 would pass 250: left out
    right = open_row("answerable", ["因为资金不足，项目延期。"], "项目延期了", answers=("资金不足",))
    assert cp.shipped(right) == cp.open_quoted(right, False) == (False, "项目延期了")  # the default's decision
    assert cp.open_quoted(right, True) == (False, "因为资金不足，项目延期。")
    assert cp.open_quoted({**right, "model_refused": True}, True)[0]  # a refusal stays one
    handed = {**right, "reply": None}  # no model answer: the extractive answer, not quoted
    assert cp.open_quoted(handed, True) == cp.shipped(handed) == (False, "别的句子。[1]")
    assert cp.open_quoted({**right, "shape": "factoid"}, True) == cp.shipped({**right, "shape": "factoid"})
    swap = open_row("unanswerable", ["某句。"], "某答", model_refused=True)
    fit = write_rows(tmp_path / "fit.jsonl", [right, swap])
    saved = tmp_path / "routes.json"
    saved.write_text('{"routes": {}}', encoding="utf-8")
    assert cp.main([str(fit), "--open-quotes", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "| fitting: fit.jsonl | 1 | 0 | 1 | 100.0 |" in out
    assert "1 open answerable, right 0.0 with the model's words, 100.0 quoted" in out and "): taken" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["open_quotes"]["quote"] is True
    worse = write_rows(tmp_path / "worse.jsonl", [open_row("answerable", ["别处。"], "资金不足", answers=("资金不足",))])
    assert cp.main([str(worse), "--open-quotes", "--write", str(saved)]) == 0
    assert "right 100.0 with the model's words, 0.0 quoted" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8"))["open_quotes"] is None
