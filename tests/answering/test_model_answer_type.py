"""The answer-type check on the model's own Chinese factoid answers (README, "How auto was chosen", step 82;
Policy.model_answer_type, routes.json's model_answer_type): an answer that does not show what its question asks for is
withheld like any cut's refusal, and a count read with a magnitude written after its digits (约2亿台)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answering.base import REFUSAL
from rag.answering.model import (
    DEFAULT_POLICY,
    load_model_answer_name,
    load_model_answer_type,
    load_model_rival,
)
from rag.answering.question import missing_answer_type
from rag.errors import ModelError
from tests.answering.test_model_answerer import Scripted, run

QUESTION = "美图的总收入是多少？"


@pytest.mark.parametrize(("question", "answer", "missing"), [
    ("目前全世界约有多少台机车?", "约2亿台机车。", ""),  # DRCD dev (fitting side), refused before step 82
    ("有多少名员工？", "约3.5万名员工。", ""), ("跑了多少圈？", "跑了2万圈", ""), ("有多少家门店？", "1千多家门店", ""),
    ("有多少台？", "2018年推出的手机", "a count of 台"),  # still no count of 台
    ("有多少家门店？", "月活跃用户数达2.49亿。", "a count of 家"),  # a bare 亿 is no count of 家
    # step 83: an approximate numeral, 数 or 上 before a magnitude (the user's check: refused before)
    ("美图的用户每天处理多少图片和视频？", "美图用户每天处理数亿份图片和视频。", ""),
    ("有多少家门店？", "数十家门店", ""), ("有多少名员工？", "上万名员工", ""), ("有多少人？", "上千人", ""),
    ("花了多长时间？", "数百年", ""), ("花了多少钱？", "数亿元", ""),
    ("有多少人？", "数据显示很多人", "a count of 人"), ("有多少人？", "马上就来", "a count of 人"),  # 数, 上 as words
])
def test_a_count_reads_a_magnitude_written_after_its_digits_and_an_approximate_numeral(question, answer, missing):
    assert missing_answer_type(question, answer) == missing


def test_the_models_answer_without_the_asked_value_is_withheld_only_with_the_check(fake_engine):
    reply = "美图总收入同比增长[1]。"  # supported, but no number for 是多少
    assert missing_answer_type(QUESTION, "美图总收入同比增长。") == "a number"
    kept = run(fake_engine, Scripted(reply), QUESTION).answer
    assert (kept.refused, kept.text) == (False, "美图总收入同比增长[1]。")
    checked = run(fake_engine, Scripted(reply), QUESTION, policy=replace(DEFAULT_POLICY, model_answer_type=True)).answer
    # withheld: the refusal names the sentence the reply stood on, as every withheld answer's does
    assert (checked.refused, checked.text) == (True, REFUSAL["zh"] + "最接近的一句（不是对这个问题的回答）："
                                               "“美图2023年年报显示,美图实现总收入27亿元人民币,同比增长29.3%。”[1]")
    assert checked.reason == "the question asks for a number, and the model's answer gives none"
    assert "The model's answer was withheld: the question asks for a number" in checked.notice
    # an answer that shows the number stands with the check
    shown = run(fake_engine, Scripted("美图2023年总收入27亿元[1]。"), QUESTION,
                policy=replace(DEFAULT_POLICY, model_answer_type=True)).answer
    assert (shown.refused, shown.text) == (False, "美图2023年总收入27亿元[1]。")


@pytest.mark.parametrize(("key", "load"), [("model_answer_type", load_model_answer_type),  # step 82
                                          ("model_rival", load_model_rival),  # step 83
                                          ("model_answer_name", load_model_answer_name)])  # step 84
def test_a_saved_check_switch_is_read_and_a_bad_one_named(tmp_path, key, load):
    """routes.json's switches of the checks that only refuse the model's own answer share one shape: absent or null
    leaves the Policy's default, {"check": true|false} sets it, anything else is named with its key."""
    assert load(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text(f'{{"{key}": null}}', encoding="utf-8")
    assert load(path) == {}
    for value in (True, False):
        path.write_text(f'{{"{key}": {{"check": {str(value).lower()}}}}}', encoding="utf-8")
        assert load(path) == {key: value}
    for bad in ('{"check": "yes"}', '{"check": 1}', "{}", "true", '"on"'):
        path.write_text(f'{{"{key}": {bad}}}', encoding="utf-8")
        with pytest.raises(ModelError, match=rf"{key} .*`check` must be true or false"):
            load(path)


def test_a_count_of_monthly_users_is_not_a_length_of_time(engine_over):
    """README step 106, through ModelAnswerer with the check on, over the article's sentence (the company renamed): the
    monthly users asked with 多少月活跃用户 are answered by 2.49亿; before step 106 the check read 多少月 as months."""
    sentence = "财报显示,2023年,星海月活跃用户数达2.49亿,同比增长2.6%。"
    engine = engine_over({"users.txt": sentence + "\n"})
    users = run(engine, Scripted("2.49亿[1]。"), "星海有多少月活跃用户？",
                policy=replace(DEFAULT_POLICY, model_answer_type=True)).answer
    assert (users.refused, users.text) == (False, "2.49亿[1]。")
