"""The one suite every answerer passes (like tests/stores/test_stores.py for vector stores).

Runs in the fast suite over the bundled article with the deterministic fake embedder. Hashed n-gram
cosines are not e5's, so the extractive answerer's fitted refusal threshold would refuse everything here:
its "answering" variant lowers that one threshold so that its sentence choice, spans and composition run;
its "as fitted" variant keeps the threshold and must refuse with the model's reason. Add an answerer by
adding a name and a builder to ANSWERERS.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import pytest

from rag.answering import decide, make_answerer
from rag.answering.base import REFUSAL, Evidence
from rag.answering.citations import check_citations
from rag.answering.compose import CLOSEST
from rag.answering.decision import default_models
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.generation import Generation
from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer
from rag.answering.question import Question, question_language
from rag.errors import InputError
from rag.retrieval import retrieve
from rag.schema import Chunk, Hit
from rag.tokenize import tokenize
from tests.conftest import ARTICLE, ROOT


def _always_answering_extractive(config):
    models = default_models()
    return ExtractiveAnswerer(config.max_answer_chars, replace(models, answer=replace(models.answer,
                                                                                      threshold=-math.inf)))


class EchoFirstSentence:
    """A Generator that answers with the first sentence of excerpt [1], cited: a faithful quote, so the
    model answerers' checking and composition run on every question."""

    name = "echo"

    def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
        user = messages[-1]["content"]
        first = user.split("\n")[1].split(") ", 1)[1]
        sentence = re.split(r"(?<=[。！？])", first)[0]
        if control is not None:
            control.token(sentence)
        return Generation(sentence + "[1]", tokens=1)


ANSWERERS = {
    "extractive": _always_answering_extractive,
    "extractive-as-fitted": lambda config: make_answerer(config, "extractive"),
    "sentence": lambda config: make_answerer(config, "sentence"),
    "model": lambda config: ModelAnswerer(EchoFirstSentence(), _always_answering_extractive(config), DEFAULT_POLICY,
                                          "model"),
    "auto-as-fitted": lambda config: ModelAnswerer(EchoFirstSentence(), ExtractiveAnswerer(config.max_answer_chars),
                                                   AUTO_POLICY, "auto"),
}
CASES = [json.loads(line) for line in (ROOT / "eval" / "qa_article.jsonl").read_text(encoding="utf-8").splitlines()
         if line.strip()][:60]


@pytest.fixture(scope="module")
def engine(tmp_path_factory, fake_embedder, fake_config):
    from rag.chat import Engine
    from rag.indexer import empty_index

    engine = Engine(fake_config, tmp_path_factory.mktemp("contract") / "index", fake_embedder,
                    empty_index(fake_embedder))
    engine.add_files([ARTICLE])
    return engine


def ask(engine, answerer, text: str, history: list[dict] | None = None, hits: list[Hit] | None = None):
    question = Question.make(text, history)
    vector = engine.embedder.embed_queries([question.retrieval_query])[0]
    if hits is None:
        hits = retrieve(engine.index, vector, tokenize(question.retrieval_query), 5, "hybrid", 60, 30)
    return answerer.answer(question, hits, Evidence(engine.index, vector, engine.embedder))


def check_refusal(answer, name: str) -> None:
    """A refusal says so first; it may then quote, cited [1], the one passage sentence a model's withheld
    answer stood on (compose.refuse_with_closest), verbatim and said not to be an answer."""
    assert answer.refused and answer.reason, f"{name} refused without saying why"
    assert answer.span is None
    refusal = REFUSAL[question_language(answer.question)]
    if not answer.citations:
        assert answer.text == refusal
        return
    (cited,) = answer.citations
    quote = " ".join(cited.sentence.text.split())
    lang = question_language(answer.question)
    assert answer.text == f"{refusal}{'' if lang == 'zh' else ' '}{CLOSEST[lang].format(quote=quote)}[1]"
    assert cited.n == 1 and cited.sentence.text in cited.hit.chunk.text and check_citations(answer) == []


@pytest.mark.parametrize("name", ANSWERERS)
def test_every_marker_resolves_and_every_span_lies_in_its_sentence(engine, name):
    answerer = ANSWERERS[name](engine.config)
    answered = spans = closest = 0
    for case in CASES:
        answer = ask(engine, answerer, case["question"], case.get("history") or None)
        # a model answerer gives summaries (and a model's failures) to the extractive answerer, and says so
        assert answer.answerer in (answerer.name, "extractive" if isinstance(answerer, ModelAnswerer) else "")
        if answer.refused:
            check_refusal(answer, name)
            closest += bool(answer.citations)
            continue
        answered += 1
        assert check_citations(answer) == [], (case["id"], answer.text)
        assert answer.reason == ""
        numbers = [c.n for c in answer.citations]
        assert numbers == list(range(1, len(numbers) + 1))
        assert all(set(s.citations) <= set(numbers) for s in answer.sentences)
        assert "**" not in answer.text  # a span is offsets, never markup
        if answer.span is not None:
            spans += 1
            before, shown, _ = answer.span_parts()
            assert shown == answer.span.text, (case["id"], answer.text, answer.span)
            cited = next(c for c in answer.citations if c.n == answer.span.n)
            assert cited.sentence.start <= answer.span.start < answer.span.end <= cited.sentence.end
            assert f"[{answer.span.n}]" not in before  # shown in the quote of its own citation
    if name == "auto-as-fitted":  # its refusal leans on the extractive logit, meaningless on fake cosines:
        assert closest >= 1  # any count of answers is fine, but answers it withheld quote their sentence
    elif name == "extractive-as-fitted":
        assert answered == 0  # fake cosines never clear the fitted threshold: all refused, with reasons
    else:
        assert answered >= len(CASES) // 2
    if name == "extractive":
        assert spans > 0  # factoid spans were composed and located


@pytest.mark.parametrize("name", ANSWERERS)
def test_a_refusal_carries_its_reason(engine, name):
    answerer = ANSWERERS[name](engine.config)
    no_hits = ask(engine, answerer, "美图2023年的总收入是多少？", hits=[])
    check_refusal(no_hits, name)
    assert no_hits.reason == decide.NO_HITS
    # a passage of a document the index does not hold: no indexed sentence lies inside it
    stranger = Chunk("x1", "not-indexed", "other.txt", 0, 12, "", "美图2023年总收入约27亿元。")
    outside = ask(engine, answerer, "美图2023年的总收入是多少？", hits=[Hit(stranger, 0.03, 1, 0.9, 1.0)])
    check_refusal(outside, name)


@pytest.mark.parametrize("name", ANSWERERS)
@pytest.mark.parametrize("history", ["美图的CFO是谁？", [{"role": "user", "content": 3}], [["user", "hi"]]])
def test_bad_history_is_rejected(engine, name, history):
    answerer = ANSWERERS[name](engine.config)
    with pytest.raises(InputError, match="history must be a list of"):
        ask(engine, answerer, "他对毛利率说了什么？", history=history)


def test_the_engine_rejects_bad_history_for_every_configured_answerer(engine):
    for name in ("extractive", "sentence"):
        with pytest.raises(InputError, match="history must be a list of"):
            engine.ask("他对毛利率说了什么？", history="美图的CFO是谁？", answerer=name)


def test_the_suite_sees_the_questions() -> None:
    assert len(CASES) == 60  # the contract is checked on real questions, not on an empty list
