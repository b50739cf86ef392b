"""The bundled language model, in-process: a GGUF file run by llama-cpp-python (no server to start).

`LlamaCppGenerator` is a `Generator` (rag/answering/generation.py). It loads the file on first use (about
2 s; 1.3 GB resident for the 1.5B model) and keeps it; one generation runs at a time (a lock: llama.cpp's
context is not thread-safe; rag/serving.py queues requests fairly in front of it). Everything that can go
wrong — llama-cpp-python not installed, the file missing or unreadable, a crash mid-answer, a reply still
running after `timeout_s` or past the serving queue's deadline — is a GenerationFailed whose message names
the cause and the fix, so the answerer can fall back to the extractive answer at once. Stop, the timeout and
the deadline are looked at between llama.cpp's calls, while the prompt is read too (`PROMPT_BATCH`).

llama.cpp reuses the key/value cache of the longest prompt prefix shared with the previous request, so a
fixed system prompt is paid for once per process, not per question. That cache holds one prompt, so the model's
state just after each system message is kept too (`SystemStates`): a prompt with another system message (the
pick's, README step 20) no longer makes the next answer read its own again.
"""

from __future__ import annotations

import atexit
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag.answering.generation import Control, Generation, GenerationFailed
from rag.errors import InputError

REPLY_CACHE = 256  # replies kept by prompt (Config.llm_reply_cache)
N_CTX = 2048  # the answer prompt stays near 400-700 tokens; 2,048 leaves room for follow-ups and the reply
# Prompt tokens read per llama.cpp call. Stop, the serving queue's deadline and RAG_LLM_TIMEOUT_S are looked
# at between calls, so this bounds how long the model stays busy after one of them (32 tokens: about 0.9 s on
# this 2-core machine, where the prompt is read at 35-57 tokens/s). Reading a 140-token prompt took 3.96 s
# against 3.78 s with 512 (16: 4.23 s), README "Serving".
PROMPT_BATCH = 32
# System messages whose model state is kept (SystemStates): the answer prompt's (the reading check shares it) and
# the pick's, with room for a changed prompt (step 73's Chinese one, where Policy.system_language gives it). The answer
# prompt's 108 tokens keep 3.1 MB.
SYSTEM_STATES = 4


class _Ended(Exception):
    """Raised between llama.cpp calls to end a generation: the reason in words, or "" for Stop."""


