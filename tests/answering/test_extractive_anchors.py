"""Step 55: the extractive answerer checks a Chinese question's anchors (its numbers, years, Latin-script names, quoted
titles, people's names) in the passage of its answer's sentence, as the model's answers must (`decide.question_anchors`,
`Config.extractive_anchors`), alone and where it answers for a model that gave no answer."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answering import decide, make_answerer
from rag.answering.base import Evidence
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.generation import Control
from rag.answering.model import AUTO_POLICY, ModelAnswerer
from rag.answering.question import Question
from rag.config import Config
from rag.errors import InputError
from rag.retrieval import retrieve
from rag.tokenize import tokenize
from tests.answering.test_model_answerer import Scripted


def test_the_rule_names_what_the_passage_lacks():
    assert decide.question_anchors([]) == decide.ANSWER
    refused = decide.question_anchors(["2019", "Wink"])
    assert not refused.answer
    assert refused.reason == "the question's 2019, Wink is not in the passage of the answer's sentence"


def test_the_setting_from_the_environment_reaches_the_extractive_answerer(monkeypatch):
    monkeypatch.setenv("RAG_EXTRACTIVE_ANCHORS", "1")
    config = Config.from_env()
    assert config.extractive_anchors is True
    assert make_answerer(config, "extractive").check_anchors is True
    assert make_answerer(config.with_(extractive_anchors=False), "extractive").check_anchors is False
    monkeypatch.setenv("RAG_EXTRACTIVE_ANCHORS", "sometimes")
    with pytest.raises(InputError, match="RAG_EXTRACTIVE_ANCHORS='sometimes' is not a yes or no"):
        Config.from_env()


def ask(engine, question: str, check: bool):
    q = Question.make(question)
    vector = engine.embedder.embed_queries([q.retrieval_query])[0]
    hits = retrieve(engine.index, vector, tokenize(q.retrieval_query), 5)
    return ExtractiveAnswerer(check_anchors=check).answer(q, hits, Evidence(engine.index, vector, engine.embedder))


@pytest.mark.integration
def test_a_question_pinned_to_what_the_passage_lacks_is_refused(real_engine):
    # the article gives 2023's revenue; asked for 2019's, the unchecked answerer quotes the 2023 sentence
    unchecked = ask(real_engine, "美图2019年的总收入是多少？", False)
    assert not unchecked.refused and "总收入27亿元" in unchecked.text
    checked = ask(real_engine, "美图2019年的总收入是多少？", True)
    assert checked.refused and checked.reason == "the question's 2019 is not in the passage of the answer's sentence"
    # the same question about the year the article gives is answered the same either way
    assert ask(real_engine, "美图2023年的总收入是多少？", True).text == ask(real_engine, "美图2023年的总收入是多少？",
                                                                       False).text
    assert "总收入27亿元" in ask(real_engine, "美图2023年的总收入是多少？", True).text
    # a person the article never names, and a quoted title, shown as the question writes it
    assert ask(real_engine, "马云在美图担任什么职务？", True).reason == ("the question's 马云 is not in the passage of "
                                                                  "the answer's sentence")
    assert ask(real_engine, "美图在《AI白皮书》里说了什么？", True).reason == ("the question's AI白皮书 is not in the "
                                                                       "passage of the answer's sentence")
    # a Latin-script name the passage holds passes
    wink = ask(real_engine, "Wink在视频剪辑赛道排第几？", True)
    assert not wink.refused and "第三名" in wink.text


@pytest.mark.integration
def test_the_models_fallback_checks_the_anchors_when_set(real_engine):
    q = Question.make("美图2019年的总收入是多少？")
    vector = real_engine.embedder.embed_queries([q.retrieval_query])[0]
    hits = retrieve(real_engine.index, vector, tokenize(q.retrieval_query), 5)
    evidence = Evidence(real_engine.index, vector, real_engine.embedder)
    busy = Scripted(fail="the model is busy with other questions (waited 15 s; RAG_LLM_QUEUE_S)")
    for anchors in (False, True):
        answerer = ModelAnswerer(busy, ExtractiveAnswerer(), replace(AUTO_POLICY, fallback_anchors=anchors), "auto")
        a = answerer.run(q, hits, evidence, Control()).answer
        assert a.answerer == "extractive"
        if anchors:
            assert a.refused and a.reason == "the question's 2019 is not in the passage of the answer's sentence"
            assert a.notice.endswith("the extractive answerer found none either.")
        else:
            assert not a.refused and "总收入27亿元" in a.text


def test_study_anchors_rates_and_rule_by_hand(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import study_anchors as sa

    def row(kind, right=False, refused=False, missing=()):
        return {"kind": kind, "id": kind, "right": right, "refused": refused, "missing": list(missing)}

    # four answerable (three right, one of them with an anchor its passage lacks), two swaps answered (one of them
    # lacking its anchor), one absent refused
    rows = [row("answerable", True), row("answerable", True), row("answerable", True, missing=["李娜"]),
            row("answerable"), row("adversarial", missing=["2019"]), row("adversarial"), row("absent", refused=True)]
    assert sa.rates(rows, False) == {"answerable": 75.0, "adversarial": 0.0, "absent": 100.0}
    assert sa.rates(rows, True) == {"answerable": 50.0, "adversarial": 50.0, "absent": 100.0}
    assert sa.balanced(sa.rates(rows, False)) == 62.5 and sa.balanced(sa.rates(rows, True)) == 62.5
    assert not sa.taken(rows)  # no gain, and answerable right loses 25 points
    rows[2]["missing"] = []  # the check now costs no answerable question: +12.5 balanced
    assert sa.taken(rows)
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert sa.main(["--choose", str(path)]) == 0
    assert "chosen: extractive_anchors = True (balanced 62.50 -> 75.00" in capsys.readouterr().out
    path.write_text("\n".join(json.dumps(r) for r in rows[:4]), encoding="utf-8")
    with pytest.raises(SystemExit, match="needs answerable rows and unanswerable ones"):
        sa.main(["--choose", str(path)])
