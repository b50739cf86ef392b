"""Load test: start `python ui.py` on loopback and ask its /ask endpoint from 1, 5 and 20 clients at once.

    python scripts/load_test.py [--levels 1 5 20] [--questions 10] [--index-dir DIR] [--json OUT]

Each client is its own gradio_client session and asks `--questions` questions one after another; a level
ends when every client is done or `--level-timeout` passes. Printed per level: requests, errors (target 0),
p50/p95/max seconds per answer (the whole streamed reply, as a user waits for it) and throughput; then the
server's peak resident memory (VmHWM: the most it ever held, model load included). The exit status is 1
when any request failed. The server gets a private copy of --index-dir (default: the project's index/, or
the bundled article indexed on first start) and a temporary uploads folder; nothing of the project changes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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


@dataclass
class Level:
    clients: int
    requests: int = 0
    errors: int = 0
    latencies_s: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    rss_peak_mb: float = 0.0

    def summary(self) -> dict:
        lat = self.latencies_s
        return {"clients": self.clients, "requests": self.requests, "errors": self.errors,
                "p50_s": round(percentile(lat, 50), 3) if lat else None,
                "p95_s": round(percentile(lat, 95), 3) if lat else None,
                "max_s": round(max(lat), 3) if lat else None, "wall_s": round(self.wall_s, 1),
                "answers_per_s": round(len(lat) / self.wall_s, 2) if self.wall_s else None,
                "server_peak_rss_mb": round(self.rss_peak_mb, 1), "error_samples": self.error_samples[:5]}


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size of a process in MB, from the kernel's high-water mark (VmHWM, Linux).

    psutil reports only the current RSS on Linux, so it is the fallback where /proc is missing, and then
    the figure is the RSS at the moment of asking, not the peak.
    """
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        match = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.M)
        if match:
            return int(match[1]) / 1024
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def reply_of(result: object) -> str:
    """The last assistant message of the /ask result (chat, sources, passages, question box)."""
    chat = result[0] if isinstance(result, list | tuple) else None
    if not chat:
        raise ValueError(f"no chat in the reply: {str(result)[:200]}")
    content = [m for m in chat if m.get("role") == "assistant"][-1]["content"]
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def run_client(url: str, n_questions: int, offset: int, deadline: float, level: Level, lock: threading.Lock) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    except Exception as exc:  # count it: a client that cannot connect is a failure under load
        with lock:
            level.requests += n_questions
            level.errors += n_questions
            level.error_samples.append(f"connect: {type(exc).__name__}: {exc}"[:200])
        return
    for i in range(n_questions):
        if time.monotonic() >= deadline:
            with lock:
                level.requests += n_questions - i
                level.errors += n_questions - i
                level.error_samples.append("level time limit reached before this client finished")
            return
        question = QUESTIONS[(offset + i) % len(QUESTIONS)]
        t0 = time.perf_counter()
        try:
            job = client.submit(question, api_name="/ask")
            reply = reply_of(job.result(timeout=min(REQUEST_TIMEOUT_S, max(1.0, deadline - time.monotonic()))))
            problem = "error reply: " + reply[:150] if reply.startswith("⚠️") or not reply.strip() else ""
        except Exception as exc:  # timeouts, dropped connections, server errors: all count as errors
            problem = f"{type(exc).__name__}: {exc}"[:200]
        elapsed = time.perf_counter() - t0
        with lock:
            level.requests += 1
            if problem:
                level.errors += 1
                level.error_samples.append(problem)
            else:
                level.latencies_s.append(elapsed)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 5, 20], help="concurrent clients per level")
    parser.add_argument("--questions", type=int, default=10, help="questions each client asks")
    parser.add_argument("--level-timeout", type=float, default=300.0, help="seconds a level may take at most")
    parser.add_argument("--index-dir", type=Path, default=PROJECT_ROOT / "index", help="index to copy for the server")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.levels) or args.questions < 1:
        parser.error("--levels and --questions must be at least 1")

    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs; load average before start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    workdir = Path(tempfile.mkdtemp(prefix="rag-load-"))
    if (args.index_dir / "CURRENT").exists():  # a private copy; with none, the server indexes the article
        shutil.copytree(args.index_dir, workdir / "index")
    app = None
    try:
        app = start_app(workdir, workdir / "index", timeout_s=STARTUP_TIMEOUT_S)
        process, url = app.process, app.url
        print(f"server ready in {app.ready_s:.1f} s at {url} (pid {process.pid})")
        print(f"server peak RSS after start: {peak_rss_mb(process.pid):.1f} MB")
        run_level(url, process.pid, 1, 1, 60)  # warm-up: the first request pays one-off costs
        results = []
        for clients in args.levels:
            level = run_level(url, process.pid, clients, args.questions, args.level_timeout)
            results.append(level.summary())
            s = results[-1]
            print(f"{clients:>3} clients x {args.questions} questions: {s['requests']} requests, "
                  f"{s['errors']} errors, p50 {s['p50_s']} s, p95 {s['p95_s']} s, max {s['max_s']} s, "
                  f"{s['answers_per_s']} answers/s over {s['wall_s']} s; server peak RSS {s['server_peak_rss_mb']} MB",
                  flush=True)
            for sample in s["error_samples"]:
                print(f"      error: {sample}")
            if process.poll() is not None:
                print(f"server died with {process.returncode}:\n{app.log_tail(3000)}")
                break
        load = os.getloadavg()
        print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        if args.json:
            args.json.write_text(json.dumps({"levels": results, "questions_per_client": args.questions,
                                             "cpus": os.cpu_count()}, indent=2), encoding="utf-8")
        return 1 if any(r["errors"] for r in results) or len(results) < len(args.levels) else 0
    finally:
        if app is not None:
            stop_app(app)  # also removes workdir
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
