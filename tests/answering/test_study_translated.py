"""Step 66's study script (README, "How auto was chosen"): its table joins each translated row with the English
route's row of the same case (study_english.py's), counts only the rows that route reads as English over Chinese text,
lets the English route's answer stand where no translation came back, and rates both by hand-checkable rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))


def write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_the_table_compares_the_translated_path_with_the_english_route(tmp_path):
    import study_translated as st

    english = write(tmp_path / "en.jsonl", [
        {"id": "a", "cross_language": True, "answer": "美图总收入27亿元。[1]", "refused": False},
        {"id": "b", "cross_language": True, "answer": "Sorry", "refused": True},
        {"id": "c", "cross_language": True, "answer": "净利润3.7亿元。[1]", "refused": False},
        {"id": "d", "cross_language": True, "answer": "Sorry", "refused": True},
        {"id": "e", "cross_language": False, "answer": "x", "refused": False},
    ])
    translated = write(tmp_path / "tr.jsonl", [
        # right both ways
        {"id": "a", "kind": "answerable", "answers": ["27亿"], "translation": "美图的收入是多少？", "answer": "27亿元[1]",
         "refused": False, "translate_s": 1.0, "answer_s": 2.0},
        # refused by the route, answered right in translation
        {"id": "b", "kind": "answerable", "answers": ["911万"], "translation": "付费用户有多少？", "answer": "911万[1]",
         "refused": False, "translate_s": 1.0, "answer_s": 4.0},
        # no translation: the route's (wrong) answer stands for it
        {"id": "c", "kind": "adversarial", "answers": [], "translation": None, "answer": "", "refused": True,
         "translate_s": 1.0, "answer_s": 0.0},
        # refused both ways
        {"id": "d", "kind": "absent", "answers": [], "translation": "美图的股价？", "answer": "抱歉", "refused": True,
         "translate_s": 2.0, "answer_s": 1.0},
        # not English over Chinese text for the route: not counted
        {"id": "e", "kind": "answerable", "answers": ["y"], "translation": "y？", "answer": "y", "refused": False,
         "translate_s": 1.0, "answer_s": 1.0},
    ])
    table = st.summary([f"{translated}:{english}"]).splitlines()
    assert table[2] == ("| tr.jsonl | 4 | 50.0 / 50.0 / 50.0 (50.0) | 100.0 / 50.0 / 0.0 (75.0) | 3 / 4 | "
                        "3.00 / 4.80 |")  # seconds 3, 5, 3: p95 interpolated, 3 + 0.9 x 2
    assert table[-1] == "balanced, the sets averaged: English route 50.00, translated 75.00"


def test_the_table_refuses_a_pair_that_does_not_join(tmp_path):
    import study_translated as st

    english = write(tmp_path / "en.jsonl", [{"id": "a", "cross_language": True, "answer": "x", "refused": False}])
    translated = write(tmp_path / "tr.jsonl", [{"id": "z", "kind": "answerable", "answers": [], "translation": None,
                                                "answer": "", "refused": True, "translate_s": 0.0, "answer_s": 0.0}])
    with pytest.raises(SystemExit, match="z has no row in .*en.jsonl; give the same cases"):
        st.summary([f"{translated}:{english}"])
    with pytest.raises(SystemExit, match="give each set as TRANSLATED.jsonl:STUDY_ENGLISH.jsonl"):
        st.summary([translated])


def test_the_english_studies_share_their_start(tmp_path, capsys):
    """study_pick.english_study, the start of study_english.py and study_translated.py: --summary prints the table
    and records nothing; without --out or --summary the user is told what to give; --dataset without --translations
    is named before any model loads."""
    from study_pick import english_study

    seen = []

    def table(files):  # noqa: ANN001, ANN202
        seen.append(files)
        return "the table"

    assert english_study(["--summary", "a.jsonl:b.jsonl"], "study_translated.py", table, {"metavar": "T:E"}) is None
    assert seen == [["a.jsonl:b.jsonl"]] and capsys.readouterr().out == "the table\n"
    assert english_study(["--summary", "a.jsonl"], "study_english.py", table, {"type": Path}) is None
    assert seen[-1] == [Path("a.jsonl")]
    with pytest.raises(SystemExit):
        english_study([], "study_english.py", table, {"type": Path})
    assert "give --out (or --summary)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        english_study(["--out", str(tmp_path / "rows.jsonl"), "--dataset", "x.json"], "study_english.py", table, {})
    assert "--dataset needs --translations" in capsys.readouterr().err
