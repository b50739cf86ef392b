# Two commands set everything up on a fresh machine: `make run` (the app) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install browser model index run test test-fast eval eval-compare eval-cmrc load lint clean

install: $(STAMP)

# torch is pinned to its CPU build and installed first: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian's headless Chromium and CJK fonts for the browser tests (Playwright cannot download browsers here).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
		echo "installing chromium and fonts-noto-cjk from Debian"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

model: install
	$(PY) -c "from rag.config import Config; from rag.embedding import load_embedder; load_embedder(Config(), progress=print)"

index: install
	$(VENV)/bin/rag index

run: install
	$(PY) ui.py --host $(HOST) --port $(PORT)

test: install browser
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not integration and not browser"

eval: install
	$(VENV)/bin/rag eval --out eval/out/article

eval-compare: install
	$(VENV)/bin/rag eval --compare --out eval/out/compare

eval-cmrc: install
	$(VENV)/bin/rag eval --compare --dataset ../shared/datasets/cmrc2018_dev.json --out eval/out/cmrc

load: install
	$(PY) scripts/load_test.py

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf index/CURRENT index/gen-* index/.tmp-* eval/out artifacts
