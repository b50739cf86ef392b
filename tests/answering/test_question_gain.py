"""The question's gain from the excerpts (README, "How auto was chosen", step 46; Policy.min_question_gain): the feature,
the bundled model's reading of the question without the excerpts, the product's cut, the saved value and the fitting
script's simulation of it."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from rag.answering import decide
from rag.answering.confidence import question_gain
from rag.answering.generation import Control, Generation, GenerationFailed
from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer, auto_policy, load_question_gain
from rag.answering.prompt import QUESTION_LEAD
from rag.errors import ModelError
from tests.answering.test_confidence import GIVEN
from tests.answering.test_model_answerer import _script, retrieved
from tests.answering.test_prefer_extractive import PROFIT_Q, extractive_with
from tests.answering.test_question_surprise import FakeLlama

# the same question read after the excerpts and without them: 净利润 gains 4 nats, the rest 1 or nothing; the question
# mark is left out of the mean
WITH = (("美", -2.0), ("图", -0.1), ("2023", -0.5), ("年的", -0.3), ("净利润", -1.0), ("是多少", -0.2), ("？", -0.1))
WITHOUT = (("美", -3.0), ("图", -0.1), ("2023", -1.5), ("年的", -0.3), ("净利润", -5.0), ("是多少", -0.2), ("？", -4.0))
# a question the excerpts do not explain: every word as expected with them as without (one less)
FLAT = tuple((t, v - 0.1) for t, v in WITHOUT)
# read without the excerpts, the answered question's words are each 0.1 more expected than with them
PRIMED = tuple((t, v + 0.1) for t, v in WITH)


def test_the_gain_is_the_mean_per_token_difference_without_punctuation():
    assert question_gain(WITH, WITHOUT) == pytest.approx((1.0 + 0.0 + 1.0 + 0.0 + 4.0 + 0.0) / 6)
    assert question_gain(FLAT, WITHOUT) == pytest.approx(-0.1)
    assert question_gain((), WITHOUT) is None
    assert question_gain(WITH, WITHOUT[:-1]) is None  # not the same tokens
    assert question_gain(WITH, (("美", -3.0), *WITHOUT[1:4], ("利润", -5.0), *WITHOUT[5:])) is None
    assert question_gain((("？", -1.0),), (("？", -2.0),)) is None  # punctuation only


def test_the_reason_gives_the_gain_and_the_cut():
    assert decide.unexplained_question(0.31, 0.75) == (
        "the passages the model read make the question's words hardly more expected than no passage does (a mean "
        "gain of 0.31 in log-probability per token, below 0.75): they are likely about something else")


class Reading:
    """A generator whose reply comes with the question's log-probabilities after the excerpts, and which reads the
    question without them as `prior` (an exception: the model failing; None: no such method, as an endpoint)."""

    name = "scripted"

    def __init__(self, prior) -> None:  # noqa: ANN001
        self.prior, self.asked = prior, []

    def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
        return Generation("3.7亿元[1]", tokens=len(GIVEN), token_probs=GIVEN, question_logprobs=WITH)

    def question_logprobs_in(self, messages, control=None):  # noqa: ANN001
        self.asked.append(messages[-1]["content"])
        if isinstance(self.prior, Exception):
            raise self.prior
        return self.prior


def ask(engine, prior, below: float):  # noqa: ANN001, ANN201
    q, hits, evidence = retrieved(engine, PROFIT_Q)
    generator = Reading(prior)
    answerer = ModelAnswerer(generator, extractive_with(-math.inf), replace(DEFAULT_POLICY, min_question_gain=below,
                                                                          min_question_logprob=-16.0), "auto")
    return answerer.answer(q, hits, evidence), generator.asked


def test_the_models_own_answer_is_refused_where_the_excerpts_explain_the_question_too_little(fake_engine):
    kept, asked = ask(fake_engine, WITHOUT, 0.75)  # gain 1.0
    assert (kept.answerer, kept.text, kept.refused) == ("auto", "3.7亿元[1]", False)
    # the question read once more, in the answer's prompt with its excerpts block left empty
    assert len(asked) == 1 and asked[0].startswith("<excerpts>\n\n</excerpts>\n" + QUESTION_LEAD + PROFIT_Q)
    assert "question_prior" in kept.timings_ms
    refused, _ = ask(fake_engine, PRIMED, 0.75)  # gain -0.1
    assert refused.refused and refused.answerer == "auto"
    assert refused.reason == decide.unexplained_question(-0.1, 0.75)
    assert f"The model's answer was withheld: {refused.reason}." in refused.notice
    assert ask(fake_engine, WITHOUT, 1.0)[0].refused is False  # at the cut: kept
    assert ask(fake_engine, WITHOUT, 1.01)[0].refused is True


def test_without_a_reading_the_cut_is_not_applied_and_nothing_is_read_when_it_is_off(fake_engine):
    assert ask(fake_engine, (), 0.75)[0].refused is False  # no prior read (the question line not found)
    assert ask(fake_engine, GenerationFailed("the model failed while reading"), 0.75)[0].refused is False
    answer, asked = ask(fake_engine, PRIMED, -math.inf)
    assert answer.refused is False and asked == [] and "question_prior" not in answer.timings_ms
    # an endpoint has no way to read it: answered as before
    q, hits, evidence = retrieved(fake_engine, PROFIT_Q)

    class Endpoint(Reading):
        question_logprobs_in = None

    answerer = ModelAnswerer(Endpoint(PRIMED), extractive_with(-math.inf), replace(DEFAULT_POLICY, min_question_gain=5.0),
                             "auto")
    assert answerer.answer(q, hits, evidence).refused is False


def test_the_bundled_model_reads_the_question_without_the_excerpts(tmp_path):
    from rag.answering import bundled

    g = bundled.LlamaCppGenerator(tmp_path / "m.gguf", "qwen", reply_cache=4)
    g._llm = FakeLlama("美图的净利润？")
    g._systems.keep = 0  # the fake keeps no llama.cpp state
    messages = [{"role": "user", "content": f"<excerpts>\n\n</excerpts>\n{QUESTION_LEAD}美图的视网膜？\n用中文回答"}]
    out = g.question_logprobs_in(messages, Control())
    assert [t for t, _ in out] == list("美图的视网膜？")
    assert dict(out)["视"] == pytest.approx(-50.0, abs=0.01)
    g._llm = None
    g.path = tmp_path / "missing.gguf"  # no model file: the failure is the generator's, named
    with pytest.raises(GenerationFailed):
        g.question_logprobs_in(messages, Control())


def test_nothing_is_read_once_stop_was_pressed(fake_engine):
    q, hits, evidence = retrieved(fake_engine, PROFIT_Q)
    generator = Reading(PRIMED)
    answerer = ModelAnswerer(generator, extractive_with(-math.inf), replace(DEFAULT_POLICY, min_question_gain=0.75),
                             "auto")
    control = Control()
    assert answerer.question_prior(q, answerer.policy, control) == PRIMED
    control.stop.set()
    assert answerer.question_prior(q, answerer.policy, control) is None and len(generator.asked) == 1


def test_the_saved_cut_is_read_and_checked(tmp_path):
    assert AUTO_POLICY.min_question_gain == 0.75  # round 34's pooled fit (README step 46)
    assert load_question_gain(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"question_gain_cut": null}', encoding="utf-8")
    assert load_question_gain(path) == {}
    path.write_text('{"question_gain_cut": {"below": 0.5}}', encoding="utf-8")
    assert load_question_gain(path) == {"min_question_gain": 0.5}
    for bad in ('{"below": "0.5"}', '{"below": true}', '{"below": Infinity}', '{"below": NaN}', "{}", "0.5"):
        path.write_text('{"question_gain_cut": ' + bad + "}", encoding="utf-8")
        with pytest.raises(ModelError, match=r"question_gain_cut .*`below` must be a finite number.*"
                                             r"--question-gain-cut --write"):
            load_question_gain(path)


def row(kind: str, gain_of_the_noun: float, right: bool) -> dict:
    """A study row of a Chinese factoid the model answered with a kept, sure sentence, and both readings of its
    question (the noun's gain as given, the other two tokens 1 each)."""
    return {"kind": kind, "question": "项目哪一年完工？", "shape": "factoid", "tags": ["zh"], "reply": "x",
            "model_refused": False, "answers": ["2018"] if kind == "answerable" else [], "confidence": {"min": 0.9},
            "reading": None, "checked": [{"text": "2018年" if right else "2017年", "kept": True, "claim_coverage": 1.0,
                                          "passage_coverage": 1.0, "coverage": 1.0}],
            "extractive": "项目于2018年完工。", "extractive_refused": False, "extractive_missing": [],
            "extractive_claim_coverage": 0.9, "extractive_score": 0.5,
            "question_logprobs": [["项目", -1.0], ["哪一年", -1.0], ["完工", -2.0 + gain_of_the_noun], ["？", 0.0]],
            "question_prior_logprobs": [["项目", -2.0], ["哪一年", -2.0], ["完工", -2.0], ["？", 0.0]]}


def test_choose_policy_simulates_the_cut_and_the_default_reads_it():
    cp = _script("choose_policy")
    assert cp.question_gain_of(row("unanswerable", -1.0, False)) == pytest.approx((1 + 1 - 1) / 3)
    assert cp.question_gain_of({**row("answerable", 4.0, True), "question_prior_logprobs": None}) is None
    unexplained = row("unanswerable", -1.0, False)  # gain 0.33
    assert cp.gain_cut(unexplained, -math.inf) == (False, "2017年")
    assert cp.gain_cut(unexplained, 0.5) == (True, "")
    assert cp.gain_cut(row("answerable", 4.0, True), 0.5) == (False, "2018年")  # gain 2
    assert cp.gain_cut({**unexplained, "tags": ["en"]}, 0.5) == (False, "项目于2018年完工。")  # English: extractive
    assert cp.shipped(unexplained) == (True, "")  # routes.json saves 0.75
    assert cp.shipped(row("unanswerable", 1.0, False)) == (False, "2017年")  # gain 1.0


def test_choose_policy_fits_the_cut_with_step_27s_rule(tmp_path, capsys):
    import json

    from tests.answering.test_english_standing import write_rows

    cp = _script("choose_policy")
    a = [row("answerable", 4.0, True), row("unanswerable", -1.0, False), row("unanswerable", 0.0, False)]
    b = [*[row("answerable", 4.0, True)] * 3, row("answerable", 1.0, True), row("unanswerable", -1.0, False)]
    fits = [str(write_rows(tmp_path / f"{name}.jsonl", rows)) for name, rows in (("a", a), ("b", b))]
    saved = tmp_path / "routes.json"
    saved.write_text('{"routes": {"factoid/zh": "model"}}', encoding="utf-8")
    assert cp.main([*fits, "--question-gain-cut", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    # gains: a 2, 0.33, 0.67; b 2 (x3), 1, 0.33. 0.5 refuses a's 0.33 and b's 0.33 (a 75, b 100: 87.5); 0.75 also a's
    # 0.67 (a 100: 100); 1.25 refuses b's right 1.0 too (b loses 25 points of answerable right): not guarded
    assert "| 0.5 | 87.50 | yes |" in out and "| 0.75 | 100.00 | yes |" in out and "| 1.25 | 93.75 | no |" in out
    # 0.75 and 1 tie at 100 (b's 1.0 is kept at 1: a cut refuses below it): the cut nearer never
    assert ("chosen: refuse the model's own answer below a mean question-token gain from the excerpts of 0.75 "
            "(balanced 100.00 against 50.00 never; needs 0.5): taken") in out
    assert json.loads(saved.read_text(encoding="utf-8"))["question_gain_cut"]["below"] == 0.75
    assert auto_policy(saved).min_question_gain == 0.75
    empty = write_rows(tmp_path / "c.jsonl", [{**r, "question_prior_logprobs": None} for r in a])
    with pytest.raises(SystemExit, match="has no question_prior_logprobs: run scripts/annotate_surprise.py"):
        cp.main([str(empty), "--question-gain-cut"])


def test_the_question_is_read_with_the_answer_where_only_the_gain_cut_is_set(fake_engine):
    from tests.answering.test_question_surprise import SWAPPED, Recording

    q, hits, evidence = retrieved(fake_engine, PROFIT_Q)
    generator = Recording("3.7亿元[1]", SWAPPED)
    policy = replace(DEFAULT_POLICY, min_question_logprob=-math.inf, waive_claim_surprise=math.inf,
                     min_question_gain=0.75)
    ModelAnswerer(generator, extractive_with(-math.inf), policy, "auto").run(q, hits, evidence, Control())
    assert generator.asked == [True]


def test_through_the_serving_queue_the_reading_runs_apart_and_is_skipped_when_others_wait(fake_engine):
    """As served (rag/serving.py's ModelQueue in front of the model): the question is read without the excerpts while
    nobody else waits, refusing as above; while others wait it is skipped and the cut not applied (as the reading
    check is); an endpoint, which cannot read it, answers as before."""
    from rag.serving import ModelQueue
    from tests.answering.test_confidence import Sure

    q, hits, evidence = retrieved(fake_engine, PROFIT_Q)
    policy = replace(DEFAULT_POLICY, min_question_gain=0.75, min_question_logprob=-16.0)
    generator = Reading(PRIMED)
    served = ModelAnswerer(ModelQueue(generator, queue_s=30.0), extractive_with(-math.inf), policy, "auto")
    refused = served.answer(q, hits, evidence)
    assert refused.refused and refused.reason == decide.unexplained_question(-0.1, 0.75) and len(generator.asked) == 1

    class Crowded(Reading):
        """Someone comes to wait for the model while the answer is written."""

        def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
            queue._waiting.append(object())
            return super().generate(messages, max_tokens, control)

    queue = ModelQueue(Crowded(PRIMED), queue_s=30.0)
    crowded = ModelAnswerer(queue, extractive_with(-math.inf), policy, "auto").answer(q, hits, evidence)
    assert (crowded.refused, crowded.answerer, crowded.text) == (False, "auto", "3.7亿元[1]")
    assert queue.generator.asked == []  # skipped: the cut not applied
    endpoint = ModelAnswerer(ModelQueue(Sure("3.7亿元[1]", GIVEN), queue_s=30.0), extractive_with(-math.inf), policy,
                             "auto")
    assert endpoint.answer(q, hits, evidence).refused is False


def test_a_follow_up_is_not_cut(fake_engine):
    """A follow-up's question line (那它的净利润呢？) leans on the conversation, which the readings with and without the
    excerpts both hold: it gains little from the excerpts whatever they say, so the cut does not read it."""
    q, hits, evidence = retrieved(fake_engine, PROFIT_Q)
    follow_up = replace(q, history=({"role": "user", "content": "美图2023年的总收入是多少？"},
                                    {"role": "assistant", "content": "27亿元[1]"}))
    generator = Reading(PRIMED)
    answerer = ModelAnswerer(generator, extractive_with(-math.inf), replace(DEFAULT_POLICY, min_question_gain=0.75),
                             "auto")
    answer = answerer.answer(follow_up, hits, evidence)
    assert (answer.refused, generator.asked) == (False, [])
    assert answerer.answer(q, hits, evidence).refused is True  # the same question alone is cut
    cp = _script("choose_policy")
    unexplained = row("unanswerable", -1.0, False)
    assert cp.gain_cut({**unexplained, "history": [{"role": "user", "content": "项目是什么？"}]}, 0.5) == (False, "2017年")
    assert cp.gain_cut(unexplained, 0.5) == (True, "")
