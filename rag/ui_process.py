"""Start and stop `python ui.py` as a child process on a free loopback port.

The browser and API tests (tests/ui_app.py) and the load test (scripts/load_test.py) drive the app the
way a person does: through a real server, started here the same way for both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rag.config import PROJECT_ROOT

STARTUP_TIMEOUT_S = 180  # loading the model on 2 busy cores; the index is already built


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen
    workdir: Path
    log_path: Path
    launched_at: float  # time.perf_counter() when `python ui.py` was started
    ready_s: float  # seconds from launch until the page answered HTTP 200

    @property
    def uploads_dir(self) -> Path:
        return self.workdir / "uploads"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(workdir: Path, index_dir: Path, extra_env: dict[str, str] | None = None,
              timeout_s: float = STARTUP_TIMEOUT_S) -> RunningApp:
    """Start `python ui.py` on a free port over index_dir, uploads in workdir/uploads and its log in
    workdir/ui.log, and wait until the page answers. stop_app() ends it and removes `workdir`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "RAG_AUTH"}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **(extra_env or {}))
    log_path = workdir / "ui.log"
    cmd = [sys.executable, str(PROJECT_ROOT / "ui.py"), "--port", str(port), "--index-dir", str(index_dir),
           "--uploads-dir", str(workdir / "uploads")]
    launched_at = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    app = RunningApp(url, process, workdir, log_path, launched_at, 0.0)
    while time.perf_counter() - launched_at < timeout_s:
        if process.poll() is not None:
            raise RuntimeError(f"ui.py exited with {process.returncode}:\n{app.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    app.ready_s = time.perf_counter() - launched_at
                    return app
        except OSError:
            pass
        time.sleep(0.25)
    stop_app(app)
    raise RuntimeError(f"ui.py did not answer on {url} within {timeout_s} s:\n{app.log_tail()}")


def stop_app(app: RunningApp) -> None:
    if app.process.poll() is None:
        app.process.terminate()
        try:
            app.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            app.process.kill()
            app.process.wait()
    shutil.rmtree(app.workdir, ignore_errors=True)
