"""The reading check (README, "How auto was chosen", steps 12-13): where the claim cut would refuse a Chinese
factoid, the model is asked apart whether the supporting sentence answers the question, and at the fitted
cut its "yes" waives the claim cut; a refusal cut (fitted, not taken in round 12) would refuse an answer read
below it. The prompt, the rules, when it is asked (and when not), the serving queue passing it through, the
saved cuts, and the fitting script; the bundled model's own reading is tested in test_llm_integration.py."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rag.answering import decide
from rag.answering.generation import Control, Generation, GenerationFailed
from rag.answering.model import DEFAULT_POLICY, ModelAnswerer, context_of, load_reading
from rag.answering.prompt import SYSTEM, reading_messages
from rag.answering.question import Question
from rag.errors import ModelError
from rag.serving import ModelQueue
from tests.answering.test_model_answerer import Scripted, _script, retrieved, run

OTHER_NOUN_Q = "美图2023年的员工薪酬是多少？"  # the article gives 3.7亿元 as the net profit, never a pay figure
STRICT = replace(DEFAULT_POLICY, min_claim_coverage=0.5, waive_claim_reading=0.6)


class Reading(Scripted):
    """A scripted generator that can also read: yes_probability gives `p` (or raises), recording each ask."""

    def __init__(self, *pieces: str, p: float = 0.9, read_fail: str = "") -> None:
        super().__init__(*pieces)
        self.p, self.read_fail = p, read_fail
        self.asked: list = []

    def yes_probability(self, messages, yes, no, control=None):  # noqa: ANN001
        self.asked.append((messages, yes, no))
        if self.read_fail:
            raise GenerationFailed(self.read_fail)
        return self.p


def test_the_reading_prompt_is_the_answer_system_message_and_one_short_question():
    messages = reading_messages("美图去年赚了多少钱？ ", "美图 2023年\n净利润3.7亿元。")
    assert messages == [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": "句子：美图 2023年 净利润3.7亿元。\n问题：美图去年赚了多少钱？\n"
                                                    "这句话回答了这个问题吗？只回答“是”或“不是”。"}]
    with pytest.raises(ModelError, match="no prompt in 'en'; it was measured in Chinese only"):
        reading_messages("What did Meitu earn?", "美图净利润3.7亿元。", "en")
    # the context form shows the passage around the sentence instead, asked about as a passage
    around = reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。", context="财报\n美图 2023年\n净利润3.7亿元。")
    assert around[1] == {"role": "user", "content": "段落：财报 美图 2023年 净利润3.7亿元。\n问题：美图去年赚了多少钱？\n"
                                                     "这段话回答了这个问题吗？只回答“是”或“不是”。"}


def test_a_yes_at_the_cut_waives_the_claim_cut_and_nothing_else():
    def rule(reading, confidence=0.9, said_not_found=False):  # noqa: ANN001, ANN202
        return decide.model_answer(said_not_found, 1, 1.0, 0.0, 0.0, -math.inf, 0.1, 0.3, confidence, 0.2,
                                   decide.waiver("reading", reading, 0.6), reading)

    assert rule(0.6).answer and rule(0.95).answer
    assert not rule(0.59).answer and "below 0.30: the value may belong to something other" in rule(0.59).reason
    assert not rule(None).answer  # not asked: the claim cut decides
    assert "it was guessing" in rule(0.95, confidence=0.1).reason  # the confidence cut still refuses first
    assert not rule(0.99, said_not_found=True).answer


def test_a_factoid_below_the_claim_cut_is_kept_when_the_model_reads_its_sentence_as_the_answer(fake_engine):
    yes = Reading("3.7亿元[1]", p=0.9)
    kept = run(fake_engine, yes, question=OTHER_NOUN_Q, policy=STRICT)
    assert (kept.answer.refused, kept.answer.text, kept.reading) == (False, "3.7亿元[1]", 0.9)
    assert kept.answer.reading == 0.9 and kept.answer.timings_ms["reading"] >= 0.0
    assert "asked apart, the model read that sentence as answering the question (0.90, at least 0.60)" in kept.answer.notice
    ((messages, said_yes, said_no),) = yes.asked
    assert (said_yes, said_no) == ("是", "不是")
    sentence = " ".join(kept.checked[0].support.sentence.text.split())
    assert messages == reading_messages(OTHER_NOUN_Q, sentence)
    no = run(fake_engine, Reading("3.7亿元[1]", p=0.3), question=OTHER_NOUN_Q, policy=STRICT)
    assert (no.answer.refused, no.reading) == (True, 0.3)
    assert "of the question's word weight, below 0.50" in no.answer.reason


def test_the_context_form_reads_the_sentence_with_its_neighbours_and_title(fake_engine):
    reader = Reading("3.7亿元[1]", p=0.9)
    kept = run(fake_engine, reader, question=OTHER_NOUN_Q, policy=replace(STRICT, reading_form="context"))
    assert (kept.answer.refused, kept.reading) == (False, 0.9)
    ((messages, _, _),) = reader.asked
    best = kept.checked[0]
    _, _, evidence = retrieved(fake_engine, OTHER_NOUN_Q)
    context = context_of(evidence.index, best.origin, best.support.sentence)
    assert best.support.sentence.text in context and len(context) > len(best.support.sentence.text)
    assert messages == reading_messages(OTHER_NOUN_Q, best.support.sentence.text, context=context)
    assert messages[1]["content"].startswith("段落：")
    assert "the model read that sentence with its neighbours and title as answering the question (0.90" in kept.answer.notice
    low = run(fake_engine, Reading("3.7亿元[1]", p=0.1), question="美图2023年的净利润是多少？",
              policy=replace(STRICT, reading_form="context", waive_claim_reading=math.inf, min_reading=0.2))
    assert low.answer.refused and ("asked apart whether the answer's supporting sentence with its neighbours and title answers "
                                   "the question, the model said yes with probability 0.10, below 0.20") in low.answer.reason
    with pytest.raises(ModelError, match="unknown reading form 'passage': use one of sentence, context"):
        replace(STRICT, reading_form="passage")


def test_the_reading_check_is_asked_only_where_the_claim_cut_would_refuse(fake_engine):
    above = Reading("3.7亿元[1]")
    assert not run(fake_engine, above, question="美图2023年的净利润是多少？", policy=STRICT).answer.refused
    assert above.asked == []  # the claim cut passes: nothing to ask
    unfitted = Reading("3.7亿元[1]")
    assert run(fake_engine, unfitted, question=OTHER_NOUN_Q, policy=replace(STRICT, waive_claim_reading=math.inf)).answer.refused
    assert unfitted.asked == []  # no cut fitted: never asked
    invented = Reading("美图有4800名员工[1]。")
    assert run(fake_engine, invented, question=OTHER_NOUN_Q, policy=STRICT).answer.refused
    assert invented.asked == []  # nothing supported: nothing to read
    endpoint = run(fake_engine, Scripted("3.7亿元[1]"), question=OTHER_NOUN_Q, policy=STRICT)  # no logits to read
    assert (endpoint.answer.refused, endpoint.reading) == (True, None)


def test_a_failed_reading_leaves_the_claim_cut_to_decide(fake_engine):
    failing = Reading("3.7亿元[1]", read_fail="the model failed while reading (RuntimeError: decode)")
    outcome = run(fake_engine, failing, question=OTHER_NOUN_Q, policy=STRICT)
    assert (outcome.answer.refused, outcome.reading, len(failing.asked)) == (True, None, 1)


def test_no_reading_in_english_after_a_stop_or_past_the_deadline(fake_engine):
    outcome = run(fake_engine, Reading("3.7亿元[1]"), question=OTHER_NOUN_Q, policy=STRICT)
    best = outcome.checked[0]
    reader = Reading("3.7亿元[1]")
    answerer = ModelAnswerer(reader, fake_engine_extractive(), STRICT, "model")
    _, _, evidence = retrieved(fake_engine, OTHER_NOUN_Q)
    english = Question.make("What was Meitu's staff pay in 2023?")
    assert answerer.read(english, best, STRICT, Control(), evidence) is None
    stopped = Control()
    stopped.stop.set()
    assert answerer.read(Question.make(OTHER_NOUN_Q), best, STRICT, stopped, evidence) is None
    assert answerer.read(Question.make(OTHER_NOUN_Q), best, STRICT, Control(deadline=0.0), evidence) is None
    assert reader.asked == []
    assert answerer.read(Question.make(OTHER_NOUN_Q), best, STRICT, Control(), evidence) == 0.9


def fake_engine_extractive():  # noqa: ANN201
    from rag.answering.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer()


def test_the_serving_queue_passes_the_reading_through_and_says_when_it_cannot():
    reader = Reading("x")
    queue = ModelQueue(reader, queue_s=30.0)
    busy_while_reading = []
    original = reader.yes_probability

    def reading(messages, yes, no, control=None):  # noqa: ANN001, ANN202
        busy_while_reading.append(queue.busy)  # the reading holds the model like an answer
        return original(messages, yes, no, control)

    reader.yes_probability = reading
    assert queue.yes_probability([{"role": "user", "content": "?"}], "是", "不是") == 0.9
    assert (len(reader.asked), busy_while_reading, queue.busy, queue.service_s) == (1, [True], False, None)

    class NoLogits:
        name = "endpoint"

        def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
            return Generation("x")

    with pytest.raises(GenerationFailed, match="endpoint gives no token probabilities"):
        ModelQueue(NoLogits(), queue_s=30.0).yes_probability([], "是", "不是")
    queue._waiting.append(object())  # someone waits for the model: no reading jumps ahead of them
    with pytest.raises(GenerationFailed, match="busy with other questions: the reading check was skipped"):
        queue.yes_probability([{"role": "user", "content": "?"}], "是", "不是")
    assert len(reader.asked) == 1


def test_the_saved_reading_cut_is_read_and_checked(tmp_path):
    assert load_reading(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"routes": {}, "reading": null}', encoding="utf-8")
    assert load_reading(path) == {}
    path.write_text('{"routes": {}, "reading": {"waive_claim_reading": 0.55}}', encoding="utf-8")
    assert load_reading(path) == {"waive_claim_reading": 0.55, "min_reading": 0.0, "reading_form": "sentence"}
    path.write_text('{"routes": {}, "reading": {"waive_claim_reading": null, "min_reading": 0.1, "form": "context"}}',
                    encoding="utf-8")
    assert load_reading(path) == {"waive_claim_reading": math.inf, "min_reading": 0.1, "reading_form": "context"}
    for bad, message in (
            ('{"waive_claim_reading": 1.5}', "has waive_claim_reading 1.5: it must be a number in (0, 1], or null."),
            ('{"waive_claim_reading": true}', "has waive_claim_reading True: it must be a number in (0, 1], or null."),
            ('{"waive_claim_reading": "0.6"}', "has waive_claim_reading '0.6': it must be a number in (0, 1], or null."),
            ('{"min_reading": 0.1}', "without waive_claim_reading (a number in (0, 1], or null)."),
            ('{"waive_claim_reading": 0.6, "min_reading": 1.0}', "has min_reading 1.0: it must be a number in [0, 1)."),
            ('{"waive_claim_reading": 0.6, "min_reading": false}', "has min_reading False: it must be a number"),
            ('{"waive_claim_reading": null, "min_reading": 0.0}', "with neither cut (waive_claim_reading null, min_reading 0)"),
            ('{"waive_claim_reading": 0.3, "min_reading": 0.3}', "has min_reading 0.3 at or above waive_claim_reading 0.3"),
            ('{"waive_claim_reading": 0.6, "form": "passage"}', "has reading form 'passage': it must be one of sentence, context.")):
        path.write_text('{"routes": {}, "reading": ' + bad + '}', encoding="utf-8")
        with pytest.raises(ModelError) as raised:
            load_reading(path)
        assert message in str(raised.value) and "Rerun scripts/choose_policy.py --reading --write." in str(raised.value)


def study_row(kind: str, reading: float | None, claim: float, **extra: float) -> dict:
    """A study_model.py row of a Chinese factoid answered `2018年` (gold 2018), confident, with one kept claim."""
    return {"kind": kind, "shape": "factoid", "tags": ["zh"], "reply": "2018年", "answers": ["2018"],
            "model_refused": False, "confidence": {"min": 0.9}, "reading": reading, **extra,
            "checked": [{"text": "2018年", "kept": True, "claim_coverage": claim, "passage_coverage": 1.0}],
            "extractive": "", "extractive_refused": True}


def fit_reading(cp, tmp_path, rows: list[dict]):  # noqa: ANN001, ANN201
    """Write `rows` as a study file and a routes.json routing Chinese factoids to the model, and run
    `choose_policy.py --reading --write` on them; the two paths."""
    fit, saved = tmp_path / "study.jsonl", tmp_path / "routes.json"
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    saved.write_text('{"routes": {"factoid/zh": "model"}}', encoding="utf-8")
    assert cp.main([str(fit), "--reading", "--write", str(saved)]) == 0
    return fit, saved


def test_choose_policy_fits_the_reading_cut_on_rows_below_the_claim_cut(tmp_path, capsys):
    cp = _script("choose_policy")

    def row(kind: str, reading: float | None, claim: float = 0.1) -> dict:  # read below the claim cut only
        return study_row(kind, reading, claim)

    # a paraphrase read as answered (0.7), one read as not (0.45); an unanswerable one read at 0.5
    rows = [row("answerable", 0.7), row("answerable", 0.45), row("answerable", None, claim=0.9),
            row("unanswerable", 0.5)]
    fit, saved = fit_reading(cp, tmp_path, rows)
    out = capsys.readouterr().out
    # 0.7 down to 0.55 rescue the first paraphrase and keep the refusal: the highest of them is taken
    assert "only the waiver cut is fitted" in out  # these rows read only the factoids below the claim cut
    assert "chosen reading cuts: waive at 0.7, refuse below 0 (balanced 83.3 against 66.7 without)" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["reading"]["waive_claim_reading"] == 0.7
    assert json.loads(saved.read_text(encoding="utf-8"))["reading"]["form"] == "sentence"  # rows without a form
    (tmp_path / "study-sentence.jsonl").write_text(fit.read_text(encoding="utf-8"), encoding="utf-8")  # no form: sentence
    in_context = [{**r, "reading_form": "context"} for r in rows]
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in in_context), encoding="utf-8")
    assert cp.main([str(fit), "--reading", "--write", str(saved)]) == 0
    assert "the context read: chosen reading cuts: waive at 0.7" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8"))["reading"]["form"] == "context"
    assert cp.main([str(fit), "--reading", "--waiver-only", "--write", str(saved)]) == 0  # a waiver is still written
    written = json.loads(saved.read_text(encoding="utf-8"))["reading"]
    assert (written["waive_claim_reading"], written["min_reading"]) == (0.7, 0.0)
    assert written["how"].endswith("--waiver-only: no refusal cut fitted (it reads every Chinese factoid, about 2 s per "
                                   "answer: README step 19)")
    capsys.readouterr()
    with pytest.raises(SystemExit, match="read in the sentence form, but the fitting sets' reading is the context form"):
        cp.main([str(fit), "--reading", "--report", str(tmp_path / "study-sentence.jsonl")])
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [rows[0], in_context[1]]), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"read in more than one form \(context, sentence\); run every study"):
        cp.main([str(fit), str(mixed), "--reading"])
    rows[0]["reading"] = 0.4  # now no cut helps without answering the unanswerable one first
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert cp.main([str(fit), "--reading", "--write", str(saved)]) == 0
    assert "chosen reading cuts: waive at inf, refuse below 0" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8"))["reading"] is None
    with pytest.raises(SystemExit, match="no reading check recorded; run scripts/study_model.py with --reading-below"):
        bare = tmp_path / "bare.jsonl"
        bare.write_text(json.dumps({**rows[0], "reading": None}) + "\n", encoding="utf-8")  # as study_model writes it
        cp.main([str(bare), "--reading"])


def test_a_reading_below_the_refusal_cut_refuses_an_answer_the_other_cuts_keep():
    def rule(reading, claim=0.9):  # noqa: ANN001, ANN202
        return decide.model_answer(False, 1, 1.0, 0.0, 0.0, -math.inf, claim, 0.3, 0.9, 0.2,
                                   decide.waiver("reading", reading, 0.6), reading, 0.1)

    assert rule(0.1).answer and rule(None).answer  # at the cut, or not asked: answered
    assert not rule(0.09).answer
    assert rule(0.09).reason == ("asked apart whether the answer's supporting sentence answers the question, the "
                                 "model said yes with probability 0.09, below 0.10")
    assert "below 0.30: the value may belong" in rule(0.05, claim=0.1).reason  # the claim cut speaks first


def test_with_a_refusal_cut_every_answer_the_other_cuts_keep_is_read(fake_engine):
    refusing = replace(STRICT, min_reading=0.2)
    low = Reading("3.7亿元[1]", p=0.1)
    outcome = run(fake_engine, low, question="美图2023年的净利润是多少？", policy=refusing)  # claim cut passes
    assert (outcome.answer.refused, outcome.reading, len(low.asked)) == (True, 0.1, 1)
    assert "said yes with probability 0.10, below 0.20" in outcome.answer.reason
    assert "3.7亿元" in outcome.answer.text  # the refusal quotes the closest sentence, as for the other cuts
    high = Reading("3.7亿元[1]", p=0.9)  # at the waiver cut too, but the claim cut passed: nothing was waived
    kept = run(fake_engine, high, question="美图2023年的净利润是多少？", policy=refusing)
    assert (kept.answer.refused, kept.answer.text, kept.answer.reading, len(high.asked)) == (False, "3.7亿元[1]", 0.9, 1)
    assert "asked apart" not in kept.answer.notice  # the notice is for a waived claim cut only
    only = Reading("3.7亿元[1]", p=0.1)  # the refusal cut alone, no waiver
    assert run(fake_engine, only, question="美图2023年的净利润是多少？",
               policy=replace(refusing, waive_claim_reading=math.inf)).answer.refused
    assert len(only.asked) == 1
    below = Reading("3.7亿元[1]", p=0.9)  # below the claim cut with no waiver: refused whatever it reads
    assert run(fake_engine, below, question=OTHER_NOUN_Q, policy=replace(refusing, waive_claim_reading=math.inf)).answer.refused
    assert below.asked == []
    failing = Reading("3.7亿元[1]", read_fail="busy")  # not read: the other cuts decide
    assert not run(fake_engine, failing, question="美图2023年的净利润是多少？", policy=refusing).answer.refused


def test_choose_policy_fits_the_refusal_cut_only_where_every_factoid_was_read(tmp_path, capsys, monkeypatch):
    cp = _script("choose_policy")

    def row(kind: str, reading: float, claim: float = 0.9) -> dict:  # every factoid read
        return study_row(kind, reading, claim, reading_below=2.0)

    # answerable ones read 0.3 and 0.7; an answer to an unanswerable question the claim cut lets through reads 0.12
    rows = [row("answerable", 0.3), row("answerable", 0.7), row("unanswerable", 0.12)]
    fit, saved = fit_reading(cp, tmp_path, rows)
    out = capsys.readouterr().out
    # 0.15 to 0.3 refuse the unanswerable one and keep both answers: the lowest of them is taken, no waiver needed
    assert "chosen reading cuts: waive at inf, refuse below 0.15 (balanced 100.0 against 50.0 without)" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["reading"] == {
        "waive_claim_reading": None, "min_reading": 0.15, "form": "sentence", "fitted_on": [str(fit)],
        "how": "scripts/choose_policy.py --reading: with the saved claim and confidence cuts, the best mean of "
               "answerable-right and unanswerable-refused rates, the fitting sets averaged (ties: the higher waiver "
               "cut, then the lower refusal cut); a refusal cut only if it adds 0.5 points over the waiver alone"}
    assert load_reading(saved) == {"waive_claim_reading": math.inf, "min_reading": 0.15, "reading_form": "sentence"}
    rows += [row("answerable", 0.14)] * 6  # now that cut also refuses six answers: 62.5, a gain of 12.5
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(cp, "MIN_READING_GAIN", 13.0)  # a gain below the bar is not taken
    assert cp.main([str(fit), "--reading", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    assert ("the best pair with a refusal cut, waive at inf and refuse below 0.15, gains 12.50 over the waiver "
            "alone, under 13: not taken") in out
    assert "chosen reading cuts: waive at inf, refuse below 0 (balanced 50.0 against 50.0 without)" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["reading"] is None
    # --waiver-only (step 19): no refusal cut is fitted, whatever it would gain (the first three rows chose 0.15 above)
    fit.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:3]), encoding="utf-8")
    assert cp.main([str(fit), "--reading", "--waiver-only", "--write", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "--waiver-only: only the waiver cut is fitted" in out
    with pytest.raises(SystemExit):
        cp.main([str(fit), "--waiver-only"])
    assert "--waiver-only goes with --reading" in capsys.readouterr().err
    assert "chosen reading cuts: waive at inf, refuse below 0 (" in out
    assert json.loads(saved.read_text(encoding="utf-8"))["reading"] is None


class ReadingLlama:
    """The parts of llama_cpp.Llama that yes_probability uses: one token per character, the prompt cache
    (`_input_ids`, `n_tokens`), `eval` in batches of 4 tokens through `_ctx.decode`, and fixed logits that
    favour 是 over 不 by 2 (P = 0.881)."""

    def __init__(self, on_decode=None) -> None:  # noqa: ANN001
        import ctypes
        import types

        values = [0.0] * 65536
        values[ord("是")] = 2.0
        self._floats = (ctypes.c_float * len(values))(*values)
        self._ctx = types.SimpleNamespace(decode=self._decode, get_logits=lambda: ctypes.cast(
            self._floats, ctypes.POINTER(ctypes.c_float)))
        self._input_ids: list[int] = []
        self.n_tokens, self.evaluated, self.decoded = 0, 0, 0
        self.on_decode = on_decode or (lambda n: None)

    def n_vocab(self) -> int:
        return len(self._floats)

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return [ord(ch) for ch in text.decode("utf-8")]

    def _decode(self, batch: object) -> None:
        self.decoded += 1
        self.on_decode(self.decoded)

    def eval(self, tokens: list[int]) -> None:
        for i in range(0, len(tokens), 4):
            batch = tokens[i:i + 4]
            self._ctx.decode(None)
            self._input_ids[self.n_tokens:] = batch
            self.n_tokens += len(batch)
            self.evaluated += len(batch)


class KeptStates:
    """SystemStates' save and restore for a ReadingLlama: a state is the tokens its cache held."""

    def __init__(self) -> None:
        self.saved, self.restored = 0, 0

    def save(self, llm: ReadingLlama) -> bytes:
        self.saved += 1
        return json.dumps(llm._input_ids[:llm.n_tokens]).encode()

    def restore(self, llm: ReadingLlama, tokens: list[int], state: bytes) -> None:
        assert json.loads(state) == tokens
        self.restored += 1
        llm._input_ids, llm.n_tokens = list(tokens), len(tokens)


