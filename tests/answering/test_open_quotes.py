"""README step 33: a Chinese open answer of the model's quotes the passage sentences it stands on (Policy.quote_open,
routes.json open_quotes); the product path, the saved choice and the fitting script's simulation."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rag.answering.citations import check_citations
from rag.answering.compose import quote_ranges
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.generation import Control
from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer, load_open_quotes
from rag.answering.question import Question
from rag.errors import ModelError
from rag.schema import Sentence
from tests.answering.test_english_standing import write_rows
from tests.answering.test_meaning import row
from tests.answering.test_model_answerer import Scripted, _script, retrieved

OPEN_Q = "为什么美图的净利润增长了？"
REPLY = "美图2023年总收入27亿元[1]。净利润3.7亿元[1]。"


def answered(engine, quote: bool, reply: str = REPLY, question: str = OPEN_Q,  # noqa: ANN001, ANN201
             ranker: str = "excerpt"):
    q, hits, evidence = retrieved(engine, question)
    policy = replace(DEFAULT_POLICY, quote_open=quote, excerpt_ranker=ranker)
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
    # the model's words in the notice, without its [n] (they number another answer's citations)
    assert quoted.answer.notice.endswith("Quoted: the passage sentences the model's answer stands on. Its own words: "
                                         "“美图2023年总收入27亿元。净利润3.7亿元。”")


def test_quotes_of_two_places_are_cited_apart_and_bounded_as_open_answers_are(fake_engine, monkeypatch):
    import rag.answering.model as model

    profit = answered(fake_engine, False)
    first = "财报显示美图2023年总收入27 亿元,同比增长29.3%;净利润3.7亿元,同比增长233.2%。"
    # the sentence model's order sends the adjusted net profit's sentence, away from the first quote (the excerpt
    # ranker's sends the first quote's own: README step 43)
    other = answered(fake_engine, False, "3.7亿元[1]", "美图2023年的净利润是多少？", ranker="sentence")
    far = [c for c in other.checked if c.kept]
    assert far[0].support.sentence.text == "经调整后归属于母公司权益持有人净利润3.7亿元,同比增长233.2%。"
    q = Question.make(OPEN_Q)
    two = model.quote_support(q, [*profit.checked, *far], profit.answer.hits, "auto", "open")
    assert two.text == f"{first}[1]{far[0].support.sentence.text}[2]" and check_citations(two) == []
    twice = model.quote_support(q, [*profit.checked, *far, *profit.checked], profit.answer.hits, "auto", "open")
    assert twice.text == two.text  # a sentence already quoted is not quoted again
    monkeypatch.setattr(model, "OPEN_CHARS", len(first) + 10)  # the second quote would pass the bound: left out
    assert model.quote_support(q, [*profit.checked, *far], profit.answer.hits, "auto", "open").text == f"{first}[1]"


class FakeChunk:
    def __init__(self, chunk_id: str, doc_id: str, start: int, end: int) -> None:
        self.id, self.doc_id, self.start, self.end = chunk_id, doc_id, start, end


class FakeHit:
    def __init__(self, chunk: FakeChunk) -> None:
        self.chunk = chunk


def supports(*spans: tuple[FakeHit, int, int]) -> list:
    return [(hit, Sentence(hit.chunk.doc_id, start, end, "")) for hit, start, end in spans]


def test_quote_ranges_join_what_overlaps_or_touches_chained_and_never_show_text_twice():
    a = FakeHit(FakeChunk("a", "d", 0, 300))
    b = FakeHit(FakeChunk("b", "d", 240, 540))  # the next chunk of the same document, overlapping a by 60
    other = FakeHit(FakeChunk("o", "e", 0, 300))
    span = lambda ranges: [(h.chunk.id, s, e) for h, s, e in ranges]  # noqa: E731
    # A, C, then B bridging them: one quote (joining chains), in the place of the first
    assert span(quote_ranges(supports((a, 0, 10), (a, 20, 30), (a, 10, 25)), 250)) == [("a", 0, 30)]
    # a sentence and the pair it is part of: the pair; the same sentence from the overlapping chunk: once
    assert span(quote_ranges(supports((a, 50, 80), (a, 50, 120), (b, 250, 280), (a, 250, 280)), 250)) == [
        ("a", 50, 120), ("b", 250, 280)]
    # another document's sentence at the same offsets is its own quote
    assert span(quote_ranges(supports((a, 0, 10), (other, 0, 10)), 250)) == [("a", 0, 10), ("o", 0, 10)]
    # touching beyond the bound: both kept apart (compose_quotes then bounds them); overlapping beyond it, or where no
    # chunk holds the union: the later left out, its text partly shown already
    assert span(quote_ranges(supports((a, 0, 200), (a, 200, 280)), 250)) == [("a", 0, 200), ("a", 200, 280)]
    assert span(quote_ranges(supports((a, 0, 200), (a, 150, 280)), 250)) == [("a", 0, 200)]
    assert span(quote_ranges(supports((a, 200, 290), (b, 280, 400)), 250)) == [("a", 200, 290)]
    # one sentence longer than the bound is still quoted (whole), and what it holds joins it
    assert span(quote_ranges(supports((a, 0, 280), (a, 10, 20)), 250)) == [("a", 0, 280)]


class AskedInEnglish(Question):
    """OPEN_Q read as an English question: only the language the answer path sees differs (the fake embedder reads
    no English, so a question written in English finds no supporting passage here)."""

    @property
    def language(self) -> str:
        return "en"


def test_a_question_not_in_chinese_keeps_the_models_words(fake_engine):
    _, hits, evidence = retrieved(fake_engine, OPEN_Q)
    asked = AskedInEnglish(OPEN_Q)

    def run(quote: bool):  # noqa: ANN202
        policy = replace(DEFAULT_POLICY, quote_open=quote)
        return ModelAnswerer(Scripted(REPLY), ExtractiveAnswerer(), policy, "auto").run(asked, hits, evidence, Control())

    words, quoted = run(False), run(True)
    assert asked.language == "en" and words.analysis.shape == "open" and not words.answer.refused  # it stands
    assert quoted.answer.text == words.answer.text and "Quoted" not in quoted.answer.notice


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
    on `sentences`, quoted as `open_quote` (test_meaning.row's fields, the shape open)."""
    r = row(kind, 0.99, True, **extra)
    kept = {**r["checked"][0], "text": words}
    return {**r, "shape": "open", "question": "项目为什么延期？", "answers": list(answers), "confidence": None,
            "extractive": "别的句子。[1]", "checked": [{**kept, "claim_sentence": s} for s in sentences],
            "open_quote": "".join(sentences)}


