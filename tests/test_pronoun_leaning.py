"""Step 36: a question a pronoun leans on the earlier one may lean for the search only (Config.pronoun_search_only)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from rag.answering.question import Question, points_back

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import choose_leaning as cl  # noqa: E402
import study_leaning as sl  # noqa: E402

MODEL = [{"role": "user", "content": "美图的视觉大模型叫什么？"}, {"role": "assistant", "content": "MiracleVision"}]
REVENUE = [{"role": "user", "content": "美图2023年总收入是多少？"}, {"role": "assistant", "content": "27亿元"}]


def test_points_back_is_a_pronoun_not_shortness():
    assert points_back("它的中文名叫什么？") and points_back("这个业务后来卖给了谁？") and points_back("Who founded it?")
    assert not points_back("净利润呢？")  # leans because it is short, not by a pronoun
    assert not points_back("那后来是哪一年关掉的？")  # 那 before a verb is "then", not a pronoun


def test_make_leans_a_chinese_pronoun_question_with_words_of_its_own_for_the_search_only():
    for text, history, moved in (("它的中文名叫什么？", MODEL, True), ("谁成立了它？", MODEL, False), ("它是哪一年推出的？", MODEL, True),
                                 ("他呢？", MODEL, False),  # 谁成立了它？ and 他呢？: 6 characters or fewer, leaned as before
                                 ("What is its Chinese name?", MODEL, False),  # measured on Chinese only
                                 ("净利润呢？", REVENUE, False)):  # short, no pronoun
        asked = Question.make(text, history, pronoun_search_only=True)
        earlier = history[0]["content"]
        assert (asked.previous, asked.searched_after) == (("", earlier) if moved else (earlier, "")), text
        assert Question.make(text, history) == Question.make(text, history, pronoun_search_only=False)
        assert Question.make(text, history).previous == earlier


def test_for_the_search_only_moves_the_earlier_question_to_the_search():
    asked = Question.make("它的中文名叫什么？", MODEL)
    assert (asked.previous, asked.searched_after) == ("美图的视觉大模型叫什么？", "")
    moved = asked.for_the_search_only()
    assert (moved.previous, moved.searched_after) == ("", "美图的视觉大模型叫什么？")
    assert moved.retrieval_query == asked.retrieval_query == "美图的视觉大模型叫什么？ 它的中文名叫什么？"
    assert moved.answer_query == "它的中文名叫什么？" and asked.answer_query == asked.retrieval_query
    alone = Question.make("美图的CFO是谁？", MODEL)
    assert alone.for_the_search_only() == alone  # nothing leans: nothing moves


@pytest.mark.parametrize("on", [True, False])
def test_the_engine_leans_a_pronoun_for_the_search_only_where_set(fake_engine, on):
    embedded: list[list[str]] = []
    embed = fake_engine.embedder.embed_queries
    fake_engine.embedder = type("Spy", (), {"embed_queries": lambda self, texts: embedded.append(list(texts))
                                            or embed(texts), "name": "fake-hash"})()
    fake_engine.config = fake_engine.config.with_(pronoun_search_only=on)
    answer = fake_engine.ask("它的中文名叫什么？", MODEL)
    assert answer.retrieval_query == "美图的视觉大模型叫什么？ 它的中文名叫什么？"  # the search leans either way
    # the answer's vector: the question as asked where set, the joined question otherwise
    assert embedded[-1] == (["美图的视觉大模型叫什么？ 它的中文名叫什么？", "它的中文名叫什么？"] if on
                            else ["美图的视觉大模型叫什么？ 它的中文名叫什么？"])
    # an English question's pronoun leans the answer too, as before (the choice was measured on Chinese ones)
    english = fake_engine.ask("What is its Chinese name?", MODEL)
    assert english.retrieval_query == "美图的视觉大模型叫什么？ What is its Chinese name?"
    assert embedded[-1] == ["美图的视觉大模型叫什么？ What is its Chinese name?"]
    # with step 34's gain set, a pronoun question is not checked again, nor leaned for the answer by it
    fake_engine.config = fake_engine.config.with_(followup_dense_gain=-1.0, followup_search_only=False)
    embedded.clear()
    answer = fake_engine.ask("它的中文名叫什么？", MODEL)
    assert "lean" not in answer.timings_ms
    assert embedded[-1] == (["美图的视觉大模型叫什么？ 它的中文名叫什么？", "它的中文名叫什么？"] if on
                            else ["美图的视觉大模型叫什么？ 它的中文名叫什么？"])
    fake_engine.config = fake_engine.config.with_(followup_dense_gain=float("inf"))
    # a short question without a pronoun leans the answer too, as before (`净利润多少？`: `净利润呢？` is read as the
    # earlier question about 净利润 since step 118)
    embedded.clear()
    answer = fake_engine.ask("净利润多少？", REVENUE)
    assert answer.retrieval_query == "美图2023年总收入是多少？ 净利润多少？"
    assert embedded[-1] == ["美图2023年总收入是多少？ 净利润多少？"]


def test_the_setting_from_the_environment(monkeypatch):
    from rag.config import Config

    assert Config().pronoun_search_only is True  # chosen on CMRC, held out on DRCD (README step 36)
    monkeypatch.setenv("RAG_PRONOUN_SEARCH_ONLY", "no")
    assert Config.from_env().pronoun_search_only is False


def test_study_makes_pronoun_follow_ups():
    assert sl.with_pronoun("新西兰鸲鹟分布在什么地方？", "新西兰鸲鹟") == "它分布在什么地方？"
    assert sl.with_pronoun("叶乔波获得了多少个世界冠军？", "叶乔波") == "他获得了多少个世界冠军？"
    paragraphs = [("A#0", "新西兰鸲鹟是一种鸟，分布在北岛。", [
        {"id": "a1", "question": "新西兰鸲鹟属于什么科目？", "answers": ["鸲鹟科"]},
        {"id": "a2", "question": "新西兰鸲鹟分布在什么地方？", "answers": ["北岛"]}]),
        ("B#0", "乙城在海边。", [{"id": "b1", "question": "乙城在哪里？", "answers": ["海边"]}])]
    made = [(r["kind"], r["question"]) for r in sl.conversations(paragraphs, random.Random(0), pronouns=True)]
    assert made == [("followup", "分布在什么地方？"), ("followup", "那分布在什么地方？"),
                    ("pronoun", "它分布在什么地方？"), ("same", "新西兰鸲鹟分布在什么地方？"), ("other", "乙城在哪里？")]


def test_choose_pronoun_takes_the_better_mean_and_keeps_the_old_way_on_a_tie(tmp_path):
    import json

    def rows(pronoun_right: bool) -> list[dict]:
        return [{"kind": "pronoun", "right_lexical": False, "right_pronoun": pronoun_right},
                {"kind": "pronoun", "right_lexical": True, "right_pronoun": True},
                {"kind": "same", "right_lexical": True, "right_pronoun": True},
                {"kind": "other", "right_lexical": True, "right_pronoun": False}]

    worse, tie = tmp_path / "worse.jsonl", tmp_path / "tie.jsonl"
    rows_worse = rows(True) + [{"kind": "followup", "right_lexical": True, "right_pronoun": True}]
    worse.write_text("\n".join(json.dumps(r) for r in rows_worse), encoding="utf-8")
    rows_tie = [*rows(True)[:2], {"kind": "other", "right_lexical": True, "right_pronoun": True},
                {"kind": "other", "right_lexical": True, "right_pronoun": False}]
    tie.write_text("\n".join(json.dumps(r) for r in rows_tie), encoding="utf-8")
    per = cl.pronoun_rates(rows_worse, True)
    assert per["pronoun"] == {"right": 100.0, "n": 2, "changed": 1} and per["other"]["right"] == 0.0
    assert cl.pronoun_mean(rows_worse, True) == 75.0 and cl.pronoun_mean(rows_worse, False) == 87.5
    assert cl.choose_pronoun([worse], []) is False  # the other question lost more than the pronoun gained
    # pronoun 100 against 50, other 50 against 100: means 75 each -> the answer keeps leaning
    assert cl.choose_pronoun([tie], []) is False
    gain = tmp_path / "gain.jsonl"
    gain.write_text("\n".join(json.dumps(r) for r in rows(True)[:3]), encoding="utf-8")
    assert cl.choose_pronoun([gain], []) is True
    with pytest.raises(SystemExit, match="--modes search$"):
        cl.load(gain, "right_search")
    (tmp_path / "old.jsonl").write_text(json.dumps({"kind": "same", "right_lexical": True}), encoding="utf-8")
    with pytest.raises(SystemExit, match="--modes pronoun --pronouns"):
        cl.choose_pronoun([tmp_path / "old.jsonl"], [])