def reader_with(llm: ReadingLlama, tmp_path, states: KeptStates | None = None):  # noqa: ANN001, ANN201
    from rag.answering.bundled import LlamaCppGenerator, SystemStates, _end_between_calls

    g = LlamaCppGenerator(tmp_path / "m.gguf", "qwen", reply_cache=0)
    g._llm = llm
    states = states or KeptStates()
    g._systems = SystemStates(save=states.save, restore=states.restore)
    _end_between_calls(llm, g._end_reason, g._record)  # what load() does to the real model
    return g


def test_the_bundled_reading_reuses_the_cached_system_message_and_reads_the_first_token(tmp_path):
    from rag.answering.bundled import template_text

    llm = ReadingLlama()
    g = reader_with(llm, tmp_path)
    first = reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。")
    assert g.yes_probability(first, "是", "不是") == pytest.approx(1 / (1 + math.exp(-2.0)), abs=1e-6)
    whole = len(template_text(first) + "<|im_start|>assistant\n")
    assert (llm.evaluated, llm.n_tokens) == (whole, whole)
    second = reading_messages("美图有多少员工？", "美图月活用户2.49亿。")
    text = template_text(second) + "<|im_start|>assistant\n"
    shared = next(i for i, (a, b) in enumerate(zip(template_text(first), text, strict=False)) if a != b)  # the system message and more
    assert shared > len(SYSTEM)
    g.yes_probability(second, "是", "不是")
    assert (llm.evaluated, llm.n_tokens) == (whole + len(text) - shared, len(text))  # only what differs was read


