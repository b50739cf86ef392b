"""A document is identified by its path: two files of the same name are two documents, and a changed
one replaces only itself."""

from __future__ import annotations

from pathlib import Path

from rag.documents import read_file
from rag.indexer import identity


def test_same_name_in_two_folders_are_two_documents_and_replace_only_themselves(fake_engine, tmp_path):
    a, b = tmp_path / "a" / "readme.md", tmp_path / "b" / "readme.md"
    for path, price in ((a, 100), (b, 300)):
        path.parent.mkdir()
        path.write_text(f"产品说明\n\n{path.parent.name}号产品的价格为{price}元。", encoding="utf-8")
    report = fake_engine.add_files([a, b])
    assert report.added == ["readme.md", "readme.md"] and report.replaced == []
    a.write_text("产品说明\n\na号产品的价格为200元。", encoding="utf-8")
    report = fake_engine.add_files([a])
    assert report.replaced == ["readme.md"] and report.added == []
    texts = sorted(c.text for c in fake_engine.index.chunks if c.source == "readme.md")
    assert texts == ["a号产品的价格为200元。", "b号产品的价格为300元。"]
    paths = sorted(d.get("path") for d in fake_engine.documents() if d["source"] == "readme.md")
    assert paths == [str(a.resolve()), str(b.resolve())]


def test_identity_is_the_resolved_path_or_else_the_source(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("一段正文。", encoding="utf-8")
    doc = read_file(tmp_path / "." / "x.txt")
    assert doc.path == str(f.resolve()) and identity(doc) == str(f.resolve())
    assert identity({"source": "cmrc#3", "doc_id": "h"}) == "cmrc#3"  # QA contexts and older indexes
    assert identity({"source": "x.txt", "doc_id": "h", "path": "/p/x.txt"}) == "/p/x.txt"


def test_uploading_a_changed_file_again_replaces_it(fake_engine, tmp_path):
    from rag.uploads import add_uploads

    upload = tmp_path / "browser" / "价格.txt"
    upload.parent.mkdir()
    upload.write_text("价格表\n\n产品价格为100元。", encoding="utf-8")
    assert add_uploads(fake_engine, tmp_path / "uploads", [upload]).added == ["价格.txt"]
    upload.write_text("价格表\n\n产品价格为200元。", encoding="utf-8")
    report = add_uploads(fake_engine, tmp_path / "uploads", [upload])
    assert report.replaced == ["价格.txt"] and report.added == []
    kept = [d for d in fake_engine.documents() if d["source"] == "价格.txt"]
    assert len(kept) == 1 and kept[0]["path"] == str((tmp_path / "uploads" / "价格.txt").resolve())


def test_a_file_name_that_is_not_utf8_still_gets_a_storable_identity(tmp_path):
    import json
    import os

    from rag.documents import path_key

    raw = os.path.join(os.fsencode(tmp_path), "报告".encode("gbk") + b".txt")
    with open(raw, "wb") as f:
        f.write("正文。".encode())
    key = path_key(Path(os.fsdecode(raw)))
    assert key.endswith("\\xb1\\xa8\\xb8\\xe6.txt") and json.dumps(key, ensure_ascii=False).encode("utf-8")
