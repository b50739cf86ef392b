"""scripts/annotate_surprise.py keeps each question reading by the model and the exact prompt it read (round 37): a row
whose excerpts changed is read again, the same prompt in another study file is not, and readings kept the old way (by
study file and row id, which cannot say which prompt they read) are left unused."""

from __future__ import annotations

import json

import pytest

from tests.answering.test_english_standing import write_rows
from tests.answering.test_model_answerer import _script
from tests.answering.test_stand_in_cuts import stand_in


class _Model:
    n_tokens = 0


def _fake_model(monkeypatch, annotate) -> list[str]:  # noqa: ANN001
    """The bundled model replaced: each reading is [("？", -characters in the prompt's user message)], and every
    prompt read is listed."""
    read: list[str] = []

    class Generator:
        def __init__(self, *args) -> None:  # noqa: ANN002
            pass

        def load(self) -> _Model:
            return _Model()

    def question_logprobs(llm, messages):  # noqa: ANN001, ANN202
        read.append(messages[-1]["content"])
        return [("？", -float(len(messages[-1]["content"])))]

    monkeypatch.setattr(annotate, "LlamaCppGenerator", Generator)
    monkeypatch.setattr(annotate, "_question_logprobs", question_logprobs)
    return read


def test_the_key_is_the_model_and_the_prompt():
    annotate = _script("annotate_surprise")
    bare = {**stand_in("unanswerable", -1.0), "excerpts": ["项目于2018年完工。"]}
    key = annotate.reading_key("qwen", annotate.messages_of(bare))
    assert key.startswith("qwen:") and len(key) == len("qwen:") + 24
    assert annotate.reading_key("qwen", annotate.messages_of({**bare, "id": "another"})) == key  # the id is not read
    assert annotate.reading_key("qwen", annotate.messages_of({**bare, "excerpts": ["项目于2019年完工。"]})) != key
    assert annotate.reading_key("other-model", annotate.messages_of(bare)) != key
    # step 73: a row studied with the Chinese system message is read with it, so it is another prompt and another key
    from rag.answering.prompt import SYSTEM, SYSTEM_ZH

    assert annotate.messages_of(bare)[0]["content"] == SYSTEM
    assert annotate.messages_of({**bare, "system_language": "en"}) == annotate.messages_of(bare)
    chinese = annotate.messages_of({**bare, "system_language": "question"})
    assert chinese[0]["content"] == SYSTEM_ZH and chinese[1:] == annotate.messages_of(bare)[1:]
    assert annotate.reading_key("qwen", chinese) != key


def test_a_changed_excerpt_is_read_again_and_old_keys_are_left_unused(tmp_path, monkeypatch, capsys):
    annotate = _script("annotate_surprise")
    read = _fake_model(monkeypatch, annotate)
    bare = {**stand_in("unanswerable", -1.0), "id": "A1", "question_logprobs": None, "question_prior_logprobs": None,
            "excerpts": ["项目于2018年完工。"]}
    assert annotate.wanted(bare)
    (tmp_path / "in").mkdir()
    first = write_rows(tmp_path / "in" / "study-a.jsonl", [bare])
    cache, out = tmp_path / "readings.jsonl", tmp_path / "out"
    # a reading kept the old way, by file and id, for this very row: not trusted, the row is read
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_text(json.dumps({"key": f"study-a.jsonl:{bare['id']}", "lp": [["？", 0.0]]}) + "\n", encoding="utf-8")
    assert annotate.main([str(first), "--out-dir", str(out), "--cache", str(cache), "--known", str(legacy)]) == 0
    assert "1 readings kept by study file and row id" in capsys.readouterr().out
    assert len(read) == 2  # after the excerpts, and without them (step 46's prior)
    annotated = json.loads((out / "study-a.jsonl").read_text(encoding="utf-8"))
    assert annotated["question_logprobs"] == [["？", -float(len(read[0]))]]
    assert annotated["question_prior_logprobs"] == [["？", -float(len(read[1]))]]
    # the same prompts in another study file: nothing read
    again = write_rows(tmp_path / "in" / "study-b.jsonl", [{**bare, "id": "B1"}])
    assert annotate.main([str(again), "--out-dir", str(out), "--cache", str(cache)]) == 0
    assert len(read) == 2
    # the same file and id with a new excerpt (a new ranker): read again after the excerpts; the prior (no excerpts,
    # the same question) is reused
    moved = write_rows(tmp_path / "in" / "study-a.jsonl", [{**bare, "excerpts": ["项目于2019年第二季度完工。"]}])
    assert annotate.main([str(moved), "--out-dir", str(out), "--cache", str(cache)]) == 0
    assert len(read) == 3 and "2019年第二季度" in read[2]
    kept = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines()]
    assert [k["row"] for k in kept] == [f"study-a.jsonl:{bare['id']}"] * 3
    assert len({k["key"] for k in kept}) == 3


def test_a_broken_readings_file_is_named(tmp_path, monkeypatch):
    annotate = _script("annotate_surprise")
    _fake_model(monkeypatch, annotate)
    (tmp_path / "in").mkdir()
    rows = write_rows(tmp_path / "in" / "study-a.jsonl", [{**stand_in("answerable", 4.0), "id": "A1"}])
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"key": "qwen:abc"}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"broken.jsonl:1: not a reading"):
        annotate.main([str(rows), "--out-dir", str(tmp_path / "out"), "--known", str(broken)])


def test_a_missing_known_readings_file_is_named(tmp_path, monkeypatch):
    annotate = _script("annotate_surprise")
    read = _fake_model(monkeypatch, annotate)
    (tmp_path / "in").mkdir()
    rows = write_rows(tmp_path / "in" / "study-a.jsonl", [{**stand_in("answerable", 4.0), "id": "A1"}])
    with pytest.raises(SystemExit, match=r"no such readings file \(--known\): .*question-logprobs-r\*\.jsonl"):
        annotate.main([str(rows), "--out-dir", str(tmp_path / "out"), "--known",
                       str(tmp_path / "question-logprobs-r*.jsonl")])
    assert read == [] and not (tmp_path / "out").exists()  # nothing read, nothing written