def test_a_prompt_with_another_system_message_does_not_cost_the_next_reading_its_own(tmp_path):
    """The pick has a system message of its own: without kept states the next reading would read the answer
    prompt's system message again (README step 20's 1.5 s); its kept state is put back instead."""
    from rag.answering.bundled import template_text
    from rag.answering.prompt import PICK_SYSTEM, pick_messages

    states = KeptStates()
    llm = ReadingLlama()
    g = reader_with(llm, tmp_path, states)
    reading = reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。")
    whole = len(template_text(reading) + "<|im_start|>assistant\n")
    g.yes_probability(reading, "是", "不是")
    assert (llm.evaluated, states.saved, states.restored) == (whole, 1, 0)  # the system message read once, then kept
    pick = pick_messages("Which?", ["甲。"])
    g.first_token_probabilities(pick, ["0", "1"])
    shared = next(i for i, (a, b) in enumerate(zip(template_text(reading), template_text(pick), strict=False)) if a != b)
    assert template_text(pick)[:shared] == "<|im_start|>system\nYou "
    read = whole + len(template_text(pick) + "<|im_start|>assistant\n") - shared
    assert (llm.evaluated, states.saved, states.restored) == (read, 2, 0)
    again = reading_messages("美图有多少员工？", "美图月活用户2.49亿。")
    g.yes_probability(again, "是", "不是")
    system = len(template_text(again[:1]))
    assert system > len(SYSTEM) > len(PICK_SYSTEM)
    after = len(template_text(again) + "<|im_start|>assistant\n")
    assert (llm.evaluated, states.saved, states.restored) == (read + after - system, 2, 1)  # only the rest was read
    g.first_token_probabilities(pick_messages("Which one?", ["乙。"]), ["0", "1"])
    assert states.restored == 2  # the pick's own, put back too


