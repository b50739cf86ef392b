"""Load test: start `python ui.py` on loopback and ask its /ask endpoint from 1, 5 and 20 clients at once.

    python scripts/load_test.py [--levels 1 5 20] [--questions 10] [--index-dir DIR] [--json OUT]
                                [--answerer llm --scripted-llm] [--soak SECONDS --clients N]

Each client is its own gradio_client session and asks `--questions` questions one after another; a level
ends when every client is done or `--level-timeout` passes. Printed per level: requests, errors (target 0),
p50/p95/max seconds per answer (the whole streamed reply, as a user waits for it), p50/p95 seconds to the
first token (the first piece of model text, or the first characters of an extractive answer), p95 of the
time spent queued for the model, the share of answers the model wrote (`model_share`, from the
answerer named under each answer: anything but the extractive fallback) and throughput; then the
server's peak resident memory (VmHWM: the most it ever held, model load included).

`--soak SECONDS --clients N` instead keeps N clients asking for SECONDS (each a new session every 10
questions, as people come and go) and reports the server's RSS and thread count at the start, middle and
end, and every error.

`--scripted-llm` starts tests/llm_server.py (a scripted OpenAI-compatible server: `--llm-hang-s` of
silence, then one reply at `--llm-gap-s` per character) and points the app's `llm` answerer at it, so the
queue can be measured without a real model. The exit status is 1 when any request failed. The server gets
a private copy of --index-dir (default: the project's index/, or the bundled article indexed on first
start) and a temporary uploads folder; nothing of the project changes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.evaluation.metrics import percentile
from rag.ui_process import start_app, stop_app  # the same launcher the browser tests use

QUESTIONS = [  # answerable, unanswerable, English and follow-up-free, so every answer path is exercised
    "美图2023年的总收入是多少？", "美图2023年的净利润是多少？", "美图的CFO是谁？", "美图总部在哪里？",
    "2023年美图的月活跃用户数是多少？", "What was Meitu's net profit in 2023?", "美图付费订阅用户数同比增长了多少？",
    "美图首次在公开市场交易中购买了多少枚比特币？", "美图有多少员工？", "2023年美图影像与设计产品业务的收入是多少？",
]
STARTUP_TIMEOUT_S = 300  # model load on two busy cores, plus indexing the article when there is no index
REQUEST_TIMEOUT_S = 120
POLL_S = 0.05  # how often a client looks at its reply's progress (the resolution of the timings)
# In a soak each client opens a new session (a new person) after this many questions: one endless chat
# would measure a 300-turn conversation, not many people.
SOAK_SESSION_QUESTIONS = 10
FALLBACK_ANSWERERS = ("extractive", "sentence")  # answers not written by a model
SLOWEST_KEPT = 5  # replies kept per level to show where the tail's time went
BUSY = "the model is busy"  # the fallback's notice when the queue was too long (rag/serving.py)
CUT = "while others waited"  # the fallback's notice when a model answer ran past its deadline (rag/serving.py)
QUEUED = "排队中"  # what the reply bubble says while the question waits for the model
STATUS = re.compile(r'^<span class="rag-status">(.*)</span>$', re.S)
ANSWERER = re.compile(r'data-answerer="([^"]*)"')


def pct(values: list[float], q: float) -> float | None:
    return round(percentile(values, q), 3) if values else None


@dataclass
class Level:
    clients: int
    requests: int = 0
    errors: int = 0
    latencies_s: list[float] = field(default_factory=list)
    first_token_s: list[float] = field(default_factory=list)
    queued_s: list[float] = field(default_factory=list)
    answerers: dict[str, int] = field(default_factory=dict)
    busy_fallbacks: int = 0  # answers given by the fallback because the model's queue was too long
    cut_fallbacks: int = 0  # model answers cut at their deadline, the fallback given instead
    slowest: list[dict] = field(default_factory=list)  # the slowest replies: what they waited for
    error_samples: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    rss_peak_mb: float = 0.0

    def summary(self) -> dict:
        lat = self.latencies_s
        answered = sum(self.answerers.values())
        by_model = sum(n for name, n in self.answerers.items() if name not in FALLBACK_ANSWERERS)
        return {"clients": self.clients, "requests": self.requests, "errors": self.errors,
                "p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "max_s": round(max(lat), 3) if lat else None,
                "first_token_p50_s": pct(self.first_token_s, 50), "first_token_p95_s": pct(self.first_token_s, 95),
                "queue_p50_s": pct(self.queued_s, 50), "queue_p95_s": pct(self.queued_s, 95),
                "queue_max_s": round(max(self.queued_s), 3) if self.queued_s else None,
                "model_share": round(by_model / answered, 3) if answered else None,
                "answerers": dict(sorted(self.answerers.items())), "busy_fallbacks": self.busy_fallbacks,
                "cut_fallbacks": self.cut_fallbacks,
                "wall_s": round(self.wall_s, 1),
                "answers_per_s": round(len(lat) / self.wall_s, 2) if self.wall_s else None,
                "server_peak_rss_mb": round(self.rss_peak_mb, 1), "error_samples": self.error_samples[:5],
                "slowest": self.slowest}


def proc_status(pid: int, key: str) -> int | None:
    """A number from /proc/<pid>/status (VmHWM and VmRSS in kB, Threads), or None off Linux."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    match = re.search(rf"^{key}:\s+(\d+)", status.read_text(), re.M)
    return int(match[1]) if match else None


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size of a process in MB, from the kernel's high-water mark (VmHWM, Linux).

    psutil reports only the current RSS on Linux, so it is the fallback where /proc is missing, and then
    the figure is the RSS at the moment of asking, not the peak.
    """
    kb = proc_status(pid, "VmHWM")
    if kb is not None:
        return kb / 1024
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def rss_mb(pid: int) -> float:
    kb = proc_status(pid, "VmRSS")
    if kb is not None:
        return kb / 1024
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def threads(pid: int) -> int:
    n = proc_status(pid, "Threads")
    if n is not None:
        return n
    import psutil

    return psutil.Process(pid).num_threads()


def reply_of(result: object) -> str:
    """The last assistant message of an /ask output (chat, sources, passages, question box)."""
    chat = result[0] if isinstance(result, list | tuple) else None
    if not chat:
        raise ValueError(f"no chat in the reply: {str(result)[:200]}")
    content = [m for m in chat if m.get("role") == "assistant"][-1]["content"]
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


@dataclass
class Timing:
    """What one client saw of one reply."""

    total_s: float
    first_token_s: float | None  # first model text, or the answer's first characters
    queued_s: float  # time the bubble said "queued"
    answerer: str
    reply: str


def ask_once(client, question: str, timeout_s: float) -> Timing:
    """Submit one question and watch its streamed outputs until the reply is complete."""
    t0 = time.perf_counter()
    job = client.submit(question, api_name="/ask")
    seen, first, queued_from, queued_s = 0, None, None, 0.0
    deadline = t0 + timeout_s

    def look(outputs: list) -> None:
        nonlocal seen, first, queued_from, queued_s
        now = time.perf_counter() - t0
        for out in outputs[seen:]:
            try:
                content = reply_of(out)
            except (ValueError, KeyError, IndexError, TypeError):
                continue
            status = STATUS.match(content)
            text = status[1] if status else content
            if status and QUEUED in text:
                queued_from = now if queued_from is None else queued_from
                continue
            if queued_from is not None:
                queued_s += now - queued_from
                queued_from = None
            if first is None and (not status or ("…" in text and not text.startswith(("检索中", "生成中")))):
                first = now
        seen = len(outputs)

    while not job.done():
        if time.perf_counter() > deadline:
            job.cancel()
            raise TimeoutError(f"no complete reply within {timeout_s:.0f} s")
        look(job.outputs())
        time.sleep(POLL_S)
    result = job.result(timeout=max(1.0, deadline - time.perf_counter()))
    look(job.outputs())
    total = time.perf_counter() - t0
    reply = reply_of(result)
    named = ANSWERER.search(reply)
    return Timing(total, first if first is not None else total, queued_s, named[1] if named else "", reply)


def run_client(url: str, n_questions: int, offset: int, deadline: float, level: Level, lock: threading.Lock,
               until: float | None = None) -> None:
    """Ask n_questions one after another (or, with `until`, keep asking until that time)."""
    from gradio_client import Client

    try:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    except Exception as exc:  # count it: a client that cannot connect is a failure under load
        lost = n_questions if until is None else 1
        with lock:
            level.requests += lost
            level.errors += lost
            level.error_samples.append(f"connect: {type(exc).__name__}: {exc}"[:200])
        return
    i = 0
    while (i < n_questions) if until is None else (time.monotonic() < until):
        if until is not None and i and i % SOAK_SESSION_QUESTIONS == 0:  # a soak client is a stream of people
            try:
                client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
            except Exception as exc:
                with lock:
                    level.requests += 1
                    level.errors += 1
                    level.error_samples.append(f"connect: {type(exc).__name__}: {exc}"[:200])
                return
        if time.monotonic() >= deadline:
            left = n_questions - i if until is None else 1
            with lock:
                level.requests += left
                level.errors += left
                level.error_samples.append("level time limit reached before this client finished")
            return
        question = QUESTIONS[(offset + i) % len(QUESTIONS)]
        i += 1
        try:
            timing = ask_once(client, question, min(REQUEST_TIMEOUT_S, max(1.0, deadline - time.monotonic())))
            reply = timing.reply
            problem = "error reply: " + reply[:150] if reply.startswith("⚠️") or not reply.strip() else ""
        except Exception as exc:  # timeouts, dropped connections, server errors: all count as errors
            problem = f"{type(exc).__name__}: {exc}"[:200]
        with lock:
            level.requests += 1
            if problem:
                level.errors += 1
                level.error_samples.append(problem)
            else:
                level.latencies_s.append(timing.total_s)
                level.first_token_s.append(timing.first_token_s)
                level.queued_s.append(timing.queued_s)
                level.answerers[timing.answerer] = level.answerers.get(timing.answerer, 0) + 1
                busy, cut = BUSY in timing.reply, CUT in timing.reply
                level.busy_fallbacks += busy
                level.cut_fallbacks += cut
                level.slowest.append({"question": question, "total_s": round(timing.total_s, 2),
                                      "queued_s": round(timing.queued_s, 2),
                                      "first_token_s": round(timing.first_token_s, 2),
                                      "answerer": timing.answerer, "busy": busy, "cut": cut})
                level.slowest = sorted(level.slowest, key=lambda t: -t["total_s"])[:SLOWEST_KEPT]


def run_level(url: str, pid: int, clients: int, n_questions: int, timeout_s: float) -> Level:
    level = Level(clients)
    lock = threading.Lock()
    deadline = time.monotonic() + timeout_s
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for c in range(clients):
            pool.submit(run_client, url, n_questions, c, deadline, level, lock)
    level.wall_s = time.perf_counter() - started
    level.rss_peak_mb = peak_rss_mb(pid)
    return level


def run_soak(url: str, pid: int, clients: int, seconds: float) -> dict:
    """N clients asking for `seconds`; the server's RSS and threads sampled every tenth of the run."""
    level = Level(clients)
    lock = threading.Lock()
    samples: list[dict] = []
    start = time.monotonic()
    until = start + seconds

    def sample() -> None:
        samples.append({"t_s": round(time.monotonic() - start, 1), "rss_mb": round(rss_mb(pid), 1),
                        "threads": threads(pid)})

    sample()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for c in range(clients):
            pool.submit(run_client, url, 10**9, c, until + REQUEST_TIMEOUT_S, level, lock, until)
        while time.monotonic() < until:
            time.sleep(min(seconds / 10, max(0.0, until - time.monotonic())))
            sample()
    level.wall_s = time.monotonic() - start
    under_load = samples[1:]  # samples[0] is the idle server before the first question
    mid = under_load[len(under_load) // 2]
    # Idle again: the worker thread of each finished question has ended; the thread pool Gradio runs its
    # steps in (anyio's, up to 40 threads) ends threads idle for 10 s, but only when it is next used: so
    # wait 11 s, ask one question, and count.
    time.sleep(11)
    from gradio_client import Client

    ask_once(Client(url, verbose=False, analytics_enabled=False, download_files=False), QUESTIONS[0],
             REQUEST_TIMEOUT_S)
    time.sleep(2)
    sample()
    level.rss_peak_mb = peak_rss_mb(pid)
    summary = level.summary()
    summary.update(seconds=seconds, rss_idle_start_mb=samples[0]["rss_mb"], rss_start_mb=under_load[0]["rss_mb"],
                   rss_mid_mb=mid["rss_mb"], rss_end_mb=under_load[-1]["rss_mb"],
                   rss_idle_end_mb=samples[-1]["rss_mb"], threads_idle_start=samples[0]["threads"],
                   threads_start=under_load[0]["threads"], threads_mid=mid["threads"],
                   threads_end=under_load[-1]["threads"], threads_idle_end=samples[-1]["threads"],
                   samples=samples)
    return summary


def start_scripted_llm(hang_s: float, gap_s: float) -> tuple[subprocess.Popen, str]:
    """tests/llm_server.py in its own process (so its threads do not count as the app's); its URL."""
    process = subprocess.Popen([sys.executable, "-m", "tests.llm_server", "--hang-s", str(hang_s),
                                "--gap-s", str(gap_s)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise RuntimeError(f"the scripted LLM server did not start (said {url!r})")
    return process, url


def print_level(s: dict, label: str) -> None:
    print(f"{label}: {s['requests']} requests, {s['errors']} errors, answer p50 {s['p50_s']} s / p95 "
          f"{s['p95_s']} s / max {s['max_s']} s, first token p50 {s['first_token_p50_s']} s / p95 "
          f"{s['first_token_p95_s']} s, queued p95 {s['queue_p95_s']} s (max {s['queue_max_s']}), model share "
          f"{s['model_share']} {s['answerers']} ({s['busy_fallbacks']} for a busy model, {s['cut_fallbacks']} cut at the deadline), {s['answers_per_s']} answers/s over {s['wall_s']} s; "
          f"server peak RSS {s['server_peak_rss_mb']} MB", flush=True)
    for sample in s["error_samples"]:
        print(f"      error: {sample}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 5, 20], help="concurrent clients per level")
    parser.add_argument("--questions", type=int, default=10, help="questions each client asks")
    parser.add_argument("--level-timeout", type=float, default=300.0, help="seconds a level may take at most")
    parser.add_argument("--index-dir", type=Path, default=PROJECT_ROOT / "index", help="index to copy for the server")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--answerer", help="the app's answerer (RAG_ANSWERER), e.g. llm")
    parser.add_argument("--scripted-llm", action="store_true", help="serve the llm answerer from tests/llm_server.py")
    parser.add_argument("--llm-hang-s", type=float, default=1.0, help="scripted model: seconds before the first token")
    parser.add_argument("--llm-gap-s", type=float, default=0.027, help="scripted model: seconds per token")
    parser.add_argument("--queue-s", type=float, help="RAG_LLM_QUEUE_S for the app")
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="run a soak of this many seconds instead")
    parser.add_argument("--clients", type=int, default=50, help="clients of the soak")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.levels) or args.questions < 1 or args.clients < 1:
        parser.error("--levels, --questions and --clients must be at least 1")

    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs; load average before start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    env: dict[str, str] = {}
    llm = None
    if args.scripted_llm:
        llm, llm_url = start_scripted_llm(args.llm_hang_s, args.llm_gap_s)
        env.update(RAG_LLM_BASE_URL=llm_url, RAG_LLM_MODEL="scripted")
        print(f"scripted LLM at {llm_url}: {args.llm_hang_s} s before the first token, {args.llm_gap_s} s per token")
    if args.answerer:
        env["RAG_ANSWERER"] = args.answerer
    if args.queue_s:
        env["RAG_LLM_QUEUE_S"] = str(args.queue_s)
    workdir = Path(tempfile.mkdtemp(prefix="rag-load-"))
    if (args.index_dir / "CURRENT").exists():  # a private copy; with none, the server indexes the article
        shutil.copytree(args.index_dir, workdir / "index")
    app = None
    try:
        app = start_app(workdir, workdir / "index", extra_env=env, timeout_s=STARTUP_TIMEOUT_S)
        process, url = app.process, app.url
        print(f"server ready in {app.ready_s:.1f} s at {url} (pid {process.pid})")
        print(f"server peak RSS after start: {peak_rss_mb(process.pid):.1f} MB, {threads(process.pid)} threads")
        run_level(url, process.pid, 1, 1, 60)  # warm-up: the first request pays one-off costs
        report: dict = {"questions_per_client": args.questions, "cpus": os.cpu_count(), "settings": env}
        if args.soak:
            s = run_soak(url, process.pid, args.clients, args.soak)
            print_level(s, f"soak {args.clients} clients x {args.soak:g} s")
            print(f"under load: server RSS start {s['rss_start_mb']} MB, mid {s['rss_mid_mb']} MB, end "
                  f"{s['rss_end_mb']} MB; threads start {s['threads_start']}, mid {s['threads_mid']}, end "
                  f"{s['threads_end']}. Idle before / after: RSS {s['rss_idle_start_mb']} / {s['rss_idle_end_mb']} MB, "
                  f"threads {s['threads_idle_start']} / {s['threads_idle_end']}")
            report["soak"] = s
            failed = s["errors"] > 0
        else:
            results = []
            for clients in args.levels:
                level = run_level(url, process.pid, clients, args.questions, args.level_timeout)
                results.append(level.summary())
                print_level(results[-1], f"{clients:>3} clients x {args.questions} questions")
                if process.poll() is not None:
                    print(f"server died with {process.returncode}:\n{app.log_tail(3000)}")
                    break
            report["levels"] = results
            failed = any(r["errors"] for r in results) or len(results) < len(args.levels)
        load = os.getloadavg()
        print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        return 1 if failed else 0
    finally:
        if app is not None:
            stop_app(app)  # also removes workdir
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        if llm is not None:
            llm.terminate()
            llm.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
