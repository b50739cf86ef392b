"""Bad input gets a clear message and changes nothing: questions through Engine.ask and the CLI, files
through Engine.add_files and `rag index`. Every rejected add leaves the index byte-for-byte unchanged."""

from __future__ import annotations

import codecs
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answering.citations import check_citations
from rag.chat import Engine
from rag.config import Config
from rag.documents import read_file
from rag.errors import InputError, UnsupportedFileError
from tests.conftest import ROOT
from tests.fakes import tree_digest

REVENUE = "美图2023年的总收入是多少？"
GBK_TEXT = "星火公司年报\n\n星火公司2025年的研发投入为8.8亿元，同比增长12%。公司总部位于杭州。\n\n董事长是李明。"


def run_rag(*args: str, env: dict[str, str] | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=full_env)


def assert_one_error_line(out: subprocess.CompletedProcess, message: str, code: int = 2) -> None:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert message in lines[0], lines[0]


# --------------------------------------------------------------------------- questions, CLI (no model)

@pytest.mark.parametrize(("question", "message"), [
    ("", "the question is empty"),
    ("  \n\t ", "the question is empty"),
    ("\x01\x1b\u200b\x7f", "the question is empty"),  # argv cannot carry NUL
    ("？？！！。。……", "has no words or numbers"),
    ("😀🎉🔥", "has no words or numbers"),
])
def test_cli_rejects_an_unusable_question_before_loading_anything(tmp_path, question, message):
    out = run_rag("ask", question, "--index-dir", str(tmp_path / "no-index"))
    assert_one_error_line(out, message)
    assert out.stdout == ""
    assert not (tmp_path / "no-index").exists()


def test_cli_json_error_is_one_json_object(tmp_path):
    out = run_rag("ask", "", "--json", "--index-dir", str(tmp_path / "no-index"))
    assert_one_error_line(out, "the question is empty")
    assert json.loads(out.stdout) == {"error": "the question is empty; type a question about the documents."}