def test_system_messages_kept_at_start_up_are_not_read_again_by_the_first_questions(tmp_path):
    from rag.answering.bundled import template_text
    from rag.answering.prompt import PICK_SYSTEM, pick_messages

    states = KeptStates()
    llm = ReadingLlama()
    g = reader_with(llm, tmp_path, states)
    g.keep_systems([PICK_SYSTEM, SYSTEM])
    systems = len(template_text([{"role": "system", "content": PICK_SYSTEM}])) + len(template_text(
        [{"role": "system", "content": SYSTEM}])) - len("<|im_start|>system\nYou ")  # the two share that much
    assert (llm.evaluated, states.saved) == (systems, 2)
    reading = reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。")
    g.yes_probability(reading, "是", "不是")  # the cache holds the answer prompt's system message: the rest is read
    rest = len(template_text(reading) + "<|im_start|>assistant\n") - len(template_text(reading[:1]))
    assert (llm.evaluated, states.saved, states.restored) == (systems + rest, 2, 0)
    pick = pick_messages("Which?", ["甲。"])
    g.first_token_probabilities(pick, ["0", "1"])
    assert (states.saved, states.restored) == (2, 1)


@pytest.mark.parametrize(("template", "bos", "kept"), [("{{ '<|im_start|>' + message['role'] }}", "false", 4),
                                                      ("{{ '<start_of_turn>' + message['role'] }}", "false", 0),
                                                      ("{{ bos_token }}{{ '<|im_start|>' + message['role'] }}", "false", 0),
                                                      ("{{ '<|im_start|>' + message['role'] }}", "true", 0)])
