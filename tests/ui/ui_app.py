"""One real `python ui.py` for the browser and API tests, started once per test session.

The app gets a copy of conftest's `real_index_dir` (the article indexed with the real model, shared with
the integration tests) as its --index-dir and a temporary --uploads-dir, so tests never touch the
project's index/ or data/uploads/.
Use it in a test module with `from tests.ui.ui_app import ui_app_fixture` (the fixture is named `ui_app`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.ui_process import RunningApp, start_app, stop_app

SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"


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
