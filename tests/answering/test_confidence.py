"""How sure the model was of its reply: the token probabilities read from llama.cpp's decode calls, the
statistics of the reply's content tokens, and the rules that refuse an unsure factoid or waive the claim
cut for a sure one (fitted values live in routes.json; here they are set by hand)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from rag.answering import decide
from rag.answering.bundled import LlamaCppGenerator, _end_between_calls, _token_probs
from rag.answering.confidence import content_probs, repeated_chars, token_confidence
from rag.answering.generation import Control, Generation
from rag.answering.model import DEFAULT_POLICY, load_confidence
from rag.errors import ModelError

# 美图2023年的研发预算是3.7亿元。 as the 1.5B model wrote it for an excerpt that gives only the net profit
# (its probabilities, rounded), and the same sentence for the net-profit question the excerpt answers.
INVENTED = (("美", 0.46), ("图", 1.0), ("2", 0.95), ("0", 1.0), ("2", 1.0), ("3", 1.0), ("年的", 0.98),
            ("研发", 0.96), ("预", 0.49), ("算是", 1.0), ("3", 0.24), (".", 0.71), ("7", 0.56), ("亿元", 0.97),
            ("。", 0.94))
GIVEN = (("3", 0.55), (".", 1.0), ("7", 0.99), ("亿元", 0.99), ("[", 0.2), ("1", 0.1), ("]", 0.3), ("。", 0.05))


def test_content_tokens_leave_out_punctuation_and_markers():
    assert content_probs(GIVEN) == [0.55, 0.99, 0.99]  # "." "[" "1" "]" "。" are not content


def test_the_statistics_of_a_reply():
    assert token_confidence(INVENTED) == 0.24
    assert token_confidence(GIVEN) == 0.55
    assert token_confidence(GIVEN, statistic="min_after_first") == 0.99  # the first token also picks the phrasing
    assert token_confidence((("3", 0.05), ("。", 0.9)), statistic="min_after_first") == 0.05  # one token: itself
    assert token_confidence(INVENTED, statistic="geometric_mean") == pytest.approx(
        math.exp(np.mean(np.log([0.46, 1, 0.95, 1, 1, 1, 0.98, 0.96, 0.49, 1, 0.24, 0.56, 0.97]))))
    assert token_confidence(()) is None and token_confidence((("。", 0.1),)) is None
    with pytest.raises(ValueError, match="unknown confidence statistic 'max'; known: min, "):
        token_confidence(GIVEN, statistic="max")


def test_beyond_the_question_reads_only_what_the_reply_adds():
    question = "美图2023年的研发预算是多少？"
    marked = repeated_chars("美图2023年的研发预算是3.7亿元。", question)
    assert "".join(c for c, m in zip("美图2023年的研发预算是3.7亿元。", marked, strict=True) if not m) == "3.7亿元。"
    # 美 (0.46) and 预 (0.49) restate the question: left out; the invented 3 is what is left to doubt
    assert token_confidence(INVENTED, question, "min_beyond") == 0.24
    assert token_confidence(INVENTED, question, "min_beyond_after_first") == 0.56
    assert token_confidence((("美", 0.3), ("图", 1.0)), "美图是什么？", "min_beyond") is None  # all restated


class Tokens:
    """What _token_probs needs of a llama_cpp.Llama: token 9 is the end of turn; others are one letter."""

    def token_eos(self) -> int:
        return 9

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return [9]

    def detokenize(self, tokens: list[int]) -> bytes:
        return b"".join(b"abcdefgh"[t:t + 1] for t in tokens)


def test_each_generated_token_gets_the_probability_of_the_call_that_predicted_it():
    # (tokens in the batch, its first token, argmax, p): two prompt batches, then one call per fed-back token
    decoded = [(32, 5, 7, 0.1), (12, 6, 0, 0.9), (1, 0, 1, 0.8), (1, 1, 2, 0.7), (1, 2, 9, 0.99)]
    assert _token_probs(Tokens(), decoded, "abc") == (("a", 0.9), ("b", 0.8), ("c", 0.7))
    assert _token_probs(Tokens(), decoded, "ab") == (("a", 0.9), ("b", 0.8))  # cut by max_tokens: not beyond
    assert _token_probs(Tokens(), [], "abc") == ()
    # the prompt's last batch is one token (7) that the batch before predicted: not the reply's first token
    tail = [(32, 5, 7, 0.1), (1, 7, 0, 0.9), (1, 0, 1, 0.8), (1, 1, 9, 0.99)]
    assert _token_probs(Tokens(), tail, "ab") == (("a", 0.9), ("b", 0.8))
    assert _token_probs(Tokens(), tail, "xy") == ()  # nothing spells the reply: no probabilities, not wrong ones


class LogitsContext:
    """A llama.cpp context whose decode leaves fixed logits (a 4-token vocabulary)."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows, self.calls = rows, 0
        self.logits = (np.zeros(4, dtype=np.float32))

    def decode(self, batch) -> int:  # noqa: ANN001
        self.logits[:] = self.rows[self.calls]
        self.calls += 1
        return 0

    def get_logits(self):
        return self.logits.ctypes.data_as(np.ctypeslib.ctypes.POINTER(np.ctypeslib.ctypes.c_float))