class LlamaCppGenerator:
    """One GGUF model held by this process."""

    def __init__(self, path: Path, name: str, threads: int = 0, timeout_s: float = 60.0,
                 n_ctx: int = N_CTX, reply_cache: int = REPLY_CACHE, reply_file: Path | None = None) -> None:
        self.path = Path(path)
        self.name = name
        self.threads = threads
        self.timeout_s = timeout_s
        self.n_ctx = n_ctx
        self._llm: Any = None
        # Greedy decoding is deterministic: the same prompt gets the same reply, replayed at once (a repeated
        # question, or two answerers of one evaluation sharing a prompt). Small: replies are short.
        self._replies: OrderedDict[str, Generation] = OrderedDict()
        self.reply_cache = reply_cache
        # replies kept across runs (Config.llm_reply_file): key -> Generation, for this model only
        self.reply_file = reply_file
        self._saved: dict[str, Generation] = _read_replies(reply_file, name) if reply_file else {}
        self._load_error = ""
        self._lock = threading.Lock()
        self._why_end: Any = None  # while a generation runs: () -> why it must end now ("" for Stop), or None
        # while a generation runs: (tokens in the decoded batch, its first token, the next token's argmax and
        # its probability) per llama.cpp call, for Generation.token_probs (_end_between_calls)
        self._decoded: list[tuple[int, int, int, float]] | None = None
        # while a generation that asked for the question's log-probabilities runs: their rows, kept as the prompt is read
        self._question_rows: QuestionRows | None = None
        self._systems = SystemStates()

    def available(self) -> str:
        """"" when the model can be used, else why not (for notices and `rag doctor`-style checks)."""
        if self._llm is not None:
            return ""
        if self._load_error:
            return self._load_error
        if not self.path.is_file():
            return (f"the language model file {self.path} is not installed; run `make llm-model` "
                    "(or set RAG_LLM_MODEL_PATH to a GGUF file)")
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            return "llama-cpp-python is not installed; run `make llm-model`"
        return ""

    def load(self) -> Any:
        """The llama_cpp.Llama instance, loaded once (GenerationFailed when it cannot be)."""
        if self._llm is not None:
            return self._llm
        why = self.available()
        if why:
            raise GenerationFailed(why)
        import os

        import llama_cpp

        threads = self.threads or max(1, len(os.sched_getaffinity(0)))
        try:
            # use_mmap=False: llama.cpp repacks the Q4_K weights for this CPU into memory of its own, so a
            # mapped file leaves a second copy of the weights resident: 1.89 GB RSS after a few answers
            # against 1.28 GB read in (same speed within the machine's noise; README, "Serving")
            self._llm = llama_cpp.Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=threads,
                                        n_threads_batch=threads, n_batch=PROMPT_BATCH, use_mmap=False,
                                        verbose=False)
            _end_between_calls(self._llm, self._end_reason, self._record, lambda: self._question_rows)
            # the kept states are of ChatML system turns with nothing before them (template_text): the prompts of
            # another chat template, or of one that puts a BOS token first, would never start with them
            meta = getattr(self._llm, "metadata", None) or {}
            template = meta.get("tokenizer.chat_template", "")
            plain = ("<|im_start|>" in template and "bos_token" not in template
                     and meta.get("tokenizer.ggml.add_bos_token", "false") != "true")
            self._systems = SystemStates(keep=SYSTEM_STATES if plain else 0)
            # freed before the interpreter tears llama_cpp down (its own destructor then fails noisily)
            atexit.register(self.close)
        except Exception as exc:  # a damaged or foreign file: llama.cpp says only "failed to load"
            self._load_error = (f"the language model {self.path} could not be loaded ({exc}); run "
                                "`make llm-model` again to rebuild it")
            raise GenerationFailed(self._load_error) from None
        return self._llm

    def build_hint(self) -> str:
        """A line for the start-up progress when this CPU could read prompts faster with another build of
        llama.cpp (`faster_build_hint`); "" otherwise, or when it cannot be told."""
        try:
            import llama_cpp

            info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
            flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                          if line.startswith("flags")), "")
        except (ImportError, OSError, AttributeError):
            return ""
        return faster_build_hint(info, flags)

    def _end_reason(self) -> str | None:
        """Why the running generation must end now ("" for Stop), or None (also when none runs)."""
        why_end = self._why_end
        return why_end() if why_end is not None else None

    def _ending(self, control: Control, start: float, stopped: str, doing: str) -> str | None:
        """Why a llama.cpp request begun at `start` (time.monotonic) must end now, or None to go on: Stop
        (`stopped`), the deadline, or RAG_LLM_TIMEOUT_S while the model was `doing` it."""
        if control.stopped:
            return stopped
        if control.overdue():
            return control.deadline_why or "the model ran past its deadline"
        if time.monotonic() - start > self.timeout_s:
            return f"the model was still {doing} after {self.timeout_s:g} s (RAG_LLM_TIMEOUT_S)"
        return None

    def _record(self, n_tokens: int, first: int, best: int, p: float) -> None:
        if self._decoded is not None:
            self._decoded.append((n_tokens, first, best, p))

    def close(self) -> None:
        """Free the model (the next question loads it again)."""
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
                self._systems = SystemStates()

    def generate(self, messages: Sequence[dict[str, str]], max_tokens: int,
                 control: Control | None = None) -> Generation:
        control = control or Control()
        key = json.dumps([list(messages), max_tokens], ensure_ascii=False)
        with self._lock:
            if key in self._replies and (self._replies[key].question_logprobs or not control.read_question):
                self._replies.move_to_end(key)
                return _replay(self._replies[key], control)
            if key in self._saved:
                return _replay(self._saved[key], control)
            llm = self.load()
            start = time.monotonic()
            first = 0.0
            pieces: list[str] = []
            stopped = False

            def why_end() -> str | None:
                """Why the generation must end now ("" for Stop), or None to go on."""
                return self._ending(control, start, "", "writing")

            self._why_end = why_end  # read between llama.cpp calls, mid-prompt too (_end_between_calls)
            # llama-cpp-python samples a prompt it finds wholly cached (a question asked again after a Stop at
            # its first token) from the logits it kept, with no decode call to read the first token's
            # probability from; this makes it decode the prompt's last token again (one call)
            llm._requires_eval = True
            question_logprobs: tuple[tuple[str, float], ...] = ()
            # the question's rows of logits, asked for while the prompt is read (README step 42): no pass after it
            self._question_rows = QuestionRows.of(llm, messages) if control.read_question else None
            try:
                self._systems.prepare(llm, messages)
                if self._question_rows is not None:
                    # the cache may hold this prompt's start through the question (the same excerpts asked about
                    # again): read again from the token before the question, so that its rows are read too
                    llm.n_tokens = min(llm.n_tokens, self._question_rows.k - 1)
                self._decoded = []  # from here on: the answer's prompt and tokens (Generation.token_probs)
                stream = llm.create_chat_completion(messages=list(messages), stream=True, temperature=0.0,
                                                    top_k=1, max_tokens=max_tokens, seed=0)
                try:
                    for chunk in stream:
                        why = why_end()
                        if why is not None:
                            raise _Ended(why)
                        piece = chunk["choices"][0]["delta"].get("content") or ""
                        if not piece:
                            continue
                        if not pieces:
                            first = time.monotonic() - start
                        pieces.append(piece)
                        control.token(piece)
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
            except _Ended as ended:
                if str(ended):
                    raise GenerationFailed(str(ended)) from None
                stopped = True  # Stop: the text so far is the answer, checked like any other
            except Exception as exc:  # llama.cpp errors mid-answer (context overflow, decode failure)
                raise GenerationFailed(f"the model failed while answering ({type(exc).__name__}: {exc})") from None
            finally:
                self._why_end = None
                decoded, self._decoded = self._decoded or [], None
                rows, self._question_rows = self._question_rows, None
            if not stopped and control.read_question:
                question_logprobs = rows.logprobs(llm) if rows is not None else ()
                if not question_logprobs:
                    # the prompt's reading did not give them (a chat template that puts other tokens before the
                    # question): after the answer, from its cached prompt, the question's tokens read again, their
                    # logits asked for (README step 38, about 0.35 s); the answer's own reading is left as it was
                    try:
                        question_logprobs = _question_logprobs(llm, messages)
                    except Exception:  # noqa: BLE001 - a feature, not the answer: the next prompt is read afresh
                        llm.n_tokens = 0
            prompt_tokens = len(llm.tokenize(template_text(messages).encode("utf-8"), add_bos=False))
            generation = Generation(text="".join(pieces), stopped=stopped, prompt_tokens=prompt_tokens,
                                    tokens=len(pieces), first_token_s=first, seconds=time.monotonic() - start,
                                    pieces=tuple(pieces), token_probs=_token_probs(llm, decoded, "".join(pieces)),
                                    question_logprobs=question_logprobs)
            if not stopped and self.reply_cache:
                self._replies[key] = generation
                while len(self._replies) > self.reply_cache:
                    self._replies.popitem(last=False)
            if not stopped and self.reply_file is not None:
                self._saved[key] = generation
                _append_reply(self.reply_file, self.name, key, generation)
        return generation

    def keep_systems(self, systems: Sequence[str]) -> None:
        """Read each system message now and keep the model's state after it (SystemStates), so that the first
        question asked pays for none of them; the cache is left holding the last. GenerationFailed when the
        model cannot be loaded or llama.cpp fails."""
        with self._lock:
            llm = self.load()
            try:
                for system in systems:
                    self._systems.prepare(llm, [{"role": "system", "content": system}])
            except Exception as exc:  # llama.cpp errors (a decode failure)
                raise GenerationFailed(f"the model failed while reading its system messages ({type(exc).__name__}: "
                                       f"{exc})") from None

    def yes_probability(self, messages: Sequence[dict[str, str]], yes: str, no: str,
                        control: Control | None = None) -> float:
        """P(the reply's first token is `yes`'s first token) against `no`'s (the reading check): the first of
        `first_token_probabilities` over the two."""
        return self.first_token_probabilities(messages, [yes, no], control)[0]

    def question_logprobs_in(self, messages: Sequence[dict[str, str]],
                             control: Control | None = None) -> tuple[tuple[str, float], ...]:
        """Each token of `messages`' question (its QUESTION_LEAD line) and its natural log-probability after everything
        before it (README step 46 reads the answer's prompt without its excerpts): one prompt reading up to the
        question's end, no decoding, the cached prefix and the kept system message reused. () where the prompt has no
        question line. Stop, the deadline and the timeout end it between batches; GenerationFailed then, or when the
        model cannot be loaded or llama.cpp fails."""
        return self._reading(messages, control, _question_logprobs)

    def first_token_probabilities(self, messages: Sequence[dict[str, str]], words: Sequence[str],
                                  control: Control | None = None) -> list[float]:
        """The probabilities of the reply's first token being each of `words`' first tokens, against each other
        (a softmax over their logits), read from llama.cpp's logits after the prompt (ChatML, the assistant turn
        opened): one prompt evaluation and no decoding. The prompt's cached prefix is reused, and the next
        answer finds its own cached again where the two share one. Stop, the deadline and the timeout end it
        between prompt batches, as they end an answer. GenerationFailed when it ends so, or the model cannot be
        loaded, or llama.cpp fails."""
        import numpy as np

        def first_tokens(llm: Any, messages: Sequence[dict[str, str]]) -> list[float]:
            prompt = template_text(messages) + "<|im_start|>assistant\n"
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            cached = list(llm._input_ids[:llm.n_tokens])
            keep = 0  # the longest cached prefix, leaving at least one token to evaluate for fresh logits
            while keep < min(len(cached), len(tokens) - 1) and cached[keep] == tokens[keep]:
                keep += 1
            llm.n_tokens = keep
            llm.eval(tokens[keep:])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            firsts = [llm.tokenize(w.encode("utf-8"), add_bos=False)[0] for w in words]
            chosen = np.array([float(logits[t]) for t in firsts])
            weights = np.exp(chosen - chosen.max())
            return [float(w) for w in weights / weights.sum()]

        return self._reading(messages, control, first_tokens)

    def _reading(self, messages: Sequence[dict[str, str]], control: Control | None,
                 read: Callable[[Any, Sequence[dict[str, str]]], Any]) -> Any:
        """`read(llm, messages)` under the model's lock, the kept system message put back first; Stop, the deadline
        and the timeout end it between batches (GenerationFailed), as any llama.cpp failure does."""
        control = control or Control()
        with self._lock:
            llm = self.load()
            start = time.monotonic()
            self._why_end = lambda: self._ending(control, start, "stopped while reading", "reading")
            try:
                self._systems.prepare(llm, messages)
                return read(llm, messages)
            except _Ended as ended:
                raise GenerationFailed(str(ended) or "stopped while reading") from None
            except Exception as exc:  # llama.cpp errors (context overflow, decode failure)
                raise GenerationFailed(f"the model failed while reading ({type(exc).__name__}: {exc})") from None
            finally:
                self._why_end = None


