"""scripts/drcd_simplified.py: a DRCD file in simplified characters for `rag eval --dataset` (round 50)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from drcd_simplified import main, simplified  # noqa: E402

DATA = {"version": "1.3", "data": [
    {"title": "電腦", "paragraphs": [
        {"context": "電腦發明於1946年。", "qas": [{"id": "a-1", "question": "電腦何時發明?",
                                               "answers": [{"text": "1946年", "answer_start": 5}]}]},
        {"context": "第二段。", "qas": [{"id": "a-2", "question": "二?", "answers": [{"text": "二", "answer_start": 1}]},
                                      {"id": "a-3", "question": "三?", "answers": [{"text": "段", "answer_start": 2}]}]}]},
    {"title": "臺灣", "paragraphs": [
        {"context": "臺灣在東亞。", "qas": [{"id": "b-1", "question": "臺灣在哪?",
                                         "answers": [{"text": "東亞", "answer_start": 3}]}]}]}]}


def test_paragraphs_after_skip_until_the_questions_are_taken():
    out = simplified(DATA, skip=1, questions=2, convert=str.upper)
    assert [a["title"] for a in out["data"]] == ["電腦"]  # whole paragraphs: 2 questions reached in the second
    assert [q["id"] for a in out["data"] for p in a["paragraphs"] for q in p["qas"]] == ["a-2", "a-3"]
    assert out["version"] == "1.3-t2s-skip1"


def test_the_script_converts_with_opencc(tmp_path):
    src, dst = tmp_path / "drcd.json", tmp_path / "out.json"
    src.write_text(json.dumps(DATA, ensure_ascii=False), encoding="utf-8")
    assert main([str(src), "--skip", "0", "--questions", "10", "--out", str(dst)]) == 0
    out = json.loads(dst.read_text(encoding="utf-8"))
    assert [a["title"] for a in out["data"]] == ["电脑", "电脑", "台湾"]
    first = out["data"][0]["paragraphs"][0]
    assert first["context"] == "电脑发明于1946年。"
    assert first["qas"][0]["question"] == "电脑何时发明?"
    assert first["qas"][0]["answers"] == [{"text": "1946年", "answer_start": 5}]
    assert out["data"][2]["paragraphs"][0]["qas"][0]["answers"][0]["text"] == "东亚"


def test_a_file_that_is_not_squad_gets_one_line(tmp_path, capsys):
    for text in ("not json", "[1, 2]", '{"data": [{"paragraphs": [{"qas": []}]}]}'):  # the last lacks a context
        bad = tmp_path / "bad.json"
        bad.write_text(text, encoding="utf-8")
        assert main([str(bad), "--skip", "0", "--out", str(tmp_path / "o.json")]) == 2
        assert capsys.readouterr().err.startswith(f"error: {bad} is not a readable SQuAD-format JSON file ("), text
    assert not (tmp_path / "o.json").exists()


def test_an_out_path_in_a_missing_folder_gets_one_line(tmp_path, capsys):
    src = tmp_path / "drcd.json"
    src.write_text(json.dumps(DATA, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "no" / "such" / "out.json"
    assert main([str(src), "--skip", "0", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot write {out} (")
