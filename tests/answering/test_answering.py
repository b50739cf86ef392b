"""The answering package's pure parts: question shapes, span candidates, list positions, the fitted
model file, facts scoring. Text here comes from CMRC/DRCD-style paragraphs and an English report as well
as the article, so no rule is checked only on the text it was written for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.answering.decision import MODEL_FILE, SCHEMAS, LinearModel, load_models
from rag.answering.question import Question, answer_shape, entity_of, wanted_type
from rag.answering.spans import SPAN_FEATURES, list_position, span_candidates, split_items
from rag.answering.text import MONEY, PERCENT, TIME, char_grams
from rag.errors import InputError, ModelError
from rag.evaluation.metrics import facts_found, facts_ok


@pytest.mark.parametrize(("question", "shape"), [
    ("这篇文章的主要观点是什么？", "summary"),
    ("请概括一下这篇报道", "summary"),
    ("Summarize the document.", "summary"),
    ("What is this report about?", "summary"),
    ("颜劲良是谁？", "entity"),
    ("什么是量子计算？", "entity"),
    ("Who is Ada Lovelace?", "entity"),
    ("为什么恐龙灭绝了？", "open"),
    ("这家公司有哪些产品？", "open"),
    ("How does photosynthesis work?", "open"),
    ("美图的CFO是谁？", "factoid"),
    ("长城有多长？", "factoid"),
    ("What was the company's revenue in 2016?", "factoid"),
    ("In which year did the war end?", "factoid"),
])
def test_answer_shape(question: str, shape: str) -> None:
    assert answer_shape(question) == shape


@pytest.mark.parametrize(("question", "want"), [
    ("秦始皇是哪一年统一六国的？", "time"),
    ("When did Apple go public?", "time"),
    ("利润同比增长了多少？", "percent"),
    ("这座桥有多长？", "number"),
    ("How many people live in Oslo?", "number"),
    ("《红楼梦》的作者是谁？", "person"),
    ("固始站位于哪里？", "place"),
    ("这种鸟主要吃什么？", "thing"),
    ("Describe it", "other"),
])
def test_wanted_type(question: str, want: str) -> None:
    assert wanted_type(question) == want


def test_entity_of() -> None:
    assert entity_of("颜劲良是谁？") == "颜劲良"
    assert entity_of("什么是AIGC？") == "AIGC"
    assert entity_of("Who is Ada Lovelace?") == "Ada Lovelace"
    assert entity_of("What was Meitu's revenue in 2023?") == ""  # a factoid, not "what is <Name>"
    assert entity_of("美图的CFO是谁？") == ""  # 的: a property of something, asked as a factoid


def test_question_followup_and_history_errors() -> None:
    history = [{"role": "user", "content": "美图的CFO是谁？"}, {"role": "assistant", "content": "颜劲良[1]"}]
    q = Question.make("他对毛利率说了什么？", history)
    assert q.previous == "美图的CFO是谁？"
    assert q.retrieval_query == "美图的CFO是谁？ 他对毛利率说了什么？"
    assert Question.make("美图2023年的总收入是多少？", history).previous == ""
    # a summary question names nothing to ask about again: the follow-up stands on its own (the example)
    summary = [{"role": "user", "content": "这篇文章的主要内容是什么？"}, {"role": "assistant", "content": "美图……[1]"}]
    assert Question.make("那它的净利润呢？", summary).retrieval_query == "那它的净利润呢？"
    assert Question.make("Its net profit?", [{"role": "user", "content": "Summarize the article."}]).previous == ""
    # a summary of something the question names is leaned on as before
    said = [{"role": "user", "content": "吴欣鸿在发布会上讲了什么？"}, {"role": "assistant", "content": "……[1]"}]
    assert Question.make("他提到AI了吗？", said).previous == "吴欣鸿在发布会上讲了什么？"
    with pytest.raises(InputError, match="history must be a list"):
        Question.make("他是谁？", "美图的CFO是谁？")  # type: ignore[arg-type]


def test_type_patterns_read_english_and_chinese() -> None:
    assert TIME.search("The company went public in 2016.")
    assert TIME.search("2016年,美图登陆资本市场")
    assert MONEY.search("revenue of $2.7 billion")
    assert MONEY.search("总收入27亿元")
    assert PERCENT.search("grew 29.3% year on year")
    assert not TIME.search("it sold 911 units")


def test_char_grams() -> None:
    assert char_grams("毛利率") == {"毛利", "利率"}
    assert char_grams("利润率") & char_grams("毛利率") == set()
    assert char_grams("Revenue of 27 yuan") == {"revenue", "27", "yuan"}


def test_split_items_keeps_inner_yu() -> None:
    assert split_items("影像与设计产品业务、美业解决方案业务和广告业务") == ["影像与设计产品业务", "美业解决方案业务", "广告业务"]
    assert split_items("2210万美元和1790万美元") == ["2210万美元", "1790万美元"]
    assert split_items("apples, pears and plums") == ["apples", " pears ", " plums"]


def test_list_position_on_other_texts() -> None:
    # a CMRC-style sentence pair: names first, then "分别为" values in the same order
    context = "该校设有文学院、理学院和工学院三个学院。"
    sentence = "三个学院的学生人数分别为1200人、950人和1830人。"
    assert list_position("理学院有多少学生？", sentence, context) == 1
    assert list_position("工学院有多少学生？", sentence, context) == 2
    assert list_position("学校一共有多少学生？", sentence, context) is None  # no item named: no guess
    # two names before three items: the names are not what 分别 pairs the items with (the article's sentence pair)
    assert list_position("净利润呢？", "从业务来看,美图的核心业务分别为影像与设计产品业务、美业解决方案业务和广告业务。",
                         "美图总收入与净利润快速增长的背后,离不开AI的助力。") is None
    assert list_position("文学院呢？", "学生人数分别为1200人和950人。", "该校设有文学院、理学院和工学院。") is None
    # a clause after the list is not an item of it
    assert list_position("理学院的学生有多少？", "文学院和理学院的学生分别为1200人、950人，均创新高。", "") == 1


def test_span_candidates_hold_the_answers() -> None:
    sentence = "《长眠不醒》是美国作家雷蒙·钱德勒于1939年出版的小说，销量超过200万册。"
    texts = {s.text for s in span_candidates("《长眠不醒》的作者是谁？", "person", sentence, 0.0)}
    assert {"雷蒙·钱德勒", "1939年", "200万册", "《长眠不醒》"} <= texts
    for s in span_candidates("《长眠不醒》的作者是谁？", "person", sentence, 0.0):
        assert sentence[s.start:s.end] == s.text
        assert s.features.shape == (len(SPAN_FEATURES),)
    english = "The firm reported revenue of $2.7 billion in 2016, up 29.3% from a year earlier."
    texts = {s.text for s in span_candidates("How much revenue did the firm report?", "number", english, 0.0)}
    assert any("2.7" in t for t in texts) and any("2016" in t for t in texts)


def test_saved_models_match_their_schema() -> None:
    models = load_models()
    for name in ("sentence", "span", "answer"):
        model = getattr(models, name)
        assert model.features == SCHEMAS[name]
        assert model.weights.shape == (len(SCHEMAS[name]),)
        assert np.isfinite(model.weights).all() and np.all(model.scale > 0)
    assert "drcd" in models.meta["fitted_on"].lower()


def test_a_model_with_other_features_is_refused(tmp_path) -> None:
    raw = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    raw["span"]["features"] = raw["span"]["features"][:-1]
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelError, match="refit it with"):
        load_models(bad)
    with pytest.raises(ModelError, match="cannot read"):
        load_models(tmp_path / "missing.json")


def test_linear_model_logits_by_hand() -> None:
    m = LinearModel(("a", "b"), np.array([1.0, 0.0]), np.array([2.0, 1.0]), np.array([0.5, -1.0]), 0.25)
    # ((3-1)/2)*0.5 + (2-0)/1*(-1) + 0.25 = 0.5 - 2 + 0.25
    assert m.logits(np.array([3.0, 2.0]))[0] == pytest.approx(-1.25)


def test_facts_scoring() -> None:
    groups = [["CFO", "首席财务官"], ["颜劲良"], ["70%"]]
    assert facts_found("美图CFO颜劲良表示[1]", groups) == 2
    assert facts_ok("美图CFO颜劲良表示[1]", groups, 2)
    assert not facts_ok("美图CFO颜劲良表示[1]", groups, 3)
    assert not facts_ok("anything", [], 0)
    assert facts_found("毛利率在70%-75%之间", groups) == 1