class SystemStates:
    """The model's state just after each system message, the last `keep` used, so that llama.cpp's cache (one
    prompt) can be given back the system message a prompt starts with instead of reading it again: after the
    pick (its own system message), the next Chinese answer's first token came 1.5 s later (README step 20,
    `scripts/bench_pick_cache.py`). Saving or restoring the answer prompt's state took 3 ms.

    `save(llm)` gives the state of llama.cpp's sequence (it must hold the system message alone), and
    `restore(llm, tokens, state)` puts it back, with the tokens it holds; both are llama.cpp's by default."""

    def __init__(self, keep: int = SYSTEM_STATES, save: Callable[[Any], bytes] | None = None,
                 restore: Callable[[Any, list[int], bytes], None] | None = None) -> None:
        self.keep = keep
        self.save = save or _save_sequence
        self.restore = restore or _restore_sequence
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()

    def prepare(self, llm: Any, messages: Sequence[dict[str, str]]) -> None:
        """Leave llama.cpp's cache holding the system message that `messages` start with: already there, put
        back from its kept state, or read now (between batches, so Stop and deadlines end it as they end any
        prompt) and its state kept. Nothing for messages without a system message."""
        if not self.keep or not messages or messages[0].get("role") != "system":
            return
        prefix = llm.tokenize(template_text(messages[:1]).encode("utf-8"), add_bos=False, special=True)
        key = tuple(prefix)
        cached = [int(t) for t in llm._input_ids[:llm.n_tokens][:len(prefix)]]
        if key in self._states:
            self._states.move_to_end(key)
            if cached == prefix:
                return
            try:
                self.restore(llm, prefix, self._states[key])
                return
            except RuntimeError:  # llama.cpp refused the state: read the message again below and keep a new one
                del self._states[key]
                cached = []
        shared = 0
        while shared < len(cached) and cached[shared] == prefix[shared]:
            shared += 1
        # the cache cut back to the system message, so that its state holds nothing else (once per message:
        # a question asked again after it loses its cached rest)
        llm.n_tokens = shared
        llm.eval(prefix[shared:])
        self._states[key] = self.save(llm)
        while len(self._states) > self.keep:
            self._states.popitem(last=False)