class Batch:
    def __init__(self, *tokens: int) -> None:
        self.batch = type("raw", (), {"n_tokens": len(tokens), "token": list(tokens)})()


def test_the_decode_wrapper_records_the_next_tokens_distribution():
    llm = type("llm", (), {})()
    llm._ctx = LogitsContext([[0.0, math.log(3.0), 0.0, 0.0], [5.0, 0.0, 0.0, 0.0]])
    llm.n_vocab = lambda: 4
    seen = []
    _end_between_calls(llm, lambda: None, lambda *r: seen.append(r))
    llm._ctx.decode(Batch(3, 2, 2))
    llm._ctx.decode(Batch(1))
    assert [(n, first, best) for n, first, best, _ in seen] == [(3, 3, 1), (1, 1, 0)]
    assert seen[0][3] == pytest.approx(3 / 6)  # e^log3 / (1 + 3 + 1 + 1)
    assert seen[1][3] == pytest.approx(math.exp(5) / (math.exp(5) + 3))


def test_kept_replies_keep_their_token_probabilities(tmp_path):
    from rag.answering.bundled import _append_reply, _read_replies

    path = tmp_path / "replies.jsonl"
    _append_reply(path, "qwen", "k", Generation("3.7亿元", pieces=("3.7亿元",), token_probs=GIVEN[:4]))
    assert _read_replies(path, "qwen")["k"].token_probs == GIVEN[:4]
    path.write_text('{"model": "qwen", "key": "old", "pieces": ["x"], "prompt_tokens": 1, "first_token_s": 0, '
                    '"seconds": 0}\n', encoding="utf-8")  # kept before probabilities were: none, not an error
    assert _read_replies(path, "qwen")["old"].token_probs == ()
    assert LlamaCppGenerator(tmp_path / "m.gguf", "qwen", reply_file=path)._saved["old"].token_probs == ()


def test_an_unsure_answer_is_refused_and_a_sure_one_may_pass_below_the_claim_cut():
    args = dict(said_not_found=False, kept=1, passage_coverage=1.0, extractive_score=0.0, min_coverage=0.0,
                min_extractive_score=-math.inf)
    unsure = decide.model_answer(**args, claim_coverage=0.9, min_claim_coverage=0.3, confidence=0.15, min_confidence=0.2)
    assert not unsure.answer
    assert unsure.reason == ("the model gave its answer's least sure token a probability of 0.150, below 0.200: "
                             "it was guessing")
    close = decide.model_answer(**args, confidence=0.197, min_confidence=0.2)
    assert "0.197, below 0.200" in close.reason  # never "0.20, below 0.20"
    assert decide.model_answer(**args, claim_coverage=0.9, min_claim_coverage=0.3, confidence=0.25,
                               min_confidence=0.2).answer
    low_claim = dict(args, claim_coverage=0.1, min_claim_coverage=0.3)
    assert decide.waiver("confidence", 0.97, 0.98) is None
    sure = decide.waiver("confidence", 0.98, 0.98)
    assert sure == decide.Waiver("confidence", 0.98, 0.98)
    assert not decide.model_answer(**low_claim, confidence=0.97).answer
    assert decide.model_answer(**low_claim, confidence=0.98, waived=sure).answer
    # no probabilities (an endpoint): neither rule applies, the claim cut decides
    assert decide.waiver("confidence", None, 0.5) is None
    assert not decide.model_answer(**low_claim, confidence=None, min_confidence=0.2).answer
    assert decide.model_answer(**args, confidence=None, min_confidence=0.2).answer
    # a waiver never passes the confidence cut: the unsure answer is refused first
    assert "it was guessing" in decide.model_answer(**low_claim, confidence=0.1, min_confidence=0.2, waived=sure).reason
    with pytest.raises(ValueError, match="unknown claim-cut waiver 'hunch': one of confidence, surprise, meaning, reading"):
        decide.waiver("hunch", 1.0, 0.5)


