"""The bundled language model, in-process: a GGUF file run by llama-cpp-python (no server to start).

`LlamaCppGenerator` is a `Generator` (rag/answering/generation.py). It loads the file on first use (about
2 s; 1.8 GB resident for the 1.5B model) and keeps it; one generation runs at a time (a lock: llama.cpp's
context is not thread-safe; rag/serving.py queues requests fairly in front of it). Everything that can go
wrong — llama-cpp-python not installed, the file missing or unreadable, a crash mid-answer, a reply still
running after `timeout_s` — is a GenerationFailed whose message names the cause and the fix, so the
answerer can fall back to the extractive answer at once.

llama.cpp reuses the key/value cache of the longest prompt prefix shared with the previous request, so a
fixed system prompt is paid for once per process, not per question.
"""

from __future__ import annotations

import atexit
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.answering.generation import Control, Generation, GenerationFailed
from rag.errors import InputError

REPLY_CACHE = 256  # replies kept by prompt (Config.llm_reply_cache)
N_CTX = 2048  # the answer prompt stays near 400-700 tokens; 2,048 leaves room for follow-ups and the reply


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
                                        n_threads_batch=threads, n_batch=512, use_mmap=False, verbose=False)
            # freed before the interpreter tears llama_cpp down (its own destructor then fails noisily)
            atexit.register(self.close)
        except Exception as exc:  # a damaged or foreign file: llama.cpp says only "failed to load"
            self._load_error = (f"the language model {self.path} could not be loaded ({exc}); run "
                                "`make llm-model` again to rebuild it")
            raise GenerationFailed(self._load_error) from None
        return self._llm

    def close(self) -> None:
        """Free the model (the next question loads it again)."""
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    def generate(self, messages: Sequence[dict[str, str]], max_tokens: int,
                 control: Control | None = None) -> Generation:
        control = control or Control()
        key = json.dumps([list(messages), max_tokens], ensure_ascii=False)
        with self._lock:
            if key in self._replies:
                self._replies.move_to_end(key)
                return _replay(self._replies[key], control)
            if key in self._saved:
                return _replay(self._saved[key], control)
            llm = self.load()
            start = time.monotonic()
            first = 0.0
            pieces: list[str] = []
            stopped = False
            try:
                stream = llm.create_chat_completion(messages=list(messages), stream=True, temperature=0.0,
                                                    top_k=1, max_tokens=max_tokens, seed=0)
                try:
                    for chunk in stream:
                        if control.stopped:
                            stopped = True
                            break
                        piece = chunk["choices"][0]["delta"].get("content") or ""
                        if not piece:
                            continue
                        if not pieces:
                            first = time.monotonic() - start
                        pieces.append(piece)
                        control.token(piece)
                        if time.monotonic() - start > self.timeout_s:
                            raise GenerationFailed(f"the model was still writing after {self.timeout_s:g} s "
                                                   "(RAG_LLM_TIMEOUT_S)")
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
            except GenerationFailed:
                raise
            except Exception as exc:  # llama.cpp errors mid-answer (context overflow, decode failure)
                raise GenerationFailed(f"the model failed while answering ({type(exc).__name__}: {exc})") from None
            prompt_tokens = len(llm.tokenize(_template_text(messages).encode("utf-8"), add_bos=False))
            generation = Generation(text="".join(pieces), stopped=stopped, prompt_tokens=prompt_tokens,
                                    tokens=len(pieces), first_token_s=first, seconds=time.monotonic() - start,
                                    pieces=tuple(pieces))
            if not stopped and self.reply_cache:
                self._replies[key] = generation
                while len(self._replies) > self.reply_cache:
                    self._replies.popitem(last=False)
            if not stopped and self.reply_file is not None:
                self._saved[key] = generation
                _append_reply(self.reply_file, self.name, key, generation)
        return generation


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
                    first_token_s=row["first_token_s"], seconds=row["seconds"], pieces=tuple(row["pieces"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path} line {number} is not a kept reply ({exc}); delete the file or set "
                             "RAG_LLM_REPLY_FILE to another") from None
    return out


def _append_reply(path: Path, model: str, key: str, generation: Generation) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"model": model, "key": key, "pieces": list(generation.pieces), "prompt_tokens": generation.prompt_tokens,
           "first_token_s": generation.first_token_s, "seconds": generation.seconds}
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _replay(generation: Generation, control: Control) -> Generation:
    """A kept reply, streamed again piece by piece (so the UI shows it as it shows any answer)."""
    for i, piece in enumerate(generation.pieces):
        if control.stopped:
            return Generation("".join(generation.pieces[:i]), stopped=True, tokens=i, pieces=generation.pieces[:i])
        control.token(piece)
    return generation


def _template_text(messages: Sequence[dict[str, str]]) -> str:
    """Roughly what the chat template feeds the model (ChatML), for the prompt-token count only."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
