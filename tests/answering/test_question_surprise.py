"""The question's surprise after the excerpts (README, "How auto was chosen", step 38; Policy.min_question_logprob): the
feature, the bundled model's reading of it from llama.cpp's logits (a fake context here; the real model in
test_llm_integration.py), kept replies keeping it, the product's cut and the fitting script's simulation of it."""

from __future__ import annotations

import ctypes
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from rag.answering import decide
from rag.answering.bundled import _append_reply, _question_logprobs, _read_replies, template_text
from rag.answering.confidence import question_surprise
from rag.answering.generation import Control, Generation
from rag.answering.model import AUTO_POLICY, DEFAULT_POLICY, ModelAnswerer, load_question_surprise
from rag.answering.prompt import QUESTION_LEAD
from rag.errors import ModelError
from tests.answering.test_confidence import GIVEN
from tests.answering.test_model_answerer import _script, retrieved
from tests.answering.test_prefer_extractive import PROFIT_Q, extractive_with

SWAPPED = (("美", -2.1), ("图", -0.01), ("2023", -0.4), ("年的", -0.3), ("视网膜", -14.2), ("是多少", -1.0),
           ("？", -0.2))
PLAIN = (("美", -2.1), ("图", -0.01), ("2023", -0.4), ("年的", -0.3), ("净利润", -0.9), ("是多少", -1.0), ("？", -9.0))


def test_the_surprise_is_the_least_expected_token_that_is_not_punctuation():
    assert question_surprise(SWAPPED) == ("视网膜", -14.2)
    assert question_surprise(PLAIN) == ("美", -2.1)  # the question mark (-9.0) is left out
    assert question_surprise(()) is None
    assert question_surprise((("？", -3.0), (" ", -1.0))) is None


def test_the_reason_names_the_token_unless_it_is_part_of_a_character():
    assert decide.unexpected_question("视网膜", -14.2, -13.0) == (
        "a word of the question “视网膜” is unexpected after the passages the model read (log-probability -14.2, "
        "below -13.0): they are likely about something else")
    assert decide.unexpected_question(" \ufffd", -14.2, -13.0).startswith(
        "a word of the question is unexpected after the passages")


class Surprised:
    """A generator whose reply comes with token probabilities and the question's log-probabilities."""

    name = "scripted"

    def __init__(self, text: str, question_logprobs: tuple) -> None:
        self.text, self.question_logprobs = text, question_logprobs

    def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
        return Generation(self.text, tokens=len(GIVEN), token_probs=GIVEN, question_logprobs=self.question_logprobs)


def ask(engine, logprobs: tuple, below: float, question: str = PROFIT_Q):  # noqa: ANN001, ANN201
    q, hits, evidence = retrieved(engine, question)
    answerer = ModelAnswerer(Surprised("3.7亿元[1]", logprobs), extractive_with(-math.inf),
                             replace(DEFAULT_POLICY, min_question_logprob=below), "auto")
    return answerer.answer(q, hits, evidence)


def test_the_models_own_answer_is_refused_where_a_question_token_is_below_the_cut(fake_engine):
    kept = ask(fake_engine, SWAPPED, -math.inf)
    assert (kept.answerer, kept.text, kept.refused) == ("auto", "3.7亿元[1]", False)
    assert ask(fake_engine, SWAPPED, -14.2).refused is False  # at the cut: kept
    refused = ask(fake_engine, SWAPPED, -14.0)
    assert refused.refused and refused.answerer == "auto"
    assert refused.reason == decide.unexpected_question("视网膜", -14.2, -14.0)
    assert f"The model's answer was withheld: {refused.reason}." in refused.notice
    assert "不是对这个问题的回答" in refused.text and len(refused.citations) == 1  # what it stood on, quoted
    assert ask(fake_engine, PLAIN, -14.0).refused is False
    assert ask(fake_engine, (), -14.0).refused is False  # no reading (an endpoint, an old kept reply): not refused