def test_the_saved_confidence_cuts_are_read_and_checked(tmp_path):
    assert load_confidence(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"routes": {}}', encoding="utf-8")
    assert load_confidence(path) == {}
    path.write_text('{"routes": {}, "confidence": {"min_confidence": 0.2, "waive_claim_confidence": null, '
                    '"statistic": "min"}}', encoding="utf-8")
    assert load_confidence(path) == {"min_confidence": 0.2, "waive_claim_confidence": math.inf,
                                     "confidence_statistic": "min"}
    for bad in ('"min_confidence": 0.2, "waive_claim_confidence": 0.9, "statistic": "mean"',
                '"min_confidence": 0.2, "waive_claim_confidence": -1, "statistic": "min"'):
        path.write_text('{"routes": {}, "confidence": {' + bad + '}}', encoding="utf-8")
        with pytest.raises(ModelError, match="the statistic must be one of min, min_after_first.*Rerun scripts"):
            load_confidence(path)
    path.write_text('{"routes": {}, "confidence": {"min_confidence": 0.2}}', encoding="utf-8")
    with pytest.raises(ModelError, match="lacks or garbles 'waive_claim_confidence'. Rerun scripts/choose_policy.py"):
        load_confidence(path)


class Sure:
    """A generator whose reply comes with token probabilities."""

    name = "scripted"

    def __init__(self, text: str, probs: tuple[tuple[str, float], ...]) -> None:
        self.text, self.probs = text, probs

    def generate(self, messages, max_tokens, control=None):  # noqa: ANN001
        return Generation(self.text, tokens=len(self.probs), token_probs=self.probs)


def test_the_model_answerer_refuses_a_factoid_it_was_unsure_of(fake_engine):
    from tests.answering.test_model_answerer import run

    unsure = replace(DEFAULT_POLICY, min_confidence=0.3)
    given = run(fake_engine, Sure("3.7亿元[1]", GIVEN), question="美图2023年的净利润是多少？", policy=unsure)
    assert (given.answer.refused, given.answer.text, given.answer.confidence) == (False, "3.7亿元[1]", 0.55)
    doubted = (("3", 0.25), *GIVEN[1:])
    out = run(fake_engine, Sure("3.7亿元[1]", doubted), question="美图2023年的净利润是多少？", policy=unsure)
    assert out.answer.refused and out.checked[0].kept
    assert out.answer.reason.startswith("the model gave its answer's least sure token a probability of 0.250")
    assert out.answer.confidence == 0.25 and out.confidence == 0.25
    # without probabilities (an endpoint) the same reply stands, and no confidence is claimed
    plain = run(fake_engine, Sure("3.7亿元[1]", ()), question="美图2023年的净利润是多少？", policy=unsure)
    assert (plain.answer.refused, plain.answer.confidence) == (False, None)


