"""The one-method interface every text generator sits behind, and what a caller can do to one request.

A `Generator` turns chat messages into text, streaming pieces to `Control.on_token`. Implementations:
the bundled GGUF in-process (rag/answering/bundled.py), any OpenAI-compatible endpoint
(rag/answering/llm.py), the serving queue that wraps either one (rag/serving.py), and the scripted fakes
of the tests. Whatever goes wrong (no model, load failure, timeout, endpoint down, the queue too long) is
a `GenerationFailed` whose message says why in words: the answerer then gives the extractive answer
with that reason as its notice. A user's Stop is not a failure: the text so far comes back with
`stopped=True` and is checked like any other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Control:
    """What the caller of one request can see and do while it runs (mutable: the stop flag is shared
    between the UI thread that sets it and the worker that reads it)."""

    on_token: Callable[[str], None] | None = None  # each generated piece, as it arrives
    on_queue: Callable[[int], None] | None = None  # requests ahead of this one; called again at 0 when it starts
    stop: threading.Event = field(default_factory=threading.Event)  # set by Stop / a closed tab
    # time.monotonic() when the person asked (None: when the request reaches the model queue). The queue's
    # RAG_LLM_QUEUE_S counts from here, so the time spent searching before the queue is inside the limit.
    asked: float | None = None
    # time.monotonic() by which the generator must have ended, and why, in words for the notice. The serving
    # queue sets it while others wait for the model, so that a crowd's replies stay within RAG_LLM_QUEUE_S
    # plus one answer: past it the generator stops (within one prompt batch, mid-prefill too) and raises
    # GenerationFailed(deadline_why), and the answerer gives the extractive answer. None: no deadline.
    deadline: float | None = None
    deadline_why: str = ""
    # whether the generator should also give the question tokens' log-probabilities after the excerpts
    # (Generation.question_logprobs; README steps 38 and 42). The model answerer asks only where a cut of its reads
    # them (a Chinese factoid). The bundled model reads them with the prompt (their rows of logits: about 0.05 s);
    # where it cannot, it reads the question again after the answer (about 0.35-0.45 s on this 2-core CPU).
    read_question: bool = False

    def token(self, piece: str) -> None:
        if self.on_token is not None:
            self.on_token(piece)

    def queued(self, ahead: int) -> None:
        if self.on_queue is not None:
            self.on_queue(ahead)

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    def overdue(self, now: float | None = None) -> bool:
        """Whether the deadline has passed (`now` on the time.monotonic clock; the present by default)."""
        return self.deadline is not None and (time.monotonic() if now is None else now) >= self.deadline


@dataclass(frozen=True)
class Generation:
    """What a generator wrote for one request."""

    text: str
    stopped: bool = False  # the caller stopped it: `text` is the part written before that
    prompt_tokens: int = 0  # 0 when the generator cannot tell
    tokens: int = 0  # generated tokens (0 when the generator cannot tell)
    first_token_s: float = 0.0  # seconds from the start of generation to the first piece
    seconds: float = 0.0  # seconds from the start of generation to its end (queue wait excluded)
    queued_s: float = 0.0  # seconds spent waiting in the serving queue
    pieces: tuple[str, ...] = ()  # the streamed pieces, in order ("".join(pieces) == text), where kept
    replayed: bool = False  # a kept reply streamed again: took no model time, so it times nothing
    # each generated token's text (an incomplete UTF-8 character as U+FFFD) and the probability the model gave
    # it; () when the generator cannot tell (an endpoint, a scripted fake, a reply kept before this was kept)
    token_probs: tuple[tuple[str, float], ...] = ()
    # each token of the question in the prompt (the last user turn's line after prompt.QUESTION_LEAD) and the natural
    # log-probability the model gave it after everything before it in the prompt, the excerpts included (README step
    # 38: a noun swapped in from elsewhere is unexpected there); () when the generator cannot tell
    question_logprobs: tuple[tuple[str, float], ...] = ()


class GenerationFailed(Exception):
    """No usable text: the message says why, in words fit for a notice ("the model is not installed …")."""


class Generator(Protocol):
    name: str  # what Answer.answerer and the UI show, e.g. "qwen2.5-1.5b" or the endpoint's model

    def generate(self, messages: Sequence[dict[str, str]], max_tokens: int,
                 control: Control | None = None) -> Generation:
        """Greedy completion of chat `messages` (role/content dicts), at most `max_tokens` tokens.
        Streams pieces to `control.on_token`; returns early, with `stopped=True`, once `control.stop` is
        set. Raises GenerationFailed when no text can be produced, or with `control.deadline_why` once
        `control.deadline` has passed."""
        ...