class Recording(Surprised):
    """Surprised, recording whether each request asked for the question's log-probabilities."""

    def __init__(self, text: str, question_logprobs: tuple) -> None:
        super().__init__(text, question_logprobs)
        self.asked: list[bool] = []

    def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
        self.asked.append(control.read_question)
        return super().generate(messages, max_tokens, control)


def test_the_question_is_read_after_the_answer_only_where_a_cut_reads_it(fake_engine):
    """The question pass (~0.3 s) runs for a Chinese factoid while step 38's cut or step 39's waiver is set; not for
    an open question, and not when both are off."""
    from tests.answering.test_open_quotes import OPEN_Q

    def asked(question: str, policy) -> list[bool]:  # noqa: ANN001
        q, hits, evidence = retrieved(fake_engine, question)
        generator = Recording("3.7亿元[1]", SWAPPED)
        outcome = ModelAnswerer(generator, extractive_with(-math.inf), policy, "auto").run(q, hits, evidence, Control())
        return [outcome.analysis.shape, *generator.asked]

    off = replace(DEFAULT_POLICY, min_question_logprob=-math.inf, waive_claim_surprise=math.inf)
    assert asked(PROFIT_Q, replace(off, min_question_logprob=-16.0)) == ["factoid", True]
    assert asked(PROFIT_Q, replace(off, waive_claim_surprise=-6.0)) == ["factoid", True]
    assert asked(PROFIT_Q, off) == ["factoid", False]
    assert asked(OPEN_Q, replace(off, min_question_logprob=-16.0)) == ["open", False]


def test_the_bundled_model_reads_the_question_only_when_asked(tmp_path, monkeypatch):
    from rag.answering import bundled
    from tests.answering.test_model_answerer import FakeLlama as Streaming

    reads: list[int] = []
    monkeypatch.setattr(bundled, "_question_logprobs", lambda llm, messages: reads.append(1) or SWAPPED)
    g = bundled.LlamaCppGenerator(tmp_path / "m.gguf", "qwen", reply_cache=4)
    g._llm = Streaming("3.7亿元", "[1]")
    messages = [{"role": "user", "content": "净利润？"}]
    plain = g.generate(messages, 16, Control())
    assert (plain.text, plain.question_logprobs, reads, g._llm.calls) == ("3.7亿元[1]", (), [], 1)
    # the kept reply lacks the reading a later request asks for: that one is answered afresh, read, and kept
    read = g.generate(messages, 16, Control(read_question=True))
    assert (read.question_logprobs, reads, g._llm.calls) == (SWAPPED, [1], 2)
    again = g.generate(messages, 16, Control(read_question=True))
    assert (again.question_logprobs, reads, g._llm.calls) == (SWAPPED, [1], 2)


def test_the_saved_cut_is_read_and_checked(tmp_path):
    assert AUTO_POLICY.min_question_logprob == -16.0  # round 30's pooled fit: taken (README step 38)
    assert load_question_surprise(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"question_surprise_cut": null, "question_surprise_waiver": null}', encoding="utf-8")
    assert load_question_surprise(path) == {}
    path.write_text('{"question_surprise_cut": {"below": -13.5}}', encoding="utf-8")
    assert load_question_surprise(path) == {"min_question_logprob": -13.5}
    path.write_text('{"question_surprise_cut": {"below": -16}, "question_surprise_waiver": {"at": -9.5}}', encoding="utf-8")
    assert load_question_surprise(path) == {"min_question_logprob": -16.0, "waive_claim_surprise": -9.5}
    for section, key, option in (("question_surprise_cut", "below", "--question-surprise-cut"),
                                 ("question_surprise_waiver", "at", "--question-surprise-waiver")):
        for bad in (f'{{"{key}": "-13"}}', f'{{"{key}": 2.0}}', f'{{"{key}": NaN}}', "{}", "-13"):
            path.write_text(f'{{"{section}": {bad}}}', encoding="utf-8")
            with pytest.raises(ModelError, match=rf"{section} .*`{key}` must be a log-probability \(a number at most 0\).*"
                                                 rf"{option} --write"):
                load_question_surprise(path)


