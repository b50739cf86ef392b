"""The `rag` command's own decisions, without the model: flag checks and where the article is seeded."""

from __future__ import annotations

import pytest

from rag.cli import main
from rag.errors import InputError


def test_rag_eval_reports_bad_flags_in_one_line(tmp_path, capsys) -> None:
    assert main(["eval", "--limit", "0", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "error: --limit 0 must be at least 1.\n"
    assert not (tmp_path / "out").exists()


def test_rag_eval_of_a_dataset_never_adds_its_paragraphs_to_the_apps_index(tmp_path, capsys) -> None:
    from rag.config import PROJECT_ROOT

    squad = tmp_path / "set.json"
    squad.write_text('{"data": []}', encoding="utf-8")
    before = sorted(p.name for p in (PROJECT_ROOT / "index").iterdir())
    assert main(["eval", "--dataset", str(squad), "--index-dir", str(PROJECT_ROOT / "index"),
                 "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"error: --index-dir {PROJECT_ROOT / 'index'} is the app's index: evaluating {squad} would add its "
        "paragraphs to it. Leave --index-dir out (each dataset gets its own under index/eval-*) or give an empty "
        "folder.\n")
    assert sorted(p.name for p in (PROJECT_ROOT / "index").iterdir()) == before and not (tmp_path / "out").exists()


def test_rag_ask_seeds_the_article_only_into_the_default_index(tmp_path, monkeypatch) -> None:
    from rag.chat import Engine
    from rag.config import PROJECT_ROOT

    seeds: list[bool] = []

    def fake_open(config=None, index_dir=None, progress=None, seed=False, **_):
        seeds.append(seed)
        raise InputError("stop here")  # the model is not needed to see the decision

    monkeypatch.setattr(Engine, "open", staticmethod(fake_open))
    monkeypatch.chdir(PROJECT_ROOT)
    for index_dir in ("index", "./index/", str(PROJECT_ROOT / "index"), str(tmp_path / "index")):
        assert main(["ask", "美图的CFO是谁？", "--index-dir", index_dir]) == 2
    assert seeds == [True, True, True, False]


def test_rag_ask_and_eval_help_name_the_configured_default_answerer(capsys) -> None:
    """The help said "extractive" long after "auto" became the default (round 50)."""
    from rag.cli import build_parser
    from rag.config import Config

    assert Config().answerer == "auto"
    for command in ("ask", "eval"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        assert "(default: $RAG_ANSWERER or auto)" in " ".join(capsys.readouterr().out.split()), command