def test_cli_question_and_batch_together_is_an_error(tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": 1, "question": "美图"}\n', encoding="utf-8")
    assert_one_error_line(run_rag("ask", "", "--batch", str(batch)), "not both")


# --------------------------------------------------------------------------- files, CLI (no model)

def test_cli_index_rejects_bad_files_before_loading_the_model(tmp_path):
    index_dir = tmp_path / "index"
    big = tmp_path / "big.txt"
    big.write_text("美图公司的正文。" * 100, encoding="utf-8")  # 2,400 bytes
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    for args, env, message in [
        ([str(tmp_path / "missing.txt")], {}, "missing.txt does not exist; check the path."),
        ([str(big)], {"RAG_MAX_FILE_BYTES": "1000"},
         "big.txt is 2.4 KB, over the 1.0 KB limit (RAG_MAX_FILE_BYTES=1000); split it or raise"),
        ([str(binary)], {}, "photo.txt looks binary (it contains NUL bytes)"),
        ([str(big), str(binary)], {}, "photo.txt looks binary"),  # one bad file rejects the whole add
    ]:
        out = run_rag("index", *args, "--index-dir", str(index_dir), env=env)
        assert_one_error_line(out, message)
        assert not index_dir.exists()


# --------------------------------------------------------------------------- questions, real engine


@pytest.mark.integration
@pytest.mark.parametrize(("question", "message"), [
    ("", "the question is empty"), ("   \n\t\u3000 ", "the question is empty"),
    ("\x00\x01\x1b\u200b\u202e", "the question is empty"),
    ("？！。，、；…—「」", "has no words or numbers"), ("😀🎉🔥👍", "has no words or numbers"),
    (None, "the question must be text, not NoneType"), (123, "the question must be text, not int"),
])
def test_engine_rejects_unusable_questions(real_engine, question, message):
    with pytest.raises(InputError, match=message):
        real_engine.ask(question)


@pytest.mark.integration
def test_a_100000_character_question_is_cut_with_a_notice(real_engine):
    question = REVENUE + "啊" * (100_000 - len(REVENUE))
    answer = real_engine.ask(question)
    limit = real_engine.config.max_question_chars
    assert answer.notice == f"the question was 100000 characters long and was cut to the first {limit}."
    assert len(answer.question) == limit and answer.question.startswith(REVENUE)
    assert check_citations(answer) == []


@pytest.mark.integration
def test_control_characters_are_dropped_from_a_question(real_engine):
    plain = real_engine.ask(REVENUE)
    noisy = real_engine.ask("\x00美图\x07 2023年的\u200b总收入\x1b是多少？\x7f\r\n")
    assert noisy.question == "美图 2023年的 总收入 是多少？"
    assert not noisy.refused and "27" in noisy.text and noisy.text == plain.text
    assert check_citations(noisy) == []


@pytest.mark.integration
@pytest.mark.parametrize("question", ["Meitu 美图 2023年 revenue 总收入 Выручка 売上高 是多少？",
                                      "美图的AI产品MiracleVision是什么？", "ＭＥＩＴＵ　２０２３年的净利润是多少？"])
def test_mixed_scripts_get_a_checked_answer_or_a_refusal(real_engine, question):
    answer = real_engine.ask(question)
    assert check_citations(answer) == []
    assert answer.refused == (answer.citations == ())


# --------------------------------------------------------------------------- files, real engine

@pytest.fixture()
def engine(real_engine_copy) -> Engine:
    return real_engine_copy


def blank_pdf(path: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    with open(path, "wb") as f:
        writer.write(f)
    return path


def bad_file(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """(path, the message its rejection must contain)"""
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    if kind == "missing":
        return files / "nope.txt", "nope.txt does not exist; check the path."
    if kind == "no-supported-files":
        folder = files / "pictures"
        folder.mkdir()
        (folder / "a.jpg").write_bytes(b"\xff\xd8\xff")
        (folder / "notes.exe").write_bytes(b"MZ")
        return folder, "holds no supported files"
    path = files / {"empty": "empty.txt", "binary-nul": "photo.txt", "binary-no-nul": "data.txt",
                    "invalid-utf8": "broken.txt", "utf16-no-bom": "wide.txt", "pdf-no-text": "scan.pdf",
                    "not-a-pdf": "fake.pdf", "not-a-docx": "fake.docx", "furniture-only": "chrome.html",
                    "unsupported": "table.xlsx"}[kind]
    utf8 = "美图公司2023年的总收入为27亿元。".encode()
    content, message = {
        "empty": (b"", "empty.txt is empty; there is nothing to index."),
        "binary-nul": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "looks binary (it contains NUL"),
        "binary-no-nul": (bytes(range(1, 256)) * 20, "data.txt is not readable text in UTF-8 or GBK/GB18030 "
                                                      "(the first byte that is not UTF-8 is near offset 127)"),
        "invalid-utf8": (utf8[:10] + b"\xff\xfe" + utf8[10:], "broken.txt is not readable text in UTF-8 or "
                                                             "GBK/GB18030 (the first byte that is not UTF-8 is near offset 9)"),
        "utf16-no-bom": ("美图公司".encode("utf-16-le") + b"a\x00", "looks binary"),
        "pdf-no-text": (None, "scan.pdf has no text layer (a scanned PDF?); run OCR on it first"),
        "not-a-pdf": (b"just some text, renamed", "fake.pdf is not a readable PDF"),
        "not-a-docx": ("正文".encode(), "fake.docx is not a readable .docx file"),
        "furniture-only": ("<nav>首页</nav><p>分享</p><p>评论</p><footer>版权所有</footer>".encode(),
                           "chrome.html has no body text left after cleaning"),
        "unsupported": (b"PK\x03\x04", "table.xlsx: files of type '.xlsx' are not supported"),
    }[kind]
    if kind == "pdf-no-text":
        blank_pdf(path)
    else:
        path.write_bytes(content)
    return path, message


BAD_KINDS = ["missing", "no-supported-files", "empty", "binary-nul", "binary-no-nul", "invalid-utf8",
             "utf16-no-bom", "pdf-no-text", "not-a-pdf", "not-a-docx", "furniture-only", "unsupported"]
NOT_TEXT = {"binary-nul", "binary-no-nul", "invalid-utf8", "utf16-no-bom", "pdf-no-text", "not-a-pdf", "not-a-docx",
            "unsupported"}  # UnsupportedFileError: the content or type is wrong, not just the path or size


@pytest.mark.integration
@pytest.mark.parametrize("kind", BAD_KINDS)
def test_a_rejected_file_changes_nothing(engine, tmp_path, kind):
    path, message = bad_file(tmp_path, kind)
    good = tmp_path / "good.txt"
    good.write_text("一份正常的文件。星火公司2025年的研发投入为8.8亿元。", encoding="utf-8")
    before = tree_digest(engine.index_dir)
    for paths in ([path], [good, path]):  # alone, and after a good file: the whole add is refused
        with pytest.raises(InputError) as caught:
            engine.add_files(paths)
        assert message in str(caught.value)
        assert isinstance(caught.value, UnsupportedFileError) == (kind in NOT_TEXT)
        assert tree_digest(engine.index_dir) == before
    assert [d["source"] for d in engine.documents()] == ["meitu_ai_article.txt"]


@pytest.mark.integration
def test_a_file_over_the_size_limit_is_rejected(engine, tmp_path):
    small = Engine(Config(max_file_bytes=100), engine.index_dir, engine.embedder, engine.index)
    big = tmp_path / "big.txt"
    big.write_text("美图公司的正文。" * 10, encoding="utf-8")  # 240 bytes
    before = tree_digest(engine.index_dir)
    with pytest.raises(InputError, match=r"big.txt is 240 bytes, over the 100 bytes limit "
                                         r"\(RAG_MAX_FILE_BYTES=100\); split it or raise RAG_MAX_FILE_BYTES"):
        small.add_files([big])
    assert tree_digest(engine.index_dir) == before


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "gb2312", "utf-8-sig", "utf-16", "utf-16-be"])
def test_chinese_in_other_encodings_is_decoded_exactly(tmp_path, encoding):
    path = tmp_path / "xinghuo.txt"
    data = GBK_TEXT.replace("\n", "\r\n").encode(encoding)
    path.write_bytes(codecs.BOM_UTF16_BE + data if encoding == "utf-16-be" else data)
    assert read_file(path).text == GBK_TEXT


