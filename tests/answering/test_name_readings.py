"""README step 56: a function word jieba glued onto a person's name, read off the question's anchors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rag.answering.support import anchors_missing, question_anchors, unglued


@pytest.mark.parametrize(("name", "strip", "retag"), [
    ("和宜兰", "宜兰", None),  # 和 (c) + a place: no person left
    ("曾效力", "效力", None),  # 曾 (d) + a noun
    ("由约翰", "约翰", None),  # 由 (p) + a name jieba tags nrt, not nr
    ("和望平", "望平", "望平"),  # what is left is still read as a person
    ("侯景封", "侯景封", "侯景封"),  # 封 is a classifier (q) in jieba's dictionary: not glue
    ("仁天皇", "仁天皇", "仁天皇"),  # 仁 is ng
    ("吴欣鸿", "吴欣鸿", "吴欣鸿"),  # a name untouched
    ("籍贯", "籍贯", "籍贯"),  # two characters are never cut to one
])
def test_glue_is_read_off_by_jiebas_own_tags(name, strip, retag):
    assert unglued(name, "tagged") == name
    assert unglued(name, "passage") == name  # step 60: kept whole, the passage decides its glue
    assert unglued(name, "strip") == strip
    assert unglued(name, "retag") == retag


def test_an_unknown_reading_names_the_choices():
    with pytest.raises(ValueError, match="'loose' is not one of tagged, strip, retag, passage"):
        unglued("和宜兰", "loose")


def test_the_question_anchors_under_each_reading():
    q = "新竹县和宜兰厅是在哪一国家统治台湾时设立的？"
    assert question_anchors(q, "tagged") == {"和宜兰"}
    assert question_anchors(q, "strip") == {"宜兰"}
    assert question_anchors(q, "retag") == frozenset()
    passage = "1895年6月，日本统治台湾后，于北部设台北县，辖基隆、宜兰、新竹三支厅。"
    assert anchors_missing(question_anchors(q, "tagged"), passage) == ["和宜兰"]
    assert anchors_missing(question_anchors(q, "strip"), passage) == []
    # a swapped name keeps its anchor under strip: 由穗飞 loses 由, and 穗飞 is still not in the passage (retag drops it)
    swapped = "网球选手由穗飞·山普拉斯因哪一种技术知名？"
    assert question_anchors(swapped, "strip") == {"穗飞", "普拉斯"}
    assert anchors_missing(question_anchors(swapped, "strip"), "皮特·山普拉斯以发球知名。") == ["穗飞"]


def test_study_anchors_names_rule_by_hand(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    import study_anchors as sa

    def row(kind, question, passage, right=False, refused=False):
        return {"kind": kind, "id": question, "question": question, "right": right, "refused": refused,
                "missing": [], "cited": not refused, "passage": passage, "lead": ""}

    rows = [
        row("answerable", "新竹县和宜兰厅是在哪一国家统治台湾时设立的？", "日本统治台湾后，辖基隆、宜兰、新竹三支厅。", right=True),
        row("answerable", "莱昂德罗·内托曾效力过哪些球队？", "莱昂德罗·内托曾先后效力于葡萄牙的球队。", right=True),
        row("adversarial", "网球选手由穗飞·山普拉斯因哪一种技术知名？", "皮特·山普拉斯以发球知名。"),
        row("absent", "刘备是哪一年称帝的？", "", refused=True),
    ]
    # tagged: both answerable questions are refused for 和宜兰 and 曾效力 (0 right); the swap is refused (穗飞)
    assert sa.rates(rows, True, "tagged") == {"answerable": 0.0, "adversarial": 100.0, "absent": 100.0}
    assert sa.rates(rows, True, "strip") == {"answerable": 100.0, "adversarial": 100.0, "absent": 100.0}
    # retag drops 由穗飞 as no person (穗飞 alone is not tagged nr): the swap then stands on 普拉斯, which the passage has
    assert sa.rates(rows, True, "retag") == {"answerable": 100.0, "adversarial": 0.0, "absent": 100.0}
    assert sa.choose_reading(rows) == "strip"  # balanced 100 against retag's 75 and tagged's 50
    rows[2]["passage"] = "穗飞·山普拉斯以发球知名。"  # only the glued 由穗飞 now holds the swap: strip answers it
    rows[0]["right"] = rows[1]["right"] = False  # and nothing answerable is gained
    assert sa.choose_reading(rows) == "tagged"
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert sa.main(["--choose", str(path), "--names"]) == 0
    assert "chosen: names read 'tagged'" in capsys.readouterr().out
    for r in rows:
        del r["passage"]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(SystemExit, match="has no recorded passage"):
        sa.main(["--choose", str(path), "--names"])


@pytest.mark.integration
def test_a_glued_name_no_longer_refuses_the_extractive_answer(real_engine_copy, tmp_path, monkeypatch):
    from rag.answering import support
    from tests.answering.test_extractive_anchors import ask

    doc = tmp_path / "新竹.txt"
    doc.write_text("新竹县的沿革\n\n1895年6月，日本统治台湾后，于北部设台北县，辖基隆、宜兰、新竹三支厅，8月又增设淡水支厅。"
                   "1897年，台湾总督府改设新竹县，县治设于新竹。\n", encoding="utf-8")
    real_engine_copy.add_files([doc])
    q = "新竹县和宜兰厅是在哪一国家统治台湾时设立的？"
    answer = ask(real_engine_copy, q, True)
    assert not answer.refused and "日本统治台湾后" in answer.text
    monkeypatch.setattr(support, "NAME_READING", "tagged")  # before step 56: jieba's 和宜兰 read as a person
    tagged = ask(real_engine_copy, q, True)
    assert tagged.refused and tagged.reason == "the question's 和宜兰 is not in the passage of the answer's sentence"