def test_kept_replies_keep_the_questions_logprobs(tmp_path):
    path = tmp_path / "replies.jsonl"
    generation = Generation("3.7亿元[1]", prompt_tokens=300, tokens=2, pieces=("3.7亿元", "[1]"),
                            token_probs=(("3", 0.5),), question_logprobs=SWAPPED)
    _append_reply(path, "m", "key", generation)
    assert _read_replies(path, "m")["key"].question_logprobs == SWAPPED
    old = json.loads(path.read_text(encoding="utf-8"))
    del old["question_logprobs"]  # a reply kept before round 30
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    assert _read_replies(path, "m")["key"].question_logprobs == ()


class FakeContext:
    """llama.cpp's context as _question_logprobs uses it: decode a batch, then the logits of its rows that asked for
    them (all of them with logits_all, else the last), as a C float pointer. The row after token t puts all weight on
    `follows[t]` (-50 elsewhere), so a token read in the right row scores about 0 and in any other about -50."""

    def __init__(self, n_vocab: int, follows: dict[int, int]) -> None:
        self.n_vocab, self.follows, self.rows = n_vocab, follows, np.zeros((1, n_vocab), dtype=np.float32)

    def logits_after(self, token: int) -> np.ndarray:
        row = np.full(self.n_vocab, -50.0, dtype=np.float32)
        if token in self.follows:
            row[self.follows[token]] = 0.0
        return row

    def decode(self, batch) -> int:  # noqa: ANN001
        rows = [self.logits_after(t) for t in batch.tokens]
        self.rows = np.stack(rows if batch.logits_all else rows[-1:])
        return 0

    def get_logits(self):  # noqa: ANN201
        self._keep = np.ascontiguousarray(self.rows.reshape(-1))
        return self._keep.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


class FakeBatch:
    def set_batch(self, batch, n_past, logits_all):  # noqa: ANN001
        self.tokens, self.n_past, self.logits_all = list(batch), n_past, logits_all


class FakeLlama:
    """Characters are tokens (their code points); eval decodes one batch without logits_all. It expects each character
    of `expected` after the one before it, the first after the space that ends QUESTION_LEAD."""

    def __init__(self, expected: str) -> None:
        self.vocab = 0x10000
        chars = " " + expected
        self._ctx = FakeContext(self.vocab, {ord(a): ord(b) for a, b in zip(chars, chars[1:], strict=False)})
        self._batch = FakeBatch()
        self.input_ids = np.zeros(4096, dtype=np.intc)
        self.n_tokens = 0
        self.evaluated: list[int] = []

    @property
    def _input_ids(self) -> np.ndarray:
        return self.input_ids[:self.n_tokens]

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return [ord(c) for c in text.decode("utf-8")]

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(chr(t) for t in tokens).encode("utf-8")

    def n_vocab(self) -> int:
        return self.vocab

    def eval(self, tokens: list[int]) -> None:
        self.evaluated += list(tokens)
        self._batch.set_batch(tokens, self.n_tokens, False)
        self._ctx.decode(self._batch)
        self.input_ids[self.n_tokens:self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)


def test_the_bundled_model_reads_each_question_tokens_logprob_from_llamas_logits():
    messages = [{"role": "system", "content": "S"},
                {"role": "user", "content": f"<excerpts>\n[1] (a) 净利润3.7亿元\n</excerpts>\n{QUESTION_LEAD}美图的视网膜？\n用中文回答"}]
    llm = FakeLlama("美图的净网膜？")  # after 的 it expects 净, not 视
    out = _question_logprobs(llm, messages)
    assert [t for t, _ in out] == list("美图的视网膜？")
    # each token is read in the row after the token before it: the expected ones score about 0, 视 about -50, and 网,
    # after a token the fake expects nothing of (a flat row), minus the log of the vocabulary's size
    scores = dict(out)
    assert all(scores[c] > -1e-3 for c in "美图的膜？")
    assert scores["视"] == pytest.approx(-50.0, abs=0.01)
    assert scores["网"] == pytest.approx(-np.log(0x10000), abs=0.01)
    text = template_text(messages)
    through = text[:text.rindex("？") + 1]
    assert llm.n_tokens == len(through)  # the prompt is read through the question's end, and the cache holds that
    assert list(llm.input_ids[:llm.n_tokens]) == [ord(c) for c in through]
    # a second reading (as after an answer, its prompt cached) reads only the token before the question again
    llm.evaluated.clear()
    assert _question_logprobs(llm, messages) == out
    assert llm.evaluated == [ord(QUESTION_LEAD[-1])]


