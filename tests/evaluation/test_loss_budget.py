"""scripts/loss_budget.py: where a run loses its answerable questions, read from its results and its reply file."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import loss_budget  # noqa: E402

PASSAGE = "陈荣捷，广东开平人。1994年在美国逝世。主要著作有《朱学论集》。"


def prompt(question: str, excerpts: list[str]) -> str:
    """A reply-file key as the bundled model keeps it: the answer prompt's messages."""
    blocks = "\n".join(f"[{n}] (doc#0) {text}" for n, text in enumerate(excerpts, 1))
    user = f"<excerpts>\n{blocks}\n</excerpts>\n问题 / Question: {question}\n用中文回答，一到两句话。"
    return json.dumps([[{"role": "system", "content": "…"}, {"role": "user", "content": user}], 96])


def row(qid: str, question: str, answer: str, refused: bool = False, golds=("1994年",), hits=(PASSAGE,)) -> dict:
    return {"id": qid, "question": question, "answers": list(golds), "answerable": True, "kind": "factoid",
            "answer": answer, "refused": refused, "hits": [{"text": h} for h in hits]}


@pytest.fixture()
def run(tmp_path):
    rows = [
        row("right", "陈荣捷卒于哪一年？", "1994年[1]"),
        row("near", "陈荣捷哪年逝世？", "陈荣捷于1994年在美国逝世[1]", golds=("1994年在美国匹兹堡",)),
        row("search", "陈荣捷的老师是谁？", "抱歉", refused=True, golds=("胡适",)),
        row("excerpts", "陈荣捷死于哪年？", "抱歉", refused=True),
        row("misread", "陈荣捷去世是哪一年？", "1998年[1]"),
        row("decision", "陈荣捷哪一年过世？", "抱歉", refused=True),
        row("extractive", "When did Chen Rongjie die?", "Sorry", refused=True),
        {**row("unanswerable", "陈荣捷的女儿是谁？", "抱歉", refused=True, golds=()), "answerable": False},
    ]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                                     encoding="utf-8")
    replies = [
        (prompt("陈荣捷卒于哪一年？", ["1994年在美国逝世。"]), "1994年[1]"),
        (prompt("陈荣捷死于哪年？", ["陈荣捷，广东开平人。"]), "不知道"),
        (prompt("陈荣捷去世是哪一年？", ["1994年在美国逝世。"]), "1998年[1]"),
        (prompt("陈荣捷哪一年过世？", ["1994年在美国逝世。"]), "1994年[1]"),
        # another run's prompt for the same question, with an excerpt this run's hits do not hold: not this run's
        (prompt("陈荣捷哪一年过世？", ["1994年他在匹兹堡去世。"]), "1990年"),
    ]
    path = tmp_path / "replies.jsonl"
    path.write_text("".join(json.dumps({"model": "m", "key": k, "pieces": [reply]}, ensure_ascii=False) + "\n"
                            for k, reply in replies), encoding="utf-8")
    return tmp_path / "run", path


def test_each_answerable_question_falls_in_its_category(run):
    folder, replies = run
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    found = loss_budget.prompts(replies)
    assert {r["id"]: loss_budget.category(r, found, 5) for r in rows if r["answerable"]} == {
        "right": "right", "near": "near", "search": "search", "excerpts": "excerpts", "misread": "misread",
        "decision": "decision", "extractive": "extractive"}
    assert loss_budget.budget(rows, found) == Counter({
        ("right", "answered"): 1, ("near", "answered"): 1, ("search", "refused"): 1, ("excerpts", "refused"): 1,
        ("misread", "answered"): 1, ("decision", "refused"): 1, ("extractive", "refused"): 1})


def test_the_script_prints_the_table_and_lists_a_category(run, capsys):
    folder, replies = run
    assert loss_budget.main([str(folder), str(replies), "--show", "misread"]) == 0
    out = capsys.readouterr().out
    assert "7 answerable factoid and open questions with gold answers" in out
    assert "  misread    answered    1   14.3%" in out
    assert "- misread 陈荣捷去世是哪一年？ | gold 1994年 | '1998年[1]'" in out


def test_missing_files_are_named(tmp_path):
    with pytest.raises(SystemExit, match="no such file: .*results.jsonl"):
        loss_budget.main([str(tmp_path), str(tmp_path / "replies.jsonl")])