def test_a_sure_factoid_below_the_claim_cut_is_kept_without_a_reading(fake_engine):
    """The confidence waiver (decide.WAIVERS' first): the model's answer, below the claim cut (the article never gives
    a pay figure), stands where its least sure content token reaches the waiver's mark; nothing else is measured."""
    from tests.answering.test_model_answerer import run
    from tests.answering.test_reading_check import OTHER_NOUN_Q, STRICT

    sure = (("3", 0.98), *((t, 0.99) for t, _ in GIVEN[1:]))
    strict = replace(STRICT, waive_claim_confidence=0.98)
    kept = run(fake_engine, Sure("3.7亿元[1]", sure), question=OTHER_NOUN_Q, policy=strict)
    assert (kept.answer.refused, kept.answer.text, kept.reading, kept.answer.confidence) == (False, "3.7亿元[1]", None, 0.98)
    assert kept.answer.notice == ""  # the confidence waiver keeps it silently
    unsure = (("3", 0.97), *sure[1:])
    refused = run(fake_engine, Sure("3.7亿元[1]", unsure), question=OTHER_NOUN_Q, policy=replace(strict, waive_claim_reading=math.inf))
    assert refused.answer.refused and "below 0.50: the value may belong to something other" in refused.answer.reason


def test_a_context_without_logits_records_no_probabilities(tmp_path):
    """Another llama-cpp-python (here a fake without get_logits): the reply comes, with no probabilities."""
    from tests.answering.test_model_answerer import DecodingLlama, generator_with

    g = generator_with(DecodingLlama("27亿元"), tmp_path)
    out = g.generate([{"role": "user", "content": "总收入？"}], 16, Control())
    assert (out.text, out.token_probs) == ("27亿元", ())


class LogitsLlama:
    """llama_cpp.Llama as generate() uses it, over a 4-token vocabulary ("a" "b" "c", 3 = end of turn): it
    reads the prompt in `prompt_batches` decode calls, then writes greedily from each call's logits, feeding
    each token back as llama-cpp-python does; `cached` skips the prompt's decode unless _requires_eval is set
    (the whole prompt found in the cache)."""

    LOGITS = {0: [0.0, math.log(3.0), 0.0, 0.0], 1: [0.0, 0.0, math.log(9.0), 0.0], 2: [0.0, 0.0, 0.0, 5.0]}

    def __init__(self, prompt_batches: int = 2, cached: bool = False) -> None:
        self.prompt_batches, self.cached, self._requires_eval = prompt_batches, cached, False
        self._ctx = LogitsContext([])
        self.last = 0

    def n_vocab(self) -> int:
        return 4

    def token_eos(self) -> int:
        return 3

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return [3] if data == b"<|im_end|>" else list(range(len(data) // 3))

    def detokenize(self, tokens: list[int]) -> bytes:
        return b"".join(b"abc"[t:t + 1] for t in tokens)

    def _decode(self, *tokens: int) -> None:
        self._ctx.rows.append(self.LOGITS[tokens[-1] % 3])
        self._ctx.decode(Batch(*tokens))

    def create_chat_completion(self, **_: object):
        if not self.cached or self._requires_eval:
            for i in range(self.prompt_batches):
                self._decode(7 + i, 0)  # the prompt ends on a token whose logits predict "b"
        while True:
            best = int(np.argmax(self._ctx.logits))
            if best == 3:
                return
            yield {"choices": [{"delta": {"content": "abc"[best]}}]}
            self._decode(best)


def test_generate_gives_each_written_token_with_its_probability(tmp_path):
    from tests.answering.test_model_answerer import generator_with

    llm = LogitsLlama()
    out = generator_with(llm, tmp_path).generate([{"role": "user", "content": "总收入？"}], 16, Control())
    assert out.text == "bc"
    assert [t for t, _ in out.token_probs] == ["b", "c"]
    assert [p for _, p in out.token_probs] == pytest.approx([3 / 6, 9 / 12], abs=1e-4)
    # the whole prompt already cached: generate() has llama-cpp-python decode its last token again
    cached = LogitsLlama(cached=True)
    cached._ctx.logits[:] = LogitsLlama.LOGITS[0]  # what a live decode of that prompt left
    again = generator_with(cached, tmp_path).generate([{"role": "user", "content": "总收入？"}], 16, Control())
    assert (again.text, [t for t, _ in again.token_probs]) == ("bc", ["b", "c"])
