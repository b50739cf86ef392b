"""Step 65 (README, "How auto was chosen"): an English factoid over Chinese text, answered with a Chinese sentence by
the English route, is shown as that sentence's words with their English, written by the model and checked. The check
(words in the sentence as written, the English's numbers the sentence's by value), the answer's form and span, when
the model is asked (and when not), a failing line keeping the sentence answer with a notice, the serving queue, the
saved switch, and the study script's table."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answering.english import ENGLISH_SYSTEM, Line, check_line, english_messages, find_words, with_line
from rag.answering.generation import Control
from rag.answering.model import ModelAnswerer, load_pick
from rag.errors import ModelError
from rag.serving import ModelQueue
from tests.answering.test_model_answerer import retrieved
from tests.answering.test_pick import ENGLISH_Q, PICKING, Picking, unbarred

SENTENCE = "Fortune Business Insights报告预测,到2030 年,仅AI 图像生成市场的规模将达到9.17亿美元,年均复合增长率为17.4%。"
LINING = replace(PICKING, english_line=True)
# the fake engine's pick: the first of the three sentences shown is SENTENCE
FIRST = (0.1, 0.6, 0.2, 0.1)


def test_the_prompt_shows_the_sentence_and_the_question_on_one_line_each():
    assert english_messages("How big?\n", "市场 规模\n达到9.17亿美元。") == [
        {"role": "system", "content": ENGLISH_SYSTEM},
        {"role": "user", "content": "Chinese sentence: 市场 规模 达到9.17亿美元。\n\nQuestion: How big?\n\nCopy the words of "
                                    "the Chinese sentence that answer the question, exactly as written, then give "
                                    "their English in brackets. Reply with that only, for example: 1.2万辆 (12,000 "
                                    "vehicles)"}]


@pytest.mark.parametrize("reply, words, english", [
    ("9.17亿美元 (917 million US dollars)", "9.17亿美元", "917 million US dollars"),
    ("9.17亿美元（917 million US dollars）。", "9.17亿美元", "917 million US dollars"),  # full-width brackets
    ("“2030 年” (the year 2030)\nmore text", "2030 年", "the year 2030"),  # the sentence's own characters, space too
    ("2030年 (2030)", "2030 年", "2030"),  # spaces aside, shown as the sentence writes them
    ("17.4% (17.4 percent)", "17.4%", "17.4 percent"),
    ("Fortune Business Insights (Fortune Business Insights)", "Fortune Business Insights",
     "Fortune Business Insights"),  # Latin words the sentence writes are copied too
])
def test_a_line_whose_words_stand_in_the_sentence_is_kept(reply, words, english):
    line, why = check_line(reply, SENTENCE)
    assert why == ""
    assert (line.words, line.english) == (words, english)
    assert SENTENCE[line.start:line.start + len(line.words)] == line.words


@pytest.mark.parametrize("reply, why", [
    ("The market will reach 917 million US dollars.", "it did not write the sentence's words with their English in "
                                                      "brackets"),
    ("9.17亿元 (917 million yuan)", "“9.17亿元” is not in the cited sentence as written"),
    ("917,000,000 (917 million)", "“917,000,000” is not in the cited sentence as written"),
    ("9.17亿美元 (9.17 billion US dollars)", "its English gives 9.17 billion, a value the cited sentence does not hold"),
    ("9.17亿美元 (917 million US dollars, 2031)", "its English gives 2031, a value the cited sentence does not hold"),
    ("9.17亿美元 (9.17%)", "its English gives 9.17%, which the cited sentence does not hold as a percentage"),
    ("9.17亿美元 (9.17亿美元)", "its English holds Chinese characters"),
    ("9.17亿美元 ()", "it did not write the sentence's words with their English in brackets"),
    (f"{SENTENCE} (the whole sentence)", "it copied 75 characters of the sentence, not the answer's words"),
    ("9.17亿美元 (" + "very " * 30 + "big)", "its English runs to 153 characters"),
    ("", "it did not write the sentence's words with their English in brackets"),
])
def test_a_line_that_the_sentence_does_not_bear_out_is_not_used(reply, why):
    assert check_line(reply, SENTENCE) == (None, why)


def test_words_are_found_with_spaces_aside():
    assert find_words("2030年", SENTENCE) == (SENTENCE.index("2030 年"), SENTENCE.index("2030 年") + 6)
    assert find_words("  ", SENTENCE) is None
    assert find_words("2031年", SENTENCE) is None


def run_line(engine, *pieces, question=ENGLISH_Q, policy=LINING, control=None, probs=FIRST):  # noqa: ANN001, ANN201
    q, hits, evidence = retrieved(engine, question)
    generator = Picking(probs)
    generator.pieces = pieces
    outcome = ModelAnswerer(generator, unbarred(), policy, "auto").run(q, hits, evidence, control or Control())
    return outcome, generator


def test_the_line_is_the_answer_with_the_sentences_words_bold_and_cited(fake_engine):
    outcome, generator = run_line(fake_engine, "9.17亿美元", " (917 million US dollars)")
    plain, _ = run_line(fake_engine, "unused", policy=PICKING)
    a, before = outcome.answer, plain.answer
    assert before.text == SENTENCE + "[1]" and not before.refused
    assert generator.messages == [english_messages(ENGLISH_Q, SENTENCE)]
    assert (a.text, a.refused, a.answerer) == ("9.17亿美元[1] (in English: 917 million US dollars)", False, "auto")
    assert a.span_parts() == ("", "9.17亿美元", "[1] (in English: 917 million US dollars)")
    sentence = before.citations[0].sentence
    assert (a.span.start, a.span.end, a.span.n) == (sentence.start + SENTENCE.index("9.17亿美元"),
                                                    sentence.start + SENTENCE.index("9.17亿美元") + 7, 1)
    assert a.citations == before.citations[:1] and a.hits == before.hits
    assert [s.text for s in a.sentences] == [a.text]
    assert a.notice == (before.notice + " In English: the bold words are the cited sentence's own; the English in "
                        "brackets is the model's translation of them (its numbers checked against the sentence). The "
                        f"sentence: “{SENTENCE}”")
    assert a.timings_ms["first_token"] == pytest.approx(a.timings_ms["pick"] + a.timings_ms["english"])
    assert a.generated_tokens == 2
    assert (outcome.english_reply, outcome.english_why) == ("9.17亿美元 (917 million US dollars)", "")


def test_a_line_that_fails_its_check_keeps_the_sentence_answer_and_says_why(fake_engine):
    outcome, _ = run_line(fake_engine, "9.17亿美元 (9.17 billion US dollars)")
    a = outcome.answer
    assert a.text == SENTENCE + "[1]" and not a.refused
    assert a.notice.endswith("The answer is the cited sentence as written: the model's English answer (“9.17亿美元 (9.17 "
                             "billion US dollars)”) was not shown, because its English gives 9.17 billion, a value the "
                             "cited sentence does not hold.")
    assert outcome.english_why == "its English gives 9.17 billion, a value the cited sentence does not hold"
    assert "english" in a.timings_ms


def test_a_failed_generation_keeps_the_sentence_answer_with_a_notice(fake_engine):
    q, hits, evidence = retrieved(fake_engine, ENGLISH_Q)
    generator = Picking(FIRST)
    generator.fail = "the model broke"
    outcome = ModelAnswerer(generator, unbarred(), LINING, "auto").run(q, hits, evidence, Control())
    assert outcome.answer.text == SENTENCE + "[1]" and not outcome.answer.refused
    assert outcome.answer.notice.endswith("The answer is the cited sentence as written: the model could not write it "
                                          "in English (the model broke).")
    assert outcome.english_why == "failed: the model broke"


def test_no_line_unless_set_answered_english_factoid_and_running(fake_engine):
    off, generator = run_line(fake_engine, "9.17亿美元 (917 million US dollars)", policy=PICKING)
    assert generator.messages == [] and off.english_reply == ""
    refused, generator = run_line(fake_engine, "9.17亿美元 (917 million US dollars)", probs=(0.9, 0.05, 0.03, 0.02))
    assert refused.answer.refused and generator.messages == []  # "none of them": no line for a refusal
    stopped = Control()
    stopped.stop.set()
    after_stop, generator = run_line(fake_engine, "9.17亿美元 (917 million US dollars)", control=stopped)
    assert generator.messages == [] and "in English" not in after_stop.answer.text
    chinese, generator = run_line(fake_engine, "9.17亿美元 (917 million US dollars)", question="美图2023年的总收入是多少？",
                                  policy=replace(LINING, routes={"*/zh": "extractive"}))
    assert generator.messages == [] and "in English" not in chinese.answer.text


def test_without_a_pick_the_extractive_sentence_answer_gets_the_line_too(fake_engine):
    # an endpoint has no logits, so no pick: the English route's own sentence answer is given the line
    q, hits, evidence = retrieved(fake_engine, ENGLISH_Q)
    from tests.answering.test_model_answerer import Scripted
    endpoint = Scripted("9.17亿美元 (917 million US dollars)")
    outcome = ModelAnswerer(endpoint, unbarred(), LINING, "auto").run(q, hits, evidence, Control())
    assert outcome.answer.text == "9.17亿美元[1] (in English: 917 million US dollars)"
    assert endpoint.messages == [english_messages(ENGLISH_Q, SENTENCE)]


def test_through_the_serving_queue_the_line_runs_apart_and_is_skipped_when_others_wait(fake_engine):
    q, hits, evidence = retrieved(fake_engine, ENGLISH_Q)
    generator = Picking(FIRST)
    generator.pieces = ("9.17亿美元 (917 million US dollars)",)
    queue = ModelQueue(generator, queue_s=30.0)
    answerer = ModelAnswerer(queue, unbarred(), LINING, "auto")
    assert answerer.run(q, hits, evidence, Control()).answer.text == "9.17亿美元[1] (in English: 917 million US dollars)"
    assert queue.service_s is None  # the line, like the pick, is not counted as an answer
    queue._waiting.append(object())  # someone waits for the model: the line is skipped, not queued
    busy = answerer.run(q, hits, evidence, Control()).answer
    assert busy.text == SENTENCE + "[1]"
    assert "the model could not write it in English (the model is busy with other questions: the English answer was " \
           "skipped)." in busy.notice


def test_with_line_keeps_everything_but_the_text_span_and_citations(fake_engine):
    outcome, _ = run_line(fake_engine, "unused", policy=PICKING)
    answer = outcome.answer
    shown = with_line(answer, Line("2030 年", SENTENCE.index("2030 年"), "2030"), answer.citations[0])
    assert shown.text == "2030 年[1] (in English: 2030)"
    assert (shown.question, shown.hits, shown.kind, shown.reason) == (answer.question, answer.hits, answer.kind, "")


def test_the_saved_switch_is_read_and_checked(tmp_path):
    path = tmp_path / "routes.json"

    def saved(pick):  # noqa: ANN001, ANN202
        path.write_text(json.dumps({"routes": {}, "pick": pick}), encoding="utf-8")
        return load_pick(path)

    assert saved({"sentences": 5, "refuse_none_at": 0.15})["english_line"] is False
    assert saved({"sentences": 5, "refuse_none_at": None, "english_line": True}) == {
        "pick_sentences": 5, "pick_none_at": math.inf, "pick_system": "pick", "translate_for_search": False,
        "english_line": True}
    with pytest.raises(ModelError, match="has pick english_line 'on': it must be true or false. Rerun "
                                         "scripts/choose_policy.py --pick --write"):
        saved({"sentences": 5, "refuse_none_at": 0.2, "english_line": "on"})


def test_the_study_table_compares_the_two_answers_of_the_same_rows(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import study_english

    rows = [
        {"kind": "answerable", "answers": ["9.17亿美元"], "cross_language": True, "refused": False,
         "answer": SENTENCE + "[1]", "answer_line": "9.17亿美元[1] (in English: 917 million US dollars)",
         "line_asked": True, "line_why": "", "line_s": 1.0},
        {"kind": "answerable", "answers": ["2030"], "cross_language": True, "refused": False,
         "answer": SENTENCE + "[1]", "answer_line": "9.17亿美元[1] (in English: 917 million US dollars)",
         "line_asked": True, "line_why": "", "line_s": 3.0},
        {"kind": "answerable", "answers": ["17.4%"], "cross_language": True, "refused": False,
         "answer": SENTENCE + "[1]", "answer_line": SENTENCE + "[1]", "line_asked": True,
         "line_why": "its English holds Chinese characters", "line_s": 2.0},
        {"kind": "absent", "answers": [], "cross_language": True, "refused": True, "answer": "Sorry",
         "answer_line": "Sorry", "line_asked": False, "line_why": "", "line_s": 0.0},
        {"kind": "answerable", "answers": ["x"], "cross_language": False, "refused": False, "answer": "x",
         "answer_line": "x", "line_asked": False, "line_why": "", "line_s": 0.0},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    table = study_english.summary([path]).splitlines()
    assert table[2] == "| rows.jsonl | 4 | 100.0 (3/3) | 66.7 (2/3) | 100.0 | 2 / 3 | 1/2 | 2.00 / 2.90 |"


def test_an_english_questions_sentence_answer_shows_no_bold_and_a_chinese_one_keeps_it(fake_engine, monkeypatch):
    """Step 67: the span finder reads the question's words, which an English question over Chinese text does not share
    (here it bolds `Insights报告预测` for a revenue question); the sentence is the answer, with no bold. A Chinese
    question's span, and an English one's over English text, stay (test_answering_real.py, with the real model)."""
    from rag.answering import extractive

    q, hits, evidence = retrieved(fake_engine, ENGLISH_Q)
    plain = unbarred().answer(q, hits, evidence)
    monkeypatch.setattr(extractive, "CROSS_LANGUAGE_SPAN", True)
    bolded = unbarred().answer(q, hits, evidence)
    assert bolded.span.text == "Insights报告预测"
    assert (plain.span, plain.text, plain.citations) == (None, bolded.text, bolded.citations)
    assert plain.span_parts() == (plain.text, "", "")