def test_choose_policy_simulates_the_quote_and_takes_it_on_the_pooled_gain(tmp_path, capsys):
    cp = _script("choose_policy")
    right = open_row("answerable", ["因为资金不足，项目延期。"], "项目延期了", answers=("资金不足",))
    assert cp.shipped(right) == cp.open_quoted(right, False) == (False, "项目延期了")  # the default's decision
    assert cp.open_quoted(right, True) == (False, "因为资金不足，项目延期。")  # the recorded quote
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
    # rows recorded before round 27 have no quote: refused, naming the file and the fix
    old = write_rows(tmp_path / "old.jsonl", [{k: v for k, v in right.items() if k != "open_quote"}])
    with pytest.raises(SystemExit, match=r"old.jsonl: 1 Chinese open rows with a kept sentence have no open_quote"):
        cp.main([str(old), "--open-quotes"])


def test_study_model_records_the_quote_the_product_shows(fake_engine):
    from rag.answering.support import strip_markers

    sm = _script("study_model")
    q, hits, _ = retrieved(fake_engine, OPEN_Q)
    recorded = sm.open_quote(q, answered(fake_engine, False), hits, "auto")  # made from the model's-words outcome
    assert recorded == strip_markers(answered(fake_engine, True).answer.text)
    factoid = answered(fake_engine, False, "3.7亿元[1]", "美图2023年的净利润是多少？")
    assert sm.open_quote(q, factoid, hits, "auto") is None