@pytest.mark.integration
def test_a_gbk_file_is_indexed_and_answered_with_exact_offsets(engine, tmp_path):
    path = tmp_path / "xinghuo.txt"
    path.write_bytes(GBK_TEXT.replace("\n", "\r\n").encode("gbk"))
    report = engine.add_files([path])
    assert report.added == ["xinghuo.txt"]
    answer = engine.ask("星火公司2025年的研发投入是多少？")
    assert not answer.refused and "8.8亿元" in answer.text, answer.text
    assert answer.citations[0].hit.chunk.source == "xinghuo.txt"
    assert GBK_TEXT[answer.citations[0].sentence.start:answer.citations[0].sentence.end] \
        == answer.citations[0].sentence.text


@pytest.mark.integration
def test_the_same_file_twice_is_added_once_and_then_skipped(engine, tmp_path):
    path = tmp_path / "xinghuo.txt"
    path.write_text(GBK_TEXT, encoding="utf-8")
    first = engine.add_files([path, path])  # twice in one call: embedded once
    assert first.added == ["xinghuo.txt"] and first.unchanged == ["xinghuo.txt"]
    after_first = tree_digest(engine.index_dir)
    again = engine.add_files([path])
    assert again.unchanged == ["xinghuo.txt"] and not again.changed and again.chunks_added == 0
    copy = tmp_path / "copy-of-xinghuo.txt"  # same content under another name: the content hash decides
    shutil.copyfile(path, copy)
    assert engine.add_files([copy]).unchanged == ["copy-of-xinghuo.txt"]
    assert tree_digest(engine.index_dir) == after_first


@pytest.mark.integration
def test_odd_file_names_are_stored_as_plain_one_line_names(engine, tmp_path):
    folder = tmp_path / "odd"
    (folder / "sub").mkdir(parents=True)
    names = {
        "sub/../dots.txt": "dots.txt",  # a path with ../ is read where it points; only the name is kept
        "报告 (最终版) #1; rm -rf ~ $(whoami) 😀.txt": "报告 (最终版) #1; rm -rf ~ $(whoami) 😀.txt",
        "line\nbreak\u202etxt.md": "line?break?txt.md",  # control and bidi characters shown as '?'
        os.fsdecode("年报".encode("gbk") + b".txt"): "年报.txt",  # a GBK-encoded name from an old zip
        os.fsdecode(b"\xff\xfe.txt"): "\ufffd\ufffd.txt",  # bytes that are no encoding at all
    }
    paths = []
    for i, raw in enumerate(names):
        path = folder / raw
        path.write_text(f"第{i}份文件的正文，内容各不相同。星火公司第{i}个项目的预算为{i + 1}亿元。", encoding="utf-8")
        paths.append(path)
    report = engine.add_files(paths)
    assert report.added == list(names.values())
    assert {d["source"] for d in engine.documents()} == {"meitu_ai_article.txt", *names.values()}
    reloaded = Engine.open(engine.config, engine.index_dir, embedder=engine.embedder)
    assert {d["source"] for d in reloaded.documents()} == {"meitu_ai_article.txt", *names.values()}


# --------------------------------------------------------------------------- batch file, CLI + model

@pytest.mark.integration
def test_cli_batch_reports_each_bad_line_and_answers_the_rest(real_index_dir, tmp_path, capsys):
    from rag.cli import main  # in-process: the model is already loaded, the output is the same

    batch = tmp_path / "q.jsonl"
    lines = [b"{not json", json.dumps({"id": "ok", "question": REVENUE}, ensure_ascii=False).encode(),
             '{"id": "gbk", "question": "美图"}'.encode("gbk"), b'{"id": "h", "question": "x", "history": "abc"}',
             b'{"id": "n", "question": null}', b'["a list"]', b'{"id": "e", "question": ""}']
    batch.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["ask", "--batch", str(batch), "--json", "--index-dir", str(real_index_dir)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert [r.get("id") for r in rows] == [None, "ok", None, "h", "n", None, "e"]
    assert "27" in rows[1]["answer"] and "error" not in rows[1]
    errors = [r.get("error", "") for r in rows]
    assert errors[0].startswith("line 1: ") and errors[2].startswith("line 3: ")  # bad JSON, not UTF-8
    assert 'history must be a list' in errors[3]
    assert "the question must be text, not NoneType" in errors[4]
    assert 'needs an object with "id" and "question"' in errors[5]
    assert "the question is empty" in errors[6]
