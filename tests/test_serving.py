"""rag/serving.py: one model, a fair queue. Deterministic fakes driven by threading.Event, a fake clock for
the queue limit; no sleep decides an outcome (waits are bounded only so a bug fails instead of hanging)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from rag.answering.generation import Control, Generation, GenerationFailed
from rag.config import Config
from rag.errors import InputError
from rag.serving import ModelQueue

WAIT_S = 5.0  # a bound on every wait in these tests; reaching it is a failure, never an outcome


class GatedGenerator:
    """Writes one piece, then waits for `release` (or the request's stop) before each further piece.

    `started` gets each request's tag as it starts; `running` counts requests inside generate at once.
    """

    name = "gated"

    def __init__(self, pieces: int = 3) -> None:
        self.pieces = pieces
        self.started: list[str] = []
        self.entered: dict[str, threading.Event] = {}
        self.release: dict[str, threading.Event] = {}
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def gate(self, tag: str) -> None:
        self.entered.setdefault(tag, threading.Event())
        self.release.setdefault(tag, threading.Event())

    def generate(self, messages: Sequence[dict[str, str]], max_tokens: int,
                 control: Control | None = None) -> Generation:
        control = control or Control()
        tag = messages[-1]["content"]
        self.gate(tag)
        with self._lock:
            self.started.append(tag)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            self.entered[tag].set()
            text = ""
            for i in range(self.pieces):
                if i:  # the first piece comes at once; the rest wait for the test (or for Stop)
                    while not self.release[tag].wait(0.01):
                        if control.stopped:
                            return Generation(text=text, stopped=True, tokens=i)
                if control.stopped:
                    return Generation(text=text, stopped=True, tokens=i)
                piece = f"{tag}{i} "
                text += piece
                control.token(piece)
            return Generation(text=text, tokens=self.pieces)
        finally:
            with self._lock:
                self.running -= 1


class FailingGenerator:
    name = "broken"

    def generate(self, messages, max_tokens, control=None) -> Generation:
        raise GenerationFailed("the model is not installed")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def messages(tag: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": tag}]


class Request:
    """One request in its own thread, recording what its Control saw."""

    def __init__(self, queue: ModelQueue, tag: str, control: Control | None = None) -> None:
        self.tag = tag
        self.positions: list[int] = []
        self.tokens: list[str] = []
        self.position_changed = threading.Condition()
        self.control = control or Control()
        self.control.on_queue = self._queued
        self.control.on_token = self.tokens.append
        self.result: Generation | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(queue,), name=f"request-{tag}")
        self.thread.start()

    def _queued(self, ahead: int) -> None:
        with self.position_changed:
            self.positions.append(ahead)
            self.position_changed.notify_all()

    def _run(self, queue: ModelQueue) -> None:
        try:
            self.result = queue.generate(messages(self.tag), 16, self.control)
        except BaseException as exc:  # recorded for the test's thread
            self.error = exc

    def wait_position(self, ahead: int) -> None:
        with self.position_changed:
            assert self.position_changed.wait_for(lambda: self.positions and self.positions[-1] == ahead, WAIT_S), \
                f"{self.tag} never saw position {ahead}; saw {self.positions}"

    def join(self) -> Generation:
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), f"{self.tag} is still running"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def wait_waiting(queue: ModelQueue, n: int) -> None:
    deadline = threading.Event()
    for _ in range(int(WAIT_S / 0.01)):
        if queue.waiting == n:
            return
        deadline.wait(0.01)
    raise AssertionError(f"{queue.waiting} waiting, expected {n}")


def test_a_lone_request_runs_at_once_and_hears_position_zero() -> None:
    model = GatedGenerator(pieces=1)
    queue = ModelQueue(model, queue_s=15)
    request = Request(queue, "a")
    result = request.join()
    assert (result.text, result.stopped, result.tokens) == ("a0 ", False, 1)
    assert request.positions == [0] and request.tokens == ["a0 "]
    assert queue.name == "gated" and (queue.waiting, queue.busy) == (0, False)


def test_requests_run_one_at_a_time_in_arrival_order_and_hear_their_positions() -> None:
    model = GatedGenerator(pieces=2)
    queue = ModelQueue(model, queue_s=15)
    a = Request(queue, "a")
    model.gate("a")
    assert model.entered["a"].wait(WAIT_S)
    b = Request(queue, "b")
    b.wait_position(1)
    c = Request(queue, "c")
    c.wait_position(2)
    d = Request(queue, "d")
    d.wait_position(3)
    behind = {"a": [(c, 1), (d, 2)], "b": [(d, 1)], "c": []}
    for tag, waiting in (("a", 2), ("b", 1), ("c", 0)):
        model.gate(tag)
        model.release[tag].set()
        nxt = chr(ord(tag) + 1)
        model.gate(nxt)
        assert model.entered[nxt].wait(WAIT_S)
        assert queue.waiting == waiting
        for request, ahead in behind[tag]:  # each hears it moved up before the next one finishes
            request.wait_position(ahead)
    model.release["d"].set()
    results = [r.join() for r in (a, b, c, d)]
    assert model.started == ["a", "b", "c", "d"] and model.most_running == 1
    assert [r.text for r in results] == ["a0 a1 ", "b0 b1 ", "c0 c1 ", "d0 d1 "]
    # each heard every position it passed through, counting down to 0 when it started
    assert (a.positions, b.positions, c.positions, d.positions) == ([0], [1, 0], [2, 1, 0], [3, 2, 1, 0])


def test_a_request_stopped_while_queued_leaves_at_once_and_the_others_move_up() -> None:
    model = GatedGenerator(pieces=2)
    queue = ModelQueue(model, queue_s=15)
    a = Request(queue, "a")
    model.gate("a")
    assert model.entered["a"].wait(WAIT_S)
    b = Request(queue, "b")
    b.wait_position(1)
    c = Request(queue, "c")
    c.wait_position(2)
    b.control.stop.set()
    stopped = b.join()  # while a still holds the model
    assert (stopped.text, stopped.stopped) == ("", True) and model.started == ["a"]
    c.wait_position(1)
    model.release["a"].set()
    model.gate("c")
    model.release["c"].set()
    assert a.join().text == "a0 a1 " and c.join().text == "c0 c1 "
    assert model.started == ["a", "c"] and b.positions == [1] and c.positions == [2, 1, 0]


def test_stop_while_running_returns_the_partial_text_and_frees_the_model() -> None:
    model = GatedGenerator(pieces=3)
    queue = ModelQueue(model, queue_s=15)
    a = Request(queue, "a")
    model.gate("a")
    assert model.entered["a"].wait(WAIT_S)
    b = Request(queue, "b")
    b.wait_position(1)
    a.control.stop.set()
    partial = a.join()
    assert (partial.text, partial.stopped, partial.tokens) == ("a0 ", True, 1)
    model.gate("b")
    assert model.entered["b"].wait(WAIT_S)  # the next request got the model
    model.release["b"].set()
    assert b.join().text == "b0 b1 b2 "


def test_a_request_stopped_before_its_turn_never_reaches_the_model() -> None:
    model = GatedGenerator(pieces=1)
    control = Control()
    control.stop.set()
    result = ModelQueue(model, queue_s=15).generate(messages("a"), 16, control)
    assert (result.text, result.stopped) == ("", True) and model.started == []


def test_a_request_that_waits_longer_than_queue_s_fails_with_the_reason() -> None:
    clock = FakeClock()
    model = GatedGenerator(pieces=2)
    queue = ModelQueue(model, queue_s=15, clock=clock)
    a = Request(queue, "a")
    model.gate("a")
    assert model.entered["a"].wait(WAIT_S)
    b = Request(queue, "b")
    b.wait_position(1)
    clock.now += 14.9
    c = Request(queue, "c")  # arrives later: its own 15 s start now
    c.wait_position(2)
    clock.now += 0.2  # b has waited 15.1 s, c 0.2 s
    with pytest.raises(GenerationFailed, match=r"waited 15 s for the model \(RAG_LLM_QUEUE_S=15\) with 1 ahead"):
        b.join()
    c.wait_position(1)
    assert queue.waiting == 1 and model.started == ["a"]
    model.release["a"].set()
    model.gate("c")
    model.release["c"].set()
    result = c.join()
    assert result.text == "c0 c1 " and result.queued_s == pytest.approx(0.2)
    assert a.join().queued_s == 0.0


def test_a_failing_generator_frees_the_queue_for_the_next_request() -> None:
    queue = ModelQueue(FailingGenerator(), queue_s=15)
    for _ in range(2):
        with pytest.raises(GenerationFailed, match="not installed"):
            queue.generate(messages("a"), 16)
    assert (queue.waiting, queue.busy) == (0, False)


def test_a_raising_position_callback_leaves_no_ticket_behind() -> None:
    model = GatedGenerator(pieces=2)
    queue = ModelQueue(model, queue_s=15)
    a = Request(queue, "a")
    model.gate("a")
    assert model.entered["a"].wait(WAIT_S)

    def broken(ahead: int) -> None:
        raise RuntimeError("page gone")

    with pytest.raises(RuntimeError, match="page gone"):
        queue.generate(messages("b"), 16, Control(on_queue=broken))
    assert queue.waiting == 0
    model.release["a"].set()
    assert a.join().text == "a0 a1 "


def test_many_requests_all_run_exactly_once_and_leave_no_threads() -> None:
    before = set(threading.enumerate())
    model = GatedGenerator(pieces=1)
    queue = ModelQueue(model, queue_s=15)
    requests = [Request(queue, f"q{i}") for i in range(20)]
    results = [r.join() for r in requests]
    assert sorted(model.started) == sorted(f"q{i}" for i in range(20)) and model.most_running == 1
    assert all(r.text == f"{r_.tag}0 " for r, r_ in zip(results, requests, strict=True))
    assert all(r.positions[-1] == 0 and r.positions == sorted(r.positions, reverse=True) for r in requests)
    assert set(threading.enumerate()) - before == set()
    assert (queue.waiting, queue.busy) == (0, False)


@pytest.mark.parametrize("bad", [0, -1.0])
def test_queue_s_must_be_positive(bad: float) -> None:
    with pytest.raises(InputError, match=f"queue_s={bad} must be above 0 seconds"):
        ModelQueue(GatedGenerator(), queue_s=bad)
    with pytest.raises(InputError, match=f"llm_queue_s={bad} must be above 0 seconds; set RAG_LLM_QUEUE_S"):
        Config(llm_queue_s=bad)


def test_llm_queue_s_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Config().llm_queue_s == 15.0
    monkeypatch.setenv("RAG_LLM_QUEUE_S", "7.5")
    assert Config.from_env().llm_queue_s == 7.5
    monkeypatch.setenv("RAG_LLM_QUEUE_S", "soon")
    with pytest.raises(InputError, match="RAG_LLM_QUEUE_S='soon' is not a float number"):
        Config.from_env()


# The llm answerer through its queue, against the scripted endpoint (tests/llm_server.py).

REVENUE_Q = "美图2023年的总收入是多少？"


def llm_engine(engine, base_url: str, queue_s: float = 15.0):
    engine.config = engine.config.with_(llm_base_url=base_url, llm_model="m", llm_timeout_s=10.0,
                                        llm_queue_s=queue_s)
    engine._answerers.clear()
    return engine


def test_stop_keeps_the_part_written_so_far_and_checks_it(fake_engine) -> None:
    from tests.llm_server import Reply, ScriptedLLM

    control = Control()
    tokens: list[str] = []

    def on_token(piece: str) -> None:
        tokens.append(piece)
        control.stop.set()  # Stop pressed while the first sentence shows

    control.on_token = on_token
    pieces = ("美图2023年的总收入是27亿元，同比增长29.3%[1]。", "美图的员工人数为4800人。", "还有更多。")
    with ScriptedLLM(Reply(pieces=pieces, gap_s=0.05)) as llm:
        answer = llm_engine(fake_engine, llm.base_url).ask(REVENUE_Q, answerer="llm", control=control)
    assert tokens == [pieces[0]]
    assert (answer.text, answer.answerer, answer.refused) == (pieces[0], "llm", False)
    assert [c.n for c in answer.citations] == [1]
    assert answer.notice == "Stopped: this is the part the LLM wrote before Stop, checked like any answer."
    assert {"queue", "first_token", "generate", "total"} <= set(answer.timings_ms)


def test_a_second_question_sees_its_place_and_falls_back_after_the_queue_limit(fake_engine) -> None:
    from tests.llm_server import Reply, ScriptedLLM

    with ScriptedLLM(Reply(hang_s=WAIT_S)) as llm:  # the first question holds the endpoint
        engine = llm_engine(fake_engine, llm.base_url, queue_s=0.2)
        queue = engine.answerer("llm").generator
        assert queue.prior_s is None  # an endpoint's speed is not guessed
        first = threading.Thread(target=engine.ask, args=(REVENUE_Q,), kwargs={"answerer": "llm"})
        first.start()
        for _ in range(int(WAIT_S / 0.01)):
            if queue.busy:
                break
            threading.Event().wait(0.01)
        positions: list[int] = []
        answer = engine.ask(REVENUE_Q, answerer="llm", control=Control(on_queue=positions.append))
    first.join(WAIT_S)
    assert not first.is_alive()
    assert positions == [1] and answer.answerer == "extractive"  # the fake embedder makes it a refusal
    assert answer.notice.startswith("The LLM gave no answer (the model is busy: this question waited 0 s for the "
                                    "model (RAG_LLM_QUEUE_S=0.2) with 1 ahead of it)")


def test_stop_frees_the_endpoint_within_a_second(fake_engine) -> None:
    """The issue's bound: once Stop is set, the next request has the model within 1 s (here the scripted
    endpoint sends a piece every 50 ms, as a slow model's tokens come)."""
    from tests.llm_server import Reply, ScriptedLLM

    started = threading.Event()
    control = Control(on_token=lambda piece: started.set())
    with ScriptedLLM(Reply(pieces=("美图",) * 2000, gap_s=0.05)) as llm:  # 100 s if never stopped
        engine = llm_engine(fake_engine, llm.base_url)
        queue = engine.answerer("llm").generator
        assert queue.prior_s is None  # an endpoint's speed is not guessed
        first = threading.Thread(target=engine.ask, args=(REVENUE_Q,), kwargs={"answerer": "llm", "control": control})
        first.start()
        assert started.wait(WAIT_S)
        stopped_at = time.monotonic()
        control.stop.set()
        while queue.busy and time.monotonic() - stopped_at < WAIT_S:
            time.sleep(0.01)
        freed_after = time.monotonic() - stopped_at
        first.join(WAIT_S)
    assert not queue.busy and freed_after < 1.0


def test_once_an_answer_is_timed_a_request_that_would_wait_past_queue_s_falls_back_at_once() -> None:
    clock = FakeClock()
    model = GatedGenerator(pieces=2)
    queue = ModelQueue(model, queue_s=15, clock=clock, prior_s=6.0)
    assert queue.service_s is None
    first = Request(queue, "first")
    model.gate("first")
    assert model.entered["first"].wait(WAIT_S)
    clock.now += 6.0  # the first answer takes 6 s
    model.release["first"].set()
    first.join()
    assert queue.service_s == pytest.approx(6.0)
    a = Request(queue, "a")  # runs at once
    model.gate("a")
    assert model.entered["a"].wait(WAIT_S)
    b = Request(queue, "b")  # expects 6 s (what is left of a)
    b.wait_position(1)
    c = Request(queue, "c")  # 6 + 6 = 12 s: still within 15
    c.wait_position(2)
    d = Request(queue, "d")  # 6 + 6 + 6 = 18 s: past 15, so it falls back now, not after waiting 15 s
    with pytest.raises(GenerationFailed, match=r"3 ahead of this question would keep it waiting about 18 s, "
                                               r"more than RAG_LLM_QUEUE_S=15$"):
        d.join()
    clock.now += 4.0  # a has run 4 s of its expected 6: b expects 2 s, c 8 s
    assert queue.waiting == 2
    for tag in ("a", "b", "c"):
        model.gate(tag)
        model.release[tag].set()
    assert [r.join().text for r in (a, b, c)] == ["a0 a1 ", "b0 b1 ", "c0 c1 "]


def queue_running(prior_s: float | None, tag: str = "a") -> tuple[FakeClock, GatedGenerator, ModelQueue, Request]:
    """A queue on a fake clock (queue_s 15) whose model is busy with request `tag`."""
    clock = FakeClock()
    model = GatedGenerator(pieces=2)
    queue = ModelQueue(model, queue_s=15, clock=clock, prior_s=prior_s)
    running = Request(queue, tag)
    model.gate(tag)
    assert model.entered[tag].wait(WAIT_S)
    return clock, model, queue, running


def test_before_any_answer_is_timed_the_prior_predicts_the_wait() -> None:
    clock, model, queue, a = queue_running(5.0)
    waiting = []
    for i, tag in enumerate(("b", "c", "d")):  # expect 5, 10 and 15 s: within 15
        waiting.append(Request(queue, tag))
        waiting[-1].wait_position(i + 1)
    e = Request(queue, "e")  # 5 + 5 + 5 + 5 = 20 s
    with pytest.raises(GenerationFailed, match=r"4 ahead of this question would keep it waiting about 20 s"):
        e.join()
    assert queue.service_s is None  # the prior is a guess, not a timing
    for tag in ("a", "b", "c", "d"):
        model.gate(tag)
        model.release[tag].set()
    assert [r.join().text for r in [a, *waiting]] == ["a0 a1 ", "b0 b1 ", "c0 c1 ", "d0 d1 "]


def test_the_wait_counts_from_when_the_person_asked() -> None:
    clock, model, queue, a = queue_running(None)
    b = Request(queue, "b", Control(asked=clock.now - 14.0))  # searched for 14 s before reaching the queue
    c = Request(queue, "c", Control(asked=clock.now - 3.0))  # searched for 3 s
    c.wait_position(2)
    clock.now += 1.1
    with pytest.raises(GenerationFailed, match=r"waited 15 s for the model \(RAG_LLM_QUEUE_S=15\) with 1 ahead"):
        b.join()
    c.wait_position(1)
    clock.now += 2.0
    model.release["a"].set()
    model.gate("c")
    model.release["c"].set()
    assert a.join().queued_s == pytest.approx(0.0)
    assert c.join().queued_s == pytest.approx(3.1)  # the time in the queue, not the 6.1 s since it was asked


def test_when_answers_run_slower_than_usual_the_last_must_start_earlier() -> None:
    clock, model, queue, first = queue_running(5.0, "first")
    clock.now += 9.0  # under load an answer takes 9 s, 4 s more than an unhurried one
    model.release["first"].set()
    first.join()
    a = Request(queue, "a")
    model.gate("a")
    assert model.entered["a"].wait(WAIT_S)
    b = Request(queue, "b")  # expects 9 s: within 15 - 4 = 11
    b.wait_position(1)
    c = Request(queue, "c")  # 18 s: it would start after 15 s and end 27 s after asking, not 15 + 5
    with pytest.raises(GenerationFailed, match=r"waiting about 18 s, more than RAG_LLM_QUEUE_S=15 cut to 11.0 s, "
                                               r"as answers take 9.0 s now against 5"):
        c.join()
    clock.now += 11.5  # b has waited past its 11 s
    with pytest.raises(GenerationFailed, match=r"waited 12 s for the model \(RAG_LLM_QUEUE_S=15 cut to 11.0 s"):
        b.join()
    model.release["a"].set()
    assert a.join().text == "a0 a1 "


def test_a_request_at_the_front_falls_back_when_a_slow_answer_shrinks_its_limit() -> None:
    clock, model, queue, a = queue_running(5.0)
    b = Request(queue, "b")
    b.wait_position(1)
    clock.now += 12.0  # a takes 12 s: b has waited 12 s, past the 15 - 7 = 8 s it may now wait
    model.release["a"].set()
    with pytest.raises(GenerationFailed, match=r"waited 12 s for the model \(RAG_LLM_QUEUE_S=15 cut to 8.0 s, as "
                                               r"answers take 12.0 s now against 5\) with 0 ahead"):
        b.join()
    assert a.join().text == "a0 a1 " and model.started == ["a"]


def test_however_slow_answers_become_the_model_still_takes_a_request_it_is_free_for() -> None:
    """A 21 s answer would cut the limit below zero: every later request would be turned away, nothing would
    run again and the average could never recover. The limit stops at half of queue_s."""
    clock, model, queue, first = queue_running(5.0, "first")
    clock.now += 21.0
    model.release["first"].set()
    first.join()
    b = Request(queue, "b")  # nothing running, nothing ahead: it runs
    model.gate("b")
    assert model.entered["b"].wait(WAIT_S)
    c = Request(queue, "c")  # the rest of b (21 s) is past the 7.5 s it may wait
    with pytest.raises(GenerationFailed, match=r"more than RAG_LLM_QUEUE_S=15 cut to 7.5 s, as answers take 21.0 s"):
        c.join()
    model.release["b"].set()
    assert b.join().text == "b0 b1 "


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_a_bad_prior_is_refused(bad: float) -> None:
    with pytest.raises(InputError, match=rf"prior_s={bad} must be above 0 seconds"):
        ModelQueue(GatedGenerator(), queue_s=15, prior_s=bad)


def test_a_stopped_answer_does_not_time_the_queue() -> None:
    model = GatedGenerator(pieces=2)
    queue = ModelQueue(model, queue_s=15)
    control = Control()
    a = Request(queue, "a", control)
    model.gate("a")
    assert model.entered["a"].wait(WAIT_S)
    control.stop.set()
    assert a.join().stopped
    assert queue.service_s is None


def test_a_lone_request_has_no_deadline_until_someone_waits_behind_it() -> None:
    clock, model, queue, a = queue_running(5.0)  # a asked at 100 (the fake clock)
    assert a.control.deadline is None  # alone, an answer is never cut
    clock.now += 3
    b = Request(queue, "b")
    b.wait_position(1)
    assert a.control.deadline == 100 + 15 + 5  # its question + RAG_LLM_QUEUE_S + one answer (the prior)
    assert a.control.deadline_why == ("the model had not finished 20 s after the question while others waited"
                                      ": RAG_LLM_QUEUE_S=15 + 5.0 s for one answer")
    assert a.control.overdue(119.9) is False and a.control.overdue(120) is True
    model.release["a"].set()
    clock.now += 1
    assert a.join().text == "a0 a1 "
    model.gate("b")
    assert model.entered["b"].wait(WAIT_S)
    assert b.control.deadline is None  # nobody behind b when it started
    model.release["b"].set()
    b.join()


def test_a_request_starting_with_others_behind_it_gets_its_deadline_at_once() -> None:
    clock, model, queue, a = queue_running(5.0)
    b = Request(queue, "b", Control(asked=98.0))  # asked 2 s before it reached the queue
    b.wait_position(1)
    c = Request(queue, "c")
    c.wait_position(2)
    model.release["a"].set()
    a.join()
    model.gate("b")
    assert model.entered["b"].wait(WAIT_S)
    assert b.control.deadline == 98 + 15 + 5  # counted from when the person asked
    for tag in ("b", "c"):
        model.gate(tag)
        model.release[tag].set()
    assert [b.join().text, c.join().text] == ["b0 b1 ", "c0 c1 "]


def test_one_answer_is_the_fastest_timed_or_the_prior_when_that_is_longer() -> None:
    clock, model, queue, a = queue_running(5.0)
    assert queue.answer_s() == 5.0
    clock.now += 8  # answers on a slower machine: 8 s, then 12 s under load
    model.release["a"].set()
    a.join()
    assert queue.answer_s() == 8.0
    b = Request(queue, "b")
    model.gate("b")
    assert model.entered["b"].wait(WAIT_S)
    clock.now += 12
    model.release["b"].set()
    b.join()
    assert queue.answer_s() == 8.0 and queue.service_s == pytest.approx(0.3 * 12 + 0.7 * 8)
    no_prior = ModelQueue(GatedGenerator(pieces=1), queue_s=15, clock=clock, prior_s=None)
    no_prior.generate(messages("x"), 4)  # timed at 0 s (the fake clock did not move): no floor for a deadline
    assert no_prior.answer_s() is None  # an endpoint: never a deadline, RAG_LLM_TIMEOUT_S bounds it


class DeadlineGenerator:
    """Writes one piece, then gives up the way the real generators do once the request is overdue on the
    test's clock (or runs to its end when `release` is set)."""

    name = "deadline"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.entered = threading.Event()
        self.release = threading.Event()

    def generate(self, messages, max_tokens, control=None) -> Generation:
        control = control or Control()
        control.token("part ")
        self.entered.set()
        while not self.release.wait(0.01):
            if control.overdue(self.clock()):
                raise GenerationFailed(control.deadline_why)
        return Generation(text="part whole")


def test_an_answer_cut_at_its_deadline_falls_back_and_its_time_counts_as_slow() -> None:
    clock = FakeClock()
    model = DeadlineGenerator(clock)
    queue = ModelQueue(model, queue_s=15, clock=clock)
    a = Request(queue, "a")
    assert model.entered.wait(WAIT_S)
    b = Request(queue, "b")
    b.wait_position(1)
    clock.now += 21  # past 100 + 15 + 5
    with pytest.raises(GenerationFailed, match=r"had not finished 20 s after the question while others waited"):
        a.join()
    assert queue.service_s == 21.0  # slow at least this: the limit shrinks for the next ones
    assert queue.answer_s() == 5.0  # but it is no whole answer, so not one unhurried answer
    with pytest.raises(GenerationFailed, match=r"waited 21 s for the model \(RAG_LLM_QUEUE_S=15 cut to 7.5 s"):
        b.join()


def test_a_replayed_reply_does_not_time_the_queue() -> None:
    class Replaying:
        name = "replaying"

        def generate(self, messages, max_tokens, control=None) -> Generation:
            return Generation(text="kept", replayed=True)

    queue = ModelQueue(Replaying(), queue_s=15)
    assert queue.generate(messages("a"), 4).text == "kept"
    assert (queue.service_s, queue.answer_s()) == (None, 5.0)


def test_once_someone_waited_the_running_answer_keeps_its_deadline() -> None:
    """The one waiting leaves (Stop, a closed tab, its own limit), but the load that slows the running answer
    is still there, and the bound is for every reply: the deadline stays."""
    clock, model, queue, a = queue_running(5.0)
    b = Request(queue, "b")
    b.wait_position(1)
    assert a.control.deadline == 120
    b.control.stop.set()
    assert b.join().stopped
    assert a.control.deadline == 120
    c = Request(queue, "c")  # someone new waits: the same deadline, from a's question
    c.wait_position(1)
    assert a.control.deadline == 120
    model.release["a"].set()
    a.join()
    model.gate("c")
    model.release["c"].set()
    assert c.join().text == "c0 c1 "


def test_a_request_turned_away_at_once_still_sets_the_deadline() -> None:
    clock, model, queue, a = queue_running(5.0)
    b = Request(queue, "b", Control(asked=clock.now - 11))  # asked 11 s ago + a's 5 s to go: past 15 s
    with pytest.raises(GenerationFailed, match="the model is busy: 1 ahead of this question would keep it waiting"):
        b.join()
    assert a.control.deadline == 120  # someone came to ask while a ran: a crowd, so the bound applies
    model.release["a"].set()
    assert a.join().text == "a0 a1 "