class RawBatch:
    """llama_cpp's LlamaBatch as the decode wrapper sees it: `.batch` with each row's token, position and logits flag."""

    def __init__(self) -> None:
        self.batch = type("raw", (), {"n_tokens": 0, "token": [], "pos": [], "logits": []})()

    def set_batch(self, batch, n_past, logits_all):  # noqa: ANN001 - as llama_cpp's, the last row always asks
        raw = self.batch
        raw.n_tokens, raw.token, raw.pos = len(batch), list(batch), [n_past + i for i in range(len(batch))]
        raw.logits = [logits_all] * len(batch)
        raw.logits[-1] = True


class RowsContext(FakeContext):
    """FakeContext reading the rows that asked for logits, in batch order, as llama.cpp gives them."""

    def decode(self, batch) -> int:  # noqa: ANN001
        raw = batch.batch
        self.rows = np.stack([self.logits_after(t) for t, ask in zip(raw.token, raw.logits, strict=True) if ask])
        return 0


class PromptReadingLlama(FakeLlama):
    """FakeLlama answering as llama-cpp-python does: the prompt (its ChatML text and the assistant's header) read in
    batches of `n_batch` tokens after the prefix it shares with the cache (all of it but its last token when the whole prompt
    is cached), then `reply` written one token per decode call. The decode wrapper sits on its context."""

    def __init__(self, expected: str, reply: str, n_batch: int) -> None:
        super().__init__(expected)
        self.reply, self.n_batch = reply, n_batch
        self._ctx = RowsContext(self.vocab, {**self._ctx.follows, ord("\n"): ord(reply[0]),
                                             **{ord(a): ord(b) for a, b in zip(reply, reply[1:], strict=False)}})
        self._batch = RawBatch()
        self._requires_eval = False

    def token_eos(self) -> int:
        return 0

    def eval(self, tokens: list[int]) -> None:
        for i in range(0, len(tokens), self.n_batch):
            chunk = tokens[i:i + self.n_batch]
            self._batch.set_batch(chunk, self.n_tokens, False)
            self._ctx.decode(self._batch)
            self.input_ids[self.n_tokens:self.n_tokens + len(chunk)] = chunk
            self.n_tokens += len(chunk)

    def create_chat_completion(self, messages, **_: object):  # noqa: ANN001
        prompt = self.tokenize((template_text(messages) + "<|im_start|>assistant\n").encode("utf-8"))
        shared = 0
        while shared < min(self.n_tokens, len(prompt)) and self.input_ids[shared] == prompt[shared]:
            shared += 1
        self.n_tokens = self.read_from = min(shared, len(prompt) - 1)
        self.eval(prompt[self.n_tokens:])
        for c in self.reply:
            yield {"choices": [{"delta": {"content": c}}]}
            self.eval([ord(c)])