def test_system_states_are_kept_only_for_a_chatml_model(tmp_path, monkeypatch, template, bos, kept):
    """The kept states are of ChatML system turns with nothing before them: a GGUF with another chat template, or one
    that puts a BOS token first (RAG_LLM_MODEL_PATH), keeps none, rather than reading a system turn its prompts never
    start with."""
    llama_cpp = pytest.importorskip("llama_cpp")

    class Loaded:
        def __init__(self, **_: object) -> None:
            self.metadata = {"tokenizer.chat_template": template, "tokenizer.ggml.add_bos_token": bos}

    monkeypatch.setattr(llama_cpp, "Llama", Loaded)
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    from rag.answering.bundled import LlamaCppGenerator

    g = LlamaCppGenerator(path, "other")
    g.load()
    assert g._systems.keep == kept
    g._llm = None  # nothing of llama.cpp's to free


def test_stop_while_a_system_message_is_read_keeps_no_state_of_it(tmp_path):
    from rag.answering.bundled import template_text

    control = Control()
    states = KeptStates()
    llm = ReadingLlama(on_decode=lambda n: control.stop.set() if n == 2 else None)
    g = reader_with(llm, tmp_path, states)
    with pytest.raises(GenerationFailed, match="^stopped while reading$"):
        g.yes_probability(reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。"), "是", "不是", control)
    assert (llm.n_tokens, llm.evaluated, states.saved) == (8, 8, 0)  # two batches of it, and no half state kept
    control.stop.clear()
    reading = reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。")
    g.yes_probability(reading, "是", "不是")
    whole = len(template_text(reading) + "<|im_start|>assistant\n")
    assert (states.saved, llm.evaluated) == (1, 8 + whole - 8)  # the 8 tokens read before were not read again


def test_a_state_llama_cpp_refuses_is_read_again_and_kept_anew(tmp_path):
    from rag.answering.prompt import pick_messages

    states = KeptStates()
    llm = ReadingLlama()
    g = reader_with(llm, tmp_path, states)
    reading = reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。")
    g.yes_probability(reading, "是", "不是")
    g.first_token_probabilities(pick_messages("Which?", ["甲。"]), ["0", "1"])

    def refuse(llm: ReadingLlama, tokens: list[int], state: bytes) -> None:
        llm.n_tokens = 0
        raise RuntimeError("llama.cpp could not restore a kept system message's state")

    g._systems.restore = refuse
    assert 0 < g.yes_probability(reading, "是", "不是") < 1  # answered: the system message read again
    assert states.saved == 3 and len(g._systems._states) == 2


def test_stop_ends_a_reading_between_batches_and_frees_the_model(tmp_path):
    control = Control()
    llm = ReadingLlama(on_decode=lambda n: control.stop.set() if n == 2 else None)
    g = reader_with(llm, tmp_path)
    with pytest.raises(GenerationFailed, match="^stopped while reading$"):
        g.yes_probability(reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。"), "是", "不是", control)
    assert (llm.decoded, g._why_end) == (2, None)  # batch 3 never ran; nothing left to end the next answer
    assert 0 < g.yes_probability(reading_messages("美图去年赚了多少钱？", "美图净利润3.7亿元。"), "是", "不是") < 1
