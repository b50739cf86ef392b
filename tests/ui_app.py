"""One real `python ui.py` for the browser and API tests, started once per test session.

The app gets a copy of conftest's `real_index_dir` (the article indexed with the real model, shared with
the integration tests) as its --index-dir and a temporary --uploads-dir, so tests never touch the
project's index/ or data/uploads/.
Use it in a test module with `from tests.ui_app import ui_app_fixture` (the fixture is named `ui_app`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 180  # loading the model on 2 busy cores; the index is already built
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


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
    """Start `python ui.py` on a free port over index_dir and wait until the page answers.

    Also used by scripts/load_test.py. stop_app() ends it and removes `workdir`.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "RAG_AUTH"}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **(extra_env or {}))
    log_path = workdir / "ui.log"
    cmd = [sys.executable, str(ROOT / "ui.py"), "--port", str(port), "--index-dir", str(index_dir),
           "--uploads-dir", str(workdir / "uploads")]
    launched_at = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
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


_shared: RunningApp | None = None


@pytest.fixture(scope="module", name="ui_app")
def ui_app_fixture(request: pytest.FixtureRequest, real_index_dir: Path) -> RunningApp:
    """The running app; the first module that asks starts it, the end of the session stops it."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        workdir = Path(tempfile.mkdtemp(prefix="rag-ui-test-"))
        shutil.copytree(real_index_dir, workdir / "index")  # the app adds uploads to its own copy
        app = start_app(workdir, workdir / "index")
        _shared = app
        request.config.add_cleanup(lambda: stop_app(app))
    return _shared