@pytest.mark.parametrize("n_batch", [4, 64])  # the question across batches; in the prompt's last batch, with its end
def test_the_questions_logprobs_are_read_with_the_answers_prompt(tmp_path, monkeypatch, n_batch):
    """README step 42: the rows before the question's tokens ask for their logits while the prompt is read, so no pass
    runs after the answer; the reply's token probabilities stay the last row's. Where the cache already held the
    question (the same prompt again), the pass of step 38 reads them after the answer."""
    from rag.answering import bundled
    from tests.answering.test_model_answerer import generator_with

    messages = [{"role": "user", "content": f"<excerpts>\n[1] (a) 净利润3.7亿元\n</excerpts>\n{QUESTION_LEAD}美图的视网膜？\n用中文回答"}]
    expected = _question_logprobs(FakeLlama("美图的净网膜？"), messages)  # the pass's reading (the test above)
    passes: list[int] = []
    monkeypatch.setattr(bundled, "_question_logprobs",
                        lambda llm, m: passes.append(1) or _question_logprobs(llm, m))
    g = generator_with(PromptReadingLlama("美图的净网膜？", "3.7亿", n_batch), tmp_path)
    read = g.generate(messages, 16, Control(read_question=True))
    prompt = len(template_text(messages) + "<|im_start|>assistant\n")  # characters are the fake's tokens
    first_row = template_text(messages).index("美图的视网膜") - 1  # the row that predicts the question's first token
    assert (first_row >= (prompt - 1) // n_batch * n_batch) == (n_batch == 64)  # in the prompt's last batch or not
    assert (read.text, read.question_logprobs, passes) == ("3.7亿", expected, [])
    assert [t for t, _ in read.token_probs] == list("3.7亿") and all(p > 0.99 for _, p in read.token_probs)
    unread = generator_with(PromptReadingLlama("美图的净网膜？", "3.7亿", n_batch), tmp_path).generate(messages, 16,
                                                                                                Control())
    assert (unread.question_logprobs, unread.token_probs) == ((), read.token_probs)
    # asked again, the prompt is cached whole: it is read again from the token before the question
    again = g.generate(messages, 16, Control(read_question=True))
    assert (again.text, again.question_logprobs, passes) == ("3.7亿", expected, [])
    assert g._llm.read_from == first_row  # not only the prompt's last token, as llama-cpp-python would read it
    # a template that puts a token before the prompt (a BOS) moves every row: they are not trusted, the pass reads them
    shifted = PromptReadingLlama("美图的净网膜？", "3.7亿", n_batch)
    render = shifted.tokenize
    shifted.tokenize = lambda text, add_bos=False, special=False: (  # noqa: ARG005
        [1] if text.endswith(b"assistant\n") else []) + render(text)
    other = generator_with(shifted, tmp_path).generate(messages, 16, Control(read_question=True))
    assert (other.text, other.question_logprobs, passes) == ("3.7亿", expected, [1])


def test_no_question_line_gives_nothing():
    assert _question_logprobs(FakeLlama("x"), [{"role": "user", "content": "no question here"}]) == ()


def test_choose_policy_simulates_the_cut_on_the_models_own_factoid_answers_only():
    cp = _script("choose_policy")

    def row(kind: str, lp: list, right: bool = True) -> dict:
        return {"kind": kind, "question": "项目哪一年完工？", "shape": "factoid", "tags": ["zh"], "reply": "x",
                "model_refused": False, "answers": ["2018"] if kind == "answerable" else [],
                "confidence": {"min": 0.9}, "reading": None,
                "checked": [{"text": "2018年" if right else "2017年", "kept": True, "claim_coverage": 1.0,
                             "passage_coverage": 1.0, "coverage": 1.0}],
                "extractive": "项目于2018年完工。", "extractive_refused": False, "extractive_missing": [],
                "extractive_claim_coverage": 0.9, "extractive_score": 2.0, "question_logprobs": lp}

    swapped = row("adversarial", [["项目", -1.0], ["视网膜", -15.0], ["？", -20.0]], right=False)
    plain = row("answerable", [["项目", -1.0], ["完工", -6.0], ["？", -20.0]])
    assert cp.surprise_cut(swapped, -math.inf) == (False, "2017年")
    assert cp.surprise_cut(swapped, -14.0) == (True, "")
    assert cp.surprise_cut(plain, -14.0) == (False, "2018年")  # its question mark is not counted
    assert cp.surprise_cut({**swapped, "question_logprobs": None}, -14.0) == (False, "2017年")
    english = {**swapped, "tags": ["en"]}  # English factoids take the extractive route: the cut never reads them
    assert cp.surprise_cut(english, -14.0) == cp.surprise_cut(english, -math.inf)
    assert cp.SURPRISE_GRID[0] == -math.inf and cp.SURPRISE_GRID[1:] == [-17.0 + 0.5 * i for i in range(15)]
