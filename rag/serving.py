"""One model, many people: `ModelQueue` runs the requests of a serving process through one generator, one
at a time, in arrival order.

A model instance uses both cores for one answer (4–8 s on this 2-core machine), so answers cannot usefully
run side by side: the queue makes everyone else wait their turn, tells each waiting request how many are
ahead of it (`Control.queued`, shown as "queued: 3 ahead"), and gives up on a request that has waited
longer than `queue_s` (RAG_LLM_QUEUE_S) by raising `GenerationFailed`, so the answerer gives the instant
extractive answer with the reason as its notice. The wait counts from `Control.asked` (when the person
asked) when the caller sets it, so the search before the queue is inside the limit. Nobody waits in vain:
a request whose expected wait (what is left of the running answer, plus one average answer for each
request ahead) would take it past `queue_s` gets the fallback at once instead of after `queue_s`; before
any answer has been timed, one answer is taken to last `prior_s`. When answers run slower than `prior_s`
(two cores shared with many people's searches), the limit shrinks by the difference, so that a reply is
whole within `queue_s` plus one unhurried answer; it never shrinks below half of `queue_s`, so one very slow
answer cannot shut the model out for good. What the prediction misses (one answer let in late that then
runs slow, its prompt read on two cores shared with many searches) the deadline catches: while others wait,
the running request has `Control.deadline` set to `queue_s` plus one answer's time after its question (one
answer: the fastest this process has timed, or `prior_s` if that is longer), and the generator gives up
there, so the reply (the extractive one) is whole within that bound. A person alone from start to end is
never cut: nothing is set while nobody waits. Once someone has waited, the deadline stays. An endpoint (no
`prior_s`) gets no deadline: RAG_LLM_TIMEOUT_S bounds its answers. A request whose `Control.stop` is set
while it waits leaves the queue at once; once it runs, the generator itself checks the same flag between
its model calls.

The queue creates no threads: each request waits in its caller's thread, on one condition variable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from rag.answering.generation import Control, Generation, GenerationFailed, Generator
from rag.errors import InputError

# How often a waiting request looks at its stop flag (threading.Event cannot wake a Condition wait): a
# stopped request leaves the queue within this time.
STOP_POLL_S = 0.05
# Weight of the latest answer in the running average of answer times the wait is predicted from: recent
# enough to follow a change of load, smooth enough that one long answer does not empty the queue.
SERVICE_WEIGHT = 0.3
# One answer's seconds until the first is timed, so the first wave of a crowd is not all let in to wait the
# full RAG_LLM_QUEUE_S: the bundled model's whole answer on the article test (round 3) took p50 3.3 s / p95
# 5.2 s; the p95 is rounded down so a lone second person is not turned away by a guess. Served alone, an
# answer takes a little longer (the page's search and streaming around it), so on a quiet server the limit
# below already shrinks by about a second. Only the bundled model gets it: an endpoint's speed is unknown.
PRIOR_SERVICE_S = 5.0
# However slow answers become, a request may wait at least this share of RAG_LLM_QUEUE_S: otherwise one very
# slow answer (a remote model, a machine under load) would turn every later request away, nothing would run
# again, and the average that shrank the limit would never recover.
MIN_LIMIT_SHARE = 0.5


class _Ticket:
    """One waiting request; identity is what matters (two requests may carry equal messages)."""

    __slots__ = ("arrived", "control", "queued")

    def __init__(self, arrived: float, queued: float, control: Control) -> None:
        self.arrived = arrived  # when the person asked: what RAG_LLM_QUEUE_S counts from
        self.queued = queued  # when it reached the queue: what the reported queue time counts from
        self.control = control  # the request's own: where its deadline is set once others wait behind it


class ModelQueue:
    """A `Generator` that serializes the requests to the generator it wraps, first come first served."""

    def __init__(self, generator: Generator, queue_s: float,
                 clock: Callable[[], float] = time.monotonic, prior_s: float | None = PRIOR_SERVICE_S) -> None:
        if not queue_s > 0:
            raise InputError(f"queue_s={queue_s} must be above 0 seconds (RAG_LLM_QUEUE_S).")
        if prior_s is not None and not prior_s > 0:
            raise InputError(f"prior_s={prior_s} must be above 0 seconds, or None for no guess before the first answer.")
        self.generator = generator
        self.name = generator.name
        self.queue_s = queue_s
        self.prior_s = prior_s  # one answer's seconds before any is timed (None: predict nothing until then)
        # injectable so tests can move time without sleeping; Control.asked is read on the same clock
        # (time.monotonic), so a caller that sets it must use this clock's time base
        self._clock = clock
        self._changed = threading.Condition()
        self._waiting: list[_Ticket] = []  # arrival order
        self._running: _Ticket | None = None
        self._running_since = 0.0
        self._service_s: float | None = None  # running average of one answer's seconds (None: none timed yet)
        self._fastest_s: float | None = None  # the fastest whole answer timed: one unhurried answer

    @property
    def service_s(self) -> float | None:
        """The running average of one answer's seconds, or None before the first answer."""
        with self._changed:
            return self._service_s

    @property
    def waiting(self) -> int:
        """Requests waiting now (the one running not counted)."""
        with self._changed:
            return len(self._waiting)

    @property
    def busy(self) -> bool:
        with self._changed:
            return self._running is not None

    def _ahead(self, ticket: _Ticket) -> int:
        """Requests that will run before `ticket`: those queued before it, plus the one running."""
        return self._waiting.index(ticket) + (self._running is not None)

    def _expected_wait(self, ticket: _Ticket, now: float) -> float:
        """Seconds until `ticket` should start: the rest of the running answer plus one average answer per
        request queued before it (`prior_s` per answer before any was timed; 0 without one)."""
        service = self._service_s if self._service_s is not None else self.prior_s
        if service is None:
            return 0.0
        running = max(service - (now - self._running_since), 0.0) if self._running is not None else 0.0
        return running + self._waiting.index(ticket) * service

    def _limit(self) -> tuple[float, str]:
        """How long a request may wait to start, and the reason in words. `queue_s`, less what answers take
        now beyond an unhurried one (`prior_s`), but never under MIN_LIMIT_SHARE of `queue_s`: a reply should
        be whole within `queue_s` plus one unhurried answer, and when answers slow down (the two cores shared
        with many searches) the one that starts last must start earlier."""
        setting = f"RAG_LLM_QUEUE_S={self.queue_s:g}"
        if self._service_s is None or self.prior_s is None or self._service_s <= self.prior_s:
            return self.queue_s, setting
        limit = max(self.queue_s - (self._service_s - self.prior_s), MIN_LIMIT_SHARE * self.queue_s)
        return (limit, f"{setting} cut to {limit:.1f} s, as answers take {self._service_s:.1f} s now against "
                       f"{self.prior_s:g}")

    def answer_s(self) -> float | None:
        """One answer's seconds for the deadline: the fastest whole answer timed (the others ran slower for
        the load), or `prior_s` when that is longer or nothing was timed; None without a prior (an endpoint:
        no deadline, RAG_LLM_TIMEOUT_S alone bounds its answers)."""
        with self._changed:
            return self._answer_s()

    def _answer_s(self) -> float | None:
        if self.prior_s is None:  # an endpoint: its speed is not ours to guess, and one quick reply is no floor
            return None
        return max(self.prior_s, self._fastest_s or 0.0)

    def _set_deadline(self, ticket: _Ticket) -> None:
        """Give the running request its deadline, now that others wait: `queue_s` plus one answer after
        its question (under the lock). Once set it stays, also when those waiting leave or are turned away:
        the load that slows the answer is still there (the others keep asking), and the bound is for every
        reply, this one's too."""
        answer_s, control = self._answer_s(), ticket.control
        if control.deadline is not None or answer_s is None:
            return
        # the reason first: the generator's thread reads both without the lock, and acts once `deadline` is set
        control.deadline_why = (f"the model had not finished {self.queue_s + answer_s:.0f} s after the question "
                                f"while others waited: RAG_LLM_QUEUE_S={self.queue_s:g} + {answer_s:.1f} s for "
                                "one answer")
        control.deadline = ticket.arrived + self.queue_s + answer_s

    def yes_probability(self, messages: Sequence[dict[str, str]], yes: str, no: str,
                        control: Control | None = None) -> float:
        """The wrapped generator's reading check (model.ModelAnswerer.read), read as `read_apart` reads."""
        ask = getattr(self.generator, "yes_probability", None)
        if ask is None:
            raise GenerationFailed(f"{self.name} gives no token probabilities to read a yes/no answer from")
        return self.read_apart(lambda: ask(messages, yes, no, control), control, "the reading check")

    def question_logprobs_in(self, messages: Sequence[dict[str, str]],
                             control: Control | None = None) -> tuple[tuple[str, float], ...]:
        """The wrapped generator's reading of a prompt's question tokens (model.ModelAnswerer.question_prior, README
        step 46), read as `read_apart` reads."""
        read = getattr(self.generator, "question_logprobs_in", None)
        if not callable(read):
            raise GenerationFailed(f"{self.name} gives no token log-probabilities to read a question with")
        return self.read_apart(lambda: read(messages, control), control, "the question's reading")

    def first_token_probabilities(self, messages: Sequence[dict[str, str]], words: Sequence[str],
                                  control: Control | None = None) -> list[float]:
        """The wrapped generator's first-token probabilities (the pick of an English question's sentence,
        model.ModelAnswerer.pick), read as `read_apart` reads."""
        ask = getattr(self.generator, "first_token_probabilities", None)
        if ask is None:
            raise GenerationFailed(f"{self.name} gives no token probabilities to read a choice from")
        return self.read_apart(lambda: ask(messages, words, control), control, "the pick")

    def generate_apart(self, messages: Sequence[dict[str, str]], max_tokens: int,
                       control: Control | None = None, what: str = "the translation") -> Generation:
        """A short generation that is not an answer (`what`: the search's translation of an English question,
        model.ModelAnswerer.search_query; the English line of step 65, ModelAnswerer.in_english), run as `read_apart`
        runs a reading: skipped while others want the model, never counted in the answer timings the queue predicts
        with, and no queue place reported."""
        return self.read_apart(lambda: self.generator.generate(messages, max_tokens, control), control, what)

    def read_apart(self, read: Callable[[], object], control: Control | None, what: str):  # noqa: ANN201
        """One short prompt read (`what`: the reading check, the pick, the translation), not queued, so only while
        nobody else wants the model: when an answer runs or waits, GenerationFailed (the answerer then decides without it),
        so a crowd never waits behind a reading it did not see coming. While it runs it holds the model like an
        answer (one arriving meanwhile waits its turn), and its time is left out of the answer timings the
        queue predicts with."""
        with self._changed:
            if self._running is not None or self._waiting:
                raise GenerationFailed(f"the model is busy with other questions: {what} was skipped")
            now = self._clock()
            self._running, self._running_since = _Ticket(now, now, control or Control()), now
        try:
            return read()
        finally:
            with self._changed:
                self._running = None
                self._changed.notify_all()

    def generate(self, messages: Sequence[dict[str, str]], max_tokens: int,
                 control: Control | None = None) -> Generation:
        control = control or Control()
        now = self._clock()
        ticket = _Ticket(min(control.asked, now) if control.asked is not None else now, now, control)
        with self._changed:
            self._waiting.append(ticket)
            if self._running is not None:
                self._set_deadline(self._running)
        told: int | None = None
        try:
            while True:
                with self._changed:
                    waited = self._clock() - ticket.arrived
                    if control.stopped:
                        return Generation(text="", stopped=True, queued_s=self._clock() - ticket.queued)
                    ahead = self._ahead(ticket)
                    limit, why = self._limit()
                    if waited >= limit:  # checked before starting too: the limit shrinks when an answer ends slow
                        raise GenerationFailed(
                            f"the model is busy: this question waited {waited:.0f} s for the model "
                            f"({why}) with {ahead} ahead of it")
                    if self._waiting[0] is ticket and self._running is None:
                        self._waiting.remove(ticket)
                        self._running = ticket
                        self._running_since = self._clock()
                        if self._waiting:
                            self._set_deadline(ticket)
                        break
                    expected = self._expected_wait(ticket, self._clock())
                    if waited + expected > limit:
                        raise GenerationFailed(
                            f"the model is busy: {ahead} ahead of this question would keep it waiting about "
                            f"{waited + expected:.0f} s, more than {why}")
                    if ahead != told:
                        told = ahead
                    else:
                        self._changed.wait(STOP_POLL_S)
                        continue
                control.queued(ahead)  # outside the lock: the callback may be slow (it feeds a page)
        finally:
            with self._changed:
                if ticket in self._waiting:  # stopped, timed out, or on_queue raised
                    self._waiting.remove(ticket)
                    self._changed.notify_all()
        queued_s = self._clock() - ticket.queued
        generation: Generation | None = None
        try:
            control.queued(0)
            generation = self.generator.generate(messages, max_tokens, control)
        finally:
            with self._changed:
                now = self._clock()
                took = now - self._running_since
                whole = generation is not None and not generation.stopped and not generation.replayed
                if whole or (generation is None and control.overdue(now)):  # a cut answer was slow at least this
                    self._service_s = took if self._service_s is None else (
                        SERVICE_WEIGHT * took + (1 - SERVICE_WEIGHT) * self._service_s)
                if whole:
                    self._fastest_s = took if self._fastest_s is None else min(self._fastest_s, took)
                self._running = None
                self._changed.notify_all()
        return replace(generation, queued_s=queued_s)


class Requests:
    """The requests each browser tab (a session key) has running, so that Stop, New chat or a closed tab
    can set their stop flags. Thread-safe; a key leaves when its last request does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, list[Control]] = {}

    def add(self, key: str, control: Control) -> None:
        with self._lock:
            self._running.setdefault(key, []).append(control)

    def remove(self, key: str, control: Control) -> None:
        with self._lock:
            controls = [c for c in self._running.get(key, ()) if c is not control]  # identity, not equality
            if controls:
                self._running[key] = controls
            else:
                self._running.pop(key, None)

    def stop(self, key: str) -> int:
        """Set the stop flag of every request of `key`; how many there were."""
        with self._lock:
            controls = list(self._running.get(key, ()))
        for control in controls:
            control.stop.set()
        return len(controls)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._running.values())