def _save_sequence(llm: Any) -> bytes:
    """llama.cpp's state of sequence 0 (its key/value cache), as bytes."""
    import ctypes

    import llama_cpp

    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    buffer = (ctypes.c_uint8 * size)()
    n = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
    return bytes(buffer)[:n]


def _restore_sequence(llm: Any, tokens: list[int], state: bytes) -> None:
    """Put back sequence 0's state saved by `_save_sequence` after `tokens` were read (its cache replaced)."""
    import ctypes

    import llama_cpp

    source = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
    llm.n_tokens = 0  # nothing counted as cached unless the state is back whole
    if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, source, len(state), 0) != len(state):
        raise RuntimeError("llama.cpp could not restore a kept system message's state")
    llm.input_ids[:len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    llm._requires_eval = True


def faster_build_hint(system_info: str, cpu_flags: str) -> str:
    """The hint when the CPU has AVX-512 (`cpu_flags`, /proc/cpuinfo's flags line) and the llama.cpp build
    (`system_info`, llama_print_system_info) does not use it: the native build, the default on such a CPU since
    README step 63, gave the first token 23% sooner there (the portable build runs there where it was chosen, or was
    installed before step 63 and not rebuilt since)."""
    has = "avx512f" in cpu_flags.split()
    uses = "AVX512 = 1" in system_info
    if not has or uses:
        return ""
    return ("this CPU has AVX-512 and llama.cpp was built without it (the portable build: chosen with "
            "LLAMA_CPU=portable, or installed before round 43): `make llm-model LLAMA_CPU=native` (or LLAMA_CPU=auto, "
            "this CPU's default) gave the first token 23% sooner on such a CPU (README step 63)")


def _end_between_calls(llm: Any, why_end: Any, record: Any = None, capture: Any = None) -> None:
    """Make `llm` raise _Ended before each llama.cpp decode call once `why_end()` gives a reason (not None),
    and after each call hand `record(tokens in the batch, its first token, argmax, its probability)` the
    distribution of the next token (greedy decoding: the argmax is the token written next). Where `capture()` gives
    QuestionRows, the batch's rows at the positions it wants also ask for their logits, and it keeps them (README step
    42: the question's log-probabilities read with the prompt); the next token's distribution is then the last row's.

    llama-cpp-python reads a prompt in calls of `n_batch` tokens and then one call per generated token, and
    looks at nothing of ours in between: without this, Stop or a deadline would wait for the whole prompt
    (4-16 s here). The check sits on the context's `decode` (llama-cpp-python 0.3.36, pinned), between calls,
    so the cache is left whole: llama-cpp-python counts only the batches it decoded and the next prompt
    reuses them. (llama.cpp's own abort callback would end a call midway, but it calls back into Python for
    every graph node, which needs the interpreter lock hundreds of times per token while other threads of the
    server run searches.)"""
    ctx = getattr(llm, "_ctx", None)
    decode = getattr(ctx, "decode", None)
    if decode is None:  # another llama-cpp-python: Stop and deadlines then act per generated token only
        return

    import numpy as np

    get_logits = getattr(ctx, "get_logits", None)
    n_vocab = llm.n_vocab() if record is not None and get_logits is not None else 0

    def checked_decode(batch: Any) -> Any:
        why = why_end()
        if why is not None:
            raise _Ended(why)
        raw = getattr(batch, "batch", None)
        n = int(raw.n_tokens) if raw is not None else 0
        rows = capture() if capture is not None and n_vocab else None
        if rows is not None:
            for i in range(n):
                if rows.wanted(int(raw.pos[i])):
                    raw.logits[i] = True
        result = decode(batch)
        if n_vocab:
            # llama-cpp-python asks logits for the last token of each batch only (llama.cpp gives the rows that asked,
            # in batch order): one row, unless `capture` asked for more
            outputs = [i for i in range(n) if raw.logits[i]] if rows is not None else []
            out = max(len(outputs), 1)
            logits = np.ctypeslib.as_array(get_logits(), shape=(out * n_vocab,)).reshape(out, n_vocab)
            if rows is not None:
                for j, i in enumerate(outputs):
                    if rows.wanted(int(raw.pos[i])):
                        rows.keep(int(raw.pos[i]), logits[j])
            last = logits[-1]
            best = int(last.argmax())
            p = 1.0 / float(np.exp(last - last[best]).sum())
            record(n, int(raw.token[0]) if n else -1, best, p)
        return result

    ctx.decode = checked_decode


def _question_tokens(llm: Any, messages: Sequence[dict[str, str]]) -> tuple[list[int], int] | None:
    """The prompt's tokens through the end of its question (the last user turn's line after prompt.QUESTION_LEAD) and
    where the question's own tokens start among them (a space can join its first character's token); None where the
    prompt has no question line."""
    from rag.answering.prompt import QUESTION_LEAD

    text = template_text(messages)
    at = text.rfind(QUESTION_LEAD)
    if at < 0:
        return None
    start = at + len(QUESTION_LEAD)
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    before = llm.tokenize(text[:start].encode("utf-8"), add_bos=False, special=True)
    whole = llm.tokenize(text[:end].encode("utf-8"), add_bos=False, special=True)
    k = 0
    while k < min(len(before), len(whole)) and before[k] == whole[k]:
        k += 1
    return None if k == 0 or k >= len(whole) else (list(whole), k)


def _logprobs_of(llm: Any, rows: Sequence[Any], tokens: Sequence[int]) -> tuple[tuple[str, float], ...]:
    """Each token's text and natural log-probability under the row of logits before it (rows[j] predicts tokens[j])."""
    import numpy as np

    out = []
    for logits, token in zip(rows, tokens, strict=False):
        shifted = logits - logits.max()
        out.append((llm.detokenize([token]).decode("utf-8", errors="replace"),
                    round(float(shifted[token] - np.log(np.exp(shifted).sum())), 3)))
    return tuple(out)


class QuestionRows:
    """The question's rows of logits, kept while llama.cpp reads the answer's prompt (README step 42): the rows at the
    token before the question through its second-to-last token predict its tokens. Reading them with the prompt costs
    their output rows only; reading the question again after the answer (_question_logprobs) cost about 0.35 s."""

    def __init__(self, whole: list[int], k: int) -> None:
        self.whole, self.k = whole, k
        self.rows: dict[int, Any] = {}

    @classmethod
    def of(cls, llm: Any, messages: Sequence[dict[str, str]]) -> QuestionRows | None:
        span = _question_tokens(llm, messages)
        return None if span is None else cls(*span)

    def wanted(self, position: int) -> bool:
        return self.k - 1 <= position < len(self.whole) - 1

    def keep(self, position: int, logits: Any) -> None:
        self.rows[position] = logits.copy()

    def logprobs(self, llm: Any) -> tuple[tuple[str, float], ...]:
        """The question tokens' log-probabilities, as _question_logprobs gives them; () unless every row was read after
        the tokens they were wanted for (another template would put others there). The question's last token itself may
        differ: in the whole prompt it can join the line's end (`？\n`), and the rows before it are the same."""
        positions = range(self.k - 1, len(self.whole) - 1)
        read = [int(t) for t in llm._input_ids[:len(self.whole) - 1]]
        if any(p not in self.rows for p in positions) or read != self.whole[:-1]:
            return ()
        return _logprobs_of(llm, [self.rows[p] for p in positions], self.whole[self.k:])


def _question_logprobs(llm: Any, messages: Sequence[dict[str, str]]) -> tuple[tuple[str, float], ...]:
    """Each token of the question (the last user turn's line after prompt.QUESTION_LEAD) and the natural log-probability
    the model gives it after everything before it in the prompt (README step 38). The prompt is read up to the
    question's end, its cached prefix reused (after the answer, all of it but the token before the question), the
    question's tokens in batches that ask llama.cpp for every row of logits: the question's rows of logits, not another
    reading. The cache then holds the prompt through the question. () where the prompt has no question line, or
    llama-cpp-python lacks what this needs (another version). Since step 42 the answer's own prompt reading gives them
    (QuestionRows); this runs where it could not."""
    import numpy as np

    batch, ctx = getattr(llm, "_batch", None), getattr(llm, "_ctx", None)
    span = _question_tokens(llm, messages)
    if span is None or batch is None or ctx is None or not hasattr(ctx, "get_logits"):
        return ()
    whole, k = span
    cached = list(llm._input_ids[:llm.n_tokens])
    keep = 0  # the cached prefix, leaving the token before the question to read for its logits
    while keep < min(len(cached), k - 1) and cached[keep] == whole[keep]:
        keep += 1
    llm.n_tokens = keep
    llm.eval(whole[keep:k])
    n_vocab = llm.n_vocab()
    rows = [np.ctypeslib.as_array(ctx.get_logits(), shape=(n_vocab,)).copy()]  # predicts the question's first token
    question = whole[k:]
    for i in range(0, len(question), PROMPT_BATCH):
        chunk = question[i:i + PROMPT_BATCH]
        n_past = llm.n_tokens
        batch.set_batch(batch=chunk, n_past=n_past, logits_all=True)
        ctx.decode(batch)
        rows.extend(np.ctypeslib.as_array(ctx.get_logits(), shape=(len(chunk) * n_vocab,)).reshape(len(chunk), n_vocab))
        llm.input_ids[n_past:n_past + len(chunk)] = chunk
        llm.n_tokens += len(chunk)
    return _logprobs_of(llm, rows, question)


def _token_probs(llm: Any, decoded: list[tuple[int, int, int, float]], text: str) -> tuple[tuple[str, float], ...]:
    """Each generated token's text and the probability the model gave it, from the recorded decode calls:
    the prompt's last batch predicts the first token, and each one-token call that feeds back the previous
    argmax predicts the next. The end-of-turn token, and a token predicted after the reply was cut
    (max_tokens, Stop), are left out. The tokens must spell the reply from its start: a prompt whose last
    batch is one token that the batch before predicted (the `\n` after `assistant`) looks like a generation
    step, and is then passed over. () when nothing was recorded or nothing spells the reply."""
    if not decoded:
        return ()
    first = len(decoded) - 1
    while first > 0 and decoded[first][0] == 1 and decoded[first][1] == decoded[first - 1][2]:
        first -= 1
    ends = {llm.token_eos(), *_end_of_turn(llm)}
    is_eog = _eog_test(llm)
    # each predicted token's bytes (None: an end of turn) and probability, worked out once for every start tried
    steps = [(None if best in ends or is_eog(best) else llm.detokenize([best]), p) for _, _, best, p in decoded[first:]]
    want = text.encode("utf-8")
    for start in range(len(steps)):
        out, size = [], 0
        for piece, p in steps[start:]:
            if piece is None or want[size:size + len(piece)] != piece:
                break
            size += len(piece)
            out.append((piece.decode("utf-8", errors="replace"), round(p, 4)))
        if size == len(want):
            return tuple(out)
    return ()


def _end_of_turn(llm: Any) -> list[int]:
    """ChatML's end-of-turn token, when the model's vocabulary has it as one token (Qwen's does)."""
    ids = llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
    return ids if len(ids) == 1 else []


def _eog_test(llm: Any) -> Callable[[int], bool]:
    """Whether llama.cpp counts a token as an end of generation for this model (any chat template)."""
    try:
        import llama_cpp

        is_eog, vocab = llama_cpp.llama_vocab_is_eog, llm._model.vocab
    except (ImportError, AttributeError):  # another llama-cpp-python, or a fake: the ids of _token_probs decide
        return lambda token: False
    return lambda token: bool(is_eog(vocab, token))


def _read_replies(path: Path, model: str) -> dict[str, Generation]:
    """The replies of `model` kept in `path` (none when the file does not exist yet)."""
    out: dict[str, Generation] = {}
    if not path.is_file():
        return out
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row["model"] == model:
                out[row["key"]] = Generation(
                    text="".join(row["pieces"]), prompt_tokens=row["prompt_tokens"], tokens=len(row["pieces"]),
                    first_token_s=row["first_token_s"], seconds=row["seconds"], pieces=tuple(row["pieces"]),
                    token_probs=tuple((t, p) for t, p in row.get("token_probs", ())),
                    question_logprobs=tuple((t, q) for t, q in row.get("question_logprobs", ())))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path} line {number} is not a kept reply ({exc}); delete the file or set "
                             "RAG_LLM_REPLY_FILE to another") from None
    return out


def _append_reply(path: Path, model: str, key: str, generation: Generation) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"model": model, "key": key, "pieces": list(generation.pieces), "prompt_tokens": generation.prompt_tokens,
           "first_token_s": generation.first_token_s, "seconds": generation.seconds,
           "token_probs": [list(tp) for tp in generation.token_probs],
           "question_logprobs": [list(q) for q in generation.question_logprobs]}
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _replay(generation: Generation, control: Control) -> Generation:
    """A kept reply, streamed again piece by piece (so the UI shows it as it shows any answer)."""
    for i, piece in enumerate(generation.pieces):
        if control.stopped:
            return Generation("".join(generation.pieces[:i]), stopped=True, tokens=i, pieces=generation.pieces[:i],
                              replayed=True)
        control.token(piece)
    return replace(generation, replayed=True)


def template_text(messages: Sequence[dict[str, str]]) -> str:
    """Roughly what the chat template feeds the model (ChatML): for the prompt-token count, and the prompts
    `yes_probability` reads (the reading check; scripts/study_model.py's judge)."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
