"""The pick (README, "How auto was chosen", step 20): an English question over Chinese text, on the extractive
route, is answered with the sentence the model picks among the extractive answerer's best, and refused where the
model says none of them answers. The prompt, the rule, when it is asked (and when not), the extractive answerer's
own rules on the picked sentence, the serving queue passing it through, the saved cut, the bundled model's
first-token read, and the fitting script; the bundled model's own pick is tested in test_llm_integration.py."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import pytest

from rag.answering import decide
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.generation import Control, GenerationFailed
from rag.answering.model import DEFAULT_POLICY, ModelAnswerer, Policy, load_pick, pick_candidates, picked
from rag.answering.prompt import PICK_SYSTEM, TRANSLATE_SYSTEM, pick_messages, pick_words, translate_messages
from rag.answering.question import Question
from rag.errors import ModelError
from rag.serving import ModelQueue
from tests.answering.test_model_answerer import Scripted, retrieved
from tests.answering.test_reading_check import ReadingLlama, reader_with

ENGLISH_Q = "What was Meitu's total revenue in 2023?"
ENGLISH_ROUTES = {"factoid/en": "extractive", "*/en": "extractive", "*/zh": "model"}
PICKING = replace(DEFAULT_POLICY, routes=ENGLISH_ROUTES, pick_sentences=3, pick_none_at=0.5)


class Picking(Scripted):
    """A scripted generator that can also read a choice: first_token_probabilities gives `probs` (or raises)."""

    def __init__(self, probs=(0.1, 0.2, 0.6, 0.1), fail: str = "") -> None:  # noqa: ANN001
        super().__init__("unused")
        self.probs, self.fail_pick = list(probs), fail
        self.asked: list = []

    def first_token_probabilities(self, messages, words, control=None):  # noqa: ANN001
        self.asked.append((messages, list(words)))
        if self.fail_pick:
            raise GenerationFailed(self.fail_pick)
        return self.probs


def unbarred() -> ExtractiveAnswerer:
    """The extractive answerer without its standing bar for English questions (the fake embedder's cosines are
    not e5's), so that the pick's own rule is what decides here."""
    plain = ExtractiveAnswerer()
    return ExtractiveAnswerer(models=replace(plain.models, meta={**plain.models.meta,
                                                                 "cross_language_standing": -math.inf}))


def run_pick(engine, generator, question=ENGLISH_Q, policy=PICKING, control=None):  # noqa: ANN001, ANN201
    q, hits, evidence = retrieved(engine, question)
    answerer = ModelAnswerer(generator, unbarred(), policy, "auto")
    return answerer.run(q, hits, evidence, control or Control()), q, hits, evidence


def test_the_pick_prompt_numbers_the_sentences_and_reads_a_digit():
    messages = pick_messages("Which app?", ["美图 秀秀\n上线。", "Wink排名第三。"])
    assert messages == [{"role": "system", "content": PICK_SYSTEM},
                        {"role": "user", "content": "Sentences:\n1. 美图 秀秀 上线。\n2. Wink排名第三。\n\nQuestion: Which "
                                                    "app?\nWhich sentence answers the question? Reply with the "
                                                    "sentence's number only; reply 0 if none of them answers it."}]
    assert pick_words(3) == ["0", "1", "2", "3"]


def test_none_of_them_at_the_cut_refuses():
    assert decide.pick(0.49, 0.5, 5).answer
    refused = decide.pick(0.5, 0.5, 5)
    assert not refused.answer
    assert refused.reason == ("asked which of the 5 best sentences answers the English question, the model said none "
                              "of them with probability 0.50, at least 0.50")
    assert decide.pick(0.99, math.inf, 5).answer  # no cut: the pick never refuses


def test_the_picked_sentence_is_the_answer_with_the_extractive_answerers_form(fake_engine):
    generator = Picking((0.1, 0.2, 0.6, 0.1))
    outcome, q, hits, evidence = run_pick(fake_engine, generator)
    extractive = unbarred()
    analysis = extractive.analyse(q, hits, evidence)
    assert analysis.cross_language
    top = pick_candidates(analysis, 3)
    ((messages, words),) = generator.asked
    assert messages == pick_messages(ENGLISH_Q, [analysis.candidates[i].sentence.text.strip() for i in top])
    assert words == ["0", "1", "2", "3"]
    a = outcome.answer
    second = analysis.candidates[top[1]].sentence
    expected = extractive.answer_from(q, hits, evidence, picked(analysis, top[1]))
    assert (a.refused, a.answerer, a.text, a.citations[0].sentence) == (False, "auto", expected.text, second)
    assert a.notice == (f"Among the extractive answerer's 3 best sentences, the model picked “{second.text.strip()[:40]}"
                        f"{'…' if len(second.text.strip()) > 40 else ''}” as answering the question (probability 0.60; "
                        "“none of them” 0.10).")
    assert outcome.pick == (0.1, 0.2, 0.6, 0.1)
    assert a.timings_ms["pick"] == a.timings_ms["first_token"] >= 0.0
    assert generator.messages == []  # nothing was generated


def test_none_of_them_refuses_and_a_pick_of_the_quoted_sentence_keeps_the_extractive_answer(fake_engine):
    refused, q, hits, evidence = run_pick(fake_engine, Picking((0.55, 0.3, 0.1, 0.05)))
    assert (refused.answer.refused, refused.answer.answerer) == (True, "auto")
    assert "the model said none of them with probability 0.55, at least 0.50" in refused.answer.reason
    analysis = unbarred().analyse(q, hits, evidence)
    top = pick_candidates(analysis, 3)
    assert analysis.span_index in top  # the sentence the extractive answer quotes is among those shown
    probs = [0.1, 0.1, 0.1, 0.1]
    probs[1 + top.index(analysis.span_index)] = 0.6
    same, *_ = run_pick(fake_engine, Picking(probs))
    own = unbarred().answer(q, hits, evidence)
    assert (same.answer.text, same.answer.citations[0].sentence, same.answer.answerer) == (
        own.text, own.citations[0].sentence, "auto")


def test_the_extractive_answerers_rules_still_refuse_the_picked_sentence(fake_engine):
    # a year the article never gives: the question's numbers must stand in the answer's passage (decide.cross_language_numbers)
    outcome, *_ = run_pick(fake_engine, Picking((0.1, 0.2, 0.6, 0.1)), question="What was Meitu's total revenue in 1999?")
    assert outcome.answer.refused and outcome.pick == (0.1, 0.2, 0.6, 0.1)
    assert outcome.answer.reason == ("English question over Chinese text: the question's 1999 is not in the passage of "
                                     "the answer's sentence")
    assert outcome.answer.answerer == "extractive"  # its refusal, with its name


def test_no_pick_where_the_standing_bar_refuses_the_question(fake_engine):
    q, hits, evidence = retrieved(fake_engine, ENGLISH_Q)
    plain = ExtractiveAnswerer()
    barred = ExtractiveAnswerer(models=replace(plain.models, meta={**plain.models.meta,
                                                                   "cross_language_standing": math.inf}))
    generator = Picking()
    outcome = ModelAnswerer(generator, barred, PICKING, "auto").run(q, hits, evidence, Control())
    assert outcome.answer.refused and "English question over Chinese text: the best sentence stands" in outcome.answer.reason
    assert (outcome.answer.answerer, outcome.pick, generator.asked) == ("extractive", (), [])


def test_no_pick_without_logits_in_chinese_without_a_cut_or_after_a_stop(fake_engine):
    q, hits, evidence = retrieved(fake_engine, ENGLISH_Q)
    own = unbarred().answer(q, hits, evidence)
    plain, *_ = run_pick(fake_engine, Scripted("unused"))  # an endpoint: no first-token probabilities
    assert (plain.answer.text, plain.answer.answerer, plain.pick) == (own.text, "extractive", ())
    generator = Picking()
    off, *_ = run_pick(fake_engine, generator, policy=replace(PICKING, pick_sentences=0))
    assert (off.answer.text, off.pick) == (own.text, ())
    stopped = Control()
    stopped.stop.set()
    run_pick(fake_engine, generator, control=stopped)
    run_pick(fake_engine, generator, control=Control(deadline=0.0))
    chinese_routes = replace(PICKING, routes={**ENGLISH_ROUTES, "*/zh": "extractive"})
    run_pick(fake_engine, generator, question="美图2023年的总收入是多少？", policy=chinese_routes)
    assert generator.asked == []


def test_a_failed_pick_gives_the_extractive_answer_with_a_notice(fake_engine):
    outcome, q, hits, evidence = run_pick(fake_engine, Picking(fail="the model failed while reading (boom)"))
    own = unbarred().answer(q, hits, evidence)
    assert (outcome.answer.text, outcome.answer.answerer) == (own.text, "extractive")
    assert outcome.answer.notice == ("The model could not pick among the best sentences (the model failed while "
                                     "reading (boom)); this is the extractive answer.")
    assert outcome.failure == "the model failed while reading (boom)"


def test_through_the_serving_queue_an_endpoint_is_not_asked_and_a_busy_model_says_so(fake_engine):
    q, hits, evidence = retrieved(fake_engine, ENGLISH_Q)
    own = unbarred().answer(q, hits, evidence)
    endpoint = ModelAnswerer(ModelQueue(Scripted("unused"), queue_s=30.0), unbarred(), PICKING, "auto")
    plain = endpoint.run(q, hits, evidence, Control())
    assert (plain.answer.text, plain.answer.notice, plain.failure, plain.pick) == (own.text, own.notice, "", ())
    generator = Picking()
    queue = ModelQueue(generator, queue_s=30.0)
    queue._waiting.append(object())  # someone waits for the model
    busy = ModelAnswerer(queue, unbarred(), PICKING, "auto").run(q, hits, evidence, Control())
    assert (busy.answer.text, busy.answer.answerer, generator.asked) == (own.text, "extractive", [])
    assert busy.answer.notice.endswith("The model could not pick among the best sentences (the model is busy with "
                                       "other questions: the pick was skipped); this is the extractive answer.")


def test_pick_candidates_count_a_repeated_sentence_once(fake_engine):
    q, hits, evidence = retrieved(fake_engine, ENGLISH_Q)
    analysis = unbarred().analyse(q, hits, evidence)
    assert pick_candidates(analysis, 3) == analysis.order[:3]
    # the same sentence twice (a duplicated passage), ranked second: shown once
    twice = replace(analysis, candidates=[*analysis.candidates, analysis.candidates[analysis.order[0]]],
                    order=[analysis.order[0], len(analysis.candidates), *analysis.order[1:]])
    assert pick_candidates(twice, 3) == analysis.order[:3]
    own = analysis.span_index if analysis.shape == "factoid" else analysis.order[0]
    assert picked(analysis, own) is analysis
    # a factoid whose span the extractive answerer found in its second-ranked sentence: a pick of its first-ranked one
    # answers from that one, whole
    lower = replace(analysis, span_index=analysis.order[1])
    first = picked(lower, analysis.order[0])
    assert (first.order, first.span, first.span_index) == (analysis.order, None, analysis.order[0])
    other = picked(analysis, analysis.order[2])
    assert (other.order[0], other.span, other.span_index) == (analysis.order[2], None, analysis.order[2])
    assert sorted(other.order) == sorted(analysis.order)


def test_the_serving_queue_passes_the_pick_through_and_says_when_it_cannot():
    generator = Picking()
    queue = ModelQueue(generator, queue_s=30.0)
    assert queue.first_token_probabilities([{"role": "user", "content": "?"}], ["0", "1"]) == generator.probs
    assert (len(generator.asked), queue.busy, queue.service_s) == (1, False, None)
    with pytest.raises(GenerationFailed, match="scripted gives no token probabilities to read a choice from"):
        ModelQueue(Scripted("x"), queue_s=30.0).first_token_probabilities([], ["0", "1"])
    queue._waiting.append(object())
    with pytest.raises(GenerationFailed, match="busy with other questions: the pick was skipped"):
        queue.first_token_probabilities([{"role": "user", "content": "?"}], ["0", "1"])
    assert len(generator.asked) == 1


def test_the_bundled_model_reads_a_choice_from_its_first_token(tmp_path):
    llm = ReadingLlama()  # logits: 是 at 2, every other token at 0 ...
    llm._floats[ord("1")] = 1.0  # ... and 1 at 1
    g = reader_with(llm, tmp_path)
    probs = g.first_token_probabilities(pick_messages("Which?", ["甲。", "乙。"]), ["是", "0", "1"])
    e = math.exp(2.0)
    assert probs == pytest.approx([e / (e + 1 + math.e), 1 / (e + 1 + math.e), math.e / (e + 1 + math.e)], abs=1e-6)
    assert g.yes_probability(pick_messages("Which?", ["甲。"]), "是", "不是") == pytest.approx(e / (e + 1), abs=1e-6)


def test_the_saved_pick_is_read_and_checked(tmp_path):
    assert load_pick(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"

    def saved(pick):  # noqa: ANN001, ANN202
        path.write_text(json.dumps({"routes": {}, "pick": pick}), encoding="utf-8")
        return load_pick(path)

    assert saved(None) == {}
    assert saved({"sentences": 5, "refuse_none_at": 0.15}) == {"pick_sentences": 5, "pick_none_at": 0.15,
                                                               "pick_system": "pick", "translate_for_search": False,
                                                               "english_line": False}
    assert saved({"sentences": 5, "refuse_none_at": None, "system": "answer", "translate": True}) == {
        "pick_sentences": 5, "pick_none_at": math.inf, "pick_system": "answer", "translate_for_search": True,
        "english_line": False}
    with pytest.raises(ModelError, match="has pick translate 'yes': it must be true or false"):
        saved({"sentences": 5, "refuse_none_at": 0.2, "translate": "yes"})
    with pytest.raises(ModelError, match="has pick system 'other': it must be one of pick, answer"):
        saved({"sentences": 5, "refuse_none_at": 0.2, "system": "other"})
    with pytest.raises(ModelError, match=r"its `sentences` must be a whole number from 1 to 9. Rerun "
                                         r"scripts/choose_policy.py --pick --write"):
        saved({"sentences": 10, "refuse_none_at": 0.2})
    with pytest.raises(ModelError, match="pick refuse_none_at 0: it must be a number in"):
        saved({"sentences": 5, "refuse_none_at": 0})
    with pytest.raises(ModelError, match="pick_sentences 12: the pick reads one digit, so 0 .no pick. to 9"):
        Policy(pick_sentences=12)
    for cut in (0.0, -1.0, math.nan):
        with pytest.raises(ModelError, match="the pick's refusal cut must be above 0"):
            Policy(pick_none_at=cut)


def _row(kind: str, none: float, answer: str, refused: bool = False, extractive: str = "", ex_refused: bool = False,
         gold: tuple = ("27亿",)) -> dict:
    return {"kind": kind, "answers": list(gold) if kind == "answerable" else [], "cross_language": True,
            "pick": [none, 1 - none, 0.0, 0.0, 0.0, 0.0], "answer": answer, "refused": refused,
            "extractive": extractive or answer, "extractive_refused": ex_refused}


def test_choose_policy_fits_the_pick_cut_and_saves_it(tmp_path, capsys):
    import scripts.choose_policy as cp

    rows = [_row("answerable", 0.05, "美图总收入27亿元。", extractive="美图净利润3.7亿元。"),  # the pick's right sentence
            _row("answerable", 0.12, "美图总收入27亿元。"),
            _row("absent", 0.35, "美图月活2.49亿。"), _row("adversarial", 0.17, "美图月活2.49亿。"),
            _row("adversarial", 0.08, "美图月活2.49亿。")]
    fit = tmp_path / "pick-fit.jsonl"
    fit.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    routes = tmp_path / "routes.json"
    routes.write_text(json.dumps({"routes": {}}), encoding="utf-8")
    assert cp.main(["--pick", str(fit), "--write", str(routes)]) == 0
    out = capsys.readouterr().out
    # without the pick: 1 of 2 right, none refused (25.0); refusing at 0.15: both right, 2 of 3 refused (83.3)
    assert "| no pick (extractive) | 25.0 | 50.0 / 0.0 / 0.0 |" in out
    assert "| 0.15 | 83.3 | 100.0 / 66.7 / 0.0 |" in out
    assert ("chosen: pick among 5 (pick system message), refuse at none >= 0.15 (balanced 83.3 against 25.0 without "
            "the pick): taken") in out
    pick = json.loads(routes.read_text(encoding="utf-8"))["pick"]
    assert (pick["sentences"], pick["refuse_none_at"], pick["system"], pick["fitted_on"]) == (5, 0.15, "pick", [str(fit)])
    assert pick["translate"] is False  # rows without study_pick.py --translate
    assert pick["english_line"] is False  # step 65's switch, chosen apart: none saved before
    on = json.loads(routes.read_text(encoding="utf-8"))
    on["pick"]["english_line"] = True
    routes.write_text(json.dumps(on), encoding="utf-8")
    assert cp.main(["--pick", str(fit), "--write", str(routes)]) == 0
    assert json.loads(routes.read_text(encoding="utf-8"))["pick"]["english_line"] is True  # a refit keeps it
    capsys.readouterr()
    # rows searched in translation are saved so only when they beat the same rows searched as asked by 0.5 points
    plain = tmp_path / "pick-plain.jsonl"
    plain.write_text(fit.read_text(encoding="utf-8"), encoding="utf-8")
    fit.write_text("\n".join(json.dumps({**r, "translate": True}, ensure_ascii=False) for r in rows) + "\n",
                   encoding="utf-8")
    with pytest.raises(SystemExit, match="give the same studies searched as asked with --untranslated"):
        cp.main(["--pick", str(fit), "--write", str(routes)])
    assert cp.main(["--pick", str(fit), "--untranslated", str(plain), "--write", str(routes)]) == 0
    out = capsys.readouterr().out
    assert "searched in translation: balanced 83.3 against 83.3 searched as asked (+0.00; taken from 0.5)" in out
    assert "the translation is not taken: nothing is written" in out and ": not taken" in out
    assert json.loads(routes.read_text(encoding="utf-8"))["pick"]["translate"] is False  # the earlier save stands
    worse_plain = [{**rows[0], "answer": "美图净利润3.7亿元。"}, *rows[1:]]  # searched as asked, one answer wrong
    plain.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in worse_plain) + "\n", encoding="utf-8")
    assert cp.main(["--pick", str(fit), "--untranslated", str(plain), "--write", str(routes)]) == 0
    assert "(pick system message, searched in translation), refuse at none >= 0.15" in capsys.readouterr().out
    assert json.loads(routes.read_text(encoding="utf-8"))["pick"]["translate"] is True
    mixed = tmp_path / "pick-mixed.jsonl"
    mixed.write_text(json.dumps(rows[0], ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="some fitting rows were searched in translation and some not"):
        cp.main(["--pick", str(fit), str(mixed)])
    # rows where the pick failed are not fitted on
    fit.write_text(json.dumps({**rows[0], "failure": "boom"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="the pick failed on 1 questions"):
        cp.main(["--pick", str(fit)])
    # a pick that cannot beat the route without it is not saved
    worse = [_row("answerable", 0.05, "美图净利润3.7亿元。", extractive="美图总收入27亿元。"), _row("absent", 0.9, "x", refused=True,
                                                                                    ex_refused=True)]
    fit.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in worse) + "\n", encoding="utf-8")
    assert cp.main(["--pick", str(fit), "--write", str(routes)]) == 0
    assert ": not taken" in capsys.readouterr().out
    assert json.loads(routes.read_text(encoding="utf-8"))["pick"] is None


TRANSLATING = replace(PICKING, translate_for_search=True)


class SlowPicking(Picking):
    """A picking generator whose generations (here: the translation) take `seconds`, streaming as Scripted does."""

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__((0.1, 0.6, 0.2, 0.1))
        self.seconds = seconds

    def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
        time.sleep(self.seconds)
        return super().generate(messages, max_tokens, control)


def test_an_english_question_is_searched_in_its_translation_and_answered_as_asked(fake_engine):
    generator = SlowPicking(0.2)
    generator.pieces = ("“美图2023年的总收入", "是多少？”\n(translation)")
    fake_engine._answerers["auto"] = ModelAnswerer(generator, unbarred(), TRANSLATING, "auto")
    streamed: list[str] = []
    answer = fake_engine.ask(ENGLISH_Q, answerer="auto", control=Control(on_token=streamed.append))
    assert generator.messages[0] == translate_messages(ENGLISH_Q)
    assert generator.messages[0][0] == {"role": "system", "content": TRANSLATE_SYSTEM}
    assert answer.retrieval_query == "美图2023年的总收入是多少？"  # what the search read
    assert streamed == []  # the translation is not the answer: nothing of it streams to the caller's control
    assert answer.timings_ms["translate"] >= 200 and answer.timings_ms["first_token"] >= 200  # waited for, counted
    pick_prompt = generator.asked[0][0][1]["content"]
    assert pick_prompt.endswith(f"Question: {ENGLISH_Q}\nWhich sentence answers the question? Reply with the "
                                "sentence's number only; reply 0 if none of them answers it.")  # asked as asked
    chinese = fake_engine.ask("美图2023年的总收入是多少？", answerer="auto")
    # the Chinese question asked no translation: the one translation is still the English question's
    assert [m for m in generator.messages if m[0]["content"] == TRANSLATE_SYSTEM] == [translate_messages(ENGLISH_Q)]
    assert "translate" not in chinese.timings_ms


def test_the_translation_never_asks_for_its_questions_logprobs(fake_engine):
    """README step 42: a Control kept from an earlier answer may still ask for the question's log-probabilities; the
    translation is not an answer, so its generation is not asked (nor made again for want of them)."""

    class Recording(Picking):
        def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
            self.read_question = control.read_question
            return super().generate(messages, max_tokens, control)

    generator = Recording()
    generator.pieces = ("美图的收入是多少？",)
    answerer = ModelAnswerer(generator, unbarred(), TRANSLATING, "auto")
    kept = Control(read_question=True)
    assert answerer.search_query(Question.make(ENGLISH_Q), fake_engine.index, kept)[0] == "美图的收入是多少？"
    assert (generator.read_question, kept.read_question) == (False, True)


def test_a_follow_up_translates_only_itself_after_the_question_it_leans_on(fake_engine):
    generator = Picking()
    generator.pieces = ("它的净利润呢？",)
    answerer = ModelAnswerer(generator, unbarred(), TRANSLATING, "auto")
    history = [{"role": "user", "content": "美图2023年的总收入是多少？"}, {"role": "assistant", "content": "27亿元[1]"}]
    q = Question.make("And its net profit?", history)
    assert answerer.search_query(q, fake_engine.index, Control()) == (f"{q.previous} 它的净利润呢？", "", True)
    assert generator.messages == [translate_messages("And its net profit?")]


@pytest.mark.parametrize("reply, fail, searched, note", [
    (("Meitu's revenue?",), "", ENGLISH_Q, ""),  # no Chinese in the reply: searched as asked, silently
    ((), "the model crashed", ENGLISH_Q,
     "The question was searched as asked: the model could not translate it (the model crashed)."),
])
def test_a_translation_that_fails_leaves_the_question_searched_as_asked(fake_engine, reply, fail, searched, note):
    generator = Picking((0.1, 0.6, 0.2, 0.1))
    generator.pieces, generator.fail = reply, fail
    answerer = ModelAnswerer(generator, unbarred(), TRANSLATING, "auto")
    assert answerer.search_query(Question.make(ENGLISH_Q), fake_engine.index, Control()) == (searched, note, True)


def test_through_the_serving_queue_the_translation_runs_apart_and_is_skipped_when_others_wait(fake_engine):
    generator = Picking()
    generator.pieces = ("美图的收入是多少？",)
    queue = ModelQueue(generator, queue_s=30.0)
    answerer = ModelAnswerer(queue, unbarred(), TRANSLATING, "auto")
    told: list[int] = []
    q = Question.make(ENGLISH_Q)
    assert answerer.search_query(q, fake_engine.index, Control(on_queue=told.append)) == ("美图的收入是多少？", "", True)
    assert (told, queue.service_s) == ([], None)  # no queue place reported, not counted as an answer
    queue._waiting.append(object())  # someone waits for the model: the translation is skipped, not queued
    assert answerer.search_query(q, fake_engine.index, Control()) == (
        ENGLISH_Q, "The question was searched as asked: the model could not translate it (the model is busy with "
                   "other questions: the translation was skipped).", True)
    assert len(generator.messages) == 1


def test_no_translation_unless_set_english_over_chinese_and_running(fake_engine):
    q = Question.make(ENGLISH_Q)
    for policy, stop in ((PICKING, False), (TRANSLATING, True)):
        generator = Picking()
        generator.pieces = ("美图的收入是多少？",)
        control = Control()
        if stop:
            control.stop.set()
        assert ModelAnswerer(generator, unbarred(), policy, "auto").search_query(q, fake_engine.index, control) == (
            ENGLISH_Q, "", False)
        assert generator.messages == []
    chinese = Question.make("美图2023年的总收入是多少？")
    assert ModelAnswerer(Picking(), unbarred(), TRANSLATING, "auto").search_query(
        chinese, fake_engine.index, Control()) == (chinese.retrieval_query, "", False)
    endpoint = Scripted("美图的收入是多少？")  # no logits: an endpoint, which gets no pick either
    assert ModelAnswerer(endpoint, unbarred(), TRANSLATING, "auto").search_query(q, fake_engine.index, Control()) == (
        ENGLISH_Q, "", False)
    assert endpoint.messages == []


def test_an_english_index_is_not_searched_in_translation(fake_engine, tmp_path, fake_embedder, fake_config):
    from rag.chat import Engine
    from rag.indexer import empty_index

    assert fake_engine.index.mostly_cjk  # the bundled article
    source = tmp_path / "en.txt"
    source.write_text("Meitu made 2.7 billion yuan in 2023 (美图). Its net profit was 370 million yuan.\n",
                      encoding="utf-8")
    engine = Engine(fake_config, tmp_path / "en", fake_embedder, empty_index(fake_embedder))
    engine.add_files([source])
    assert not engine.index.mostly_cjk
    generator = Picking()
    generator.pieces = ("美图的收入是多少？",)
    engine._answerers["auto"] = ModelAnswerer(generator, unbarred(), TRANSLATING, "auto")
    answer = engine.ask("What was Meitu's revenue?", answerer="auto")
    assert answer.retrieval_query == "What was Meitu's revenue?" and "translate" not in answer.timings_ms
    assert translate_messages("What was Meitu's revenue?") not in generator.messages
