"""A time or number alone for a question that asks a name (README, "How auto was chosen", step 84;
question.only_value_for_name, Policy.model_answer_name, routes.json's model_answer_name): the model's own Chinese factoid
answer to a question asking a person, place or thing (and no time or quantity) is withheld where what it says beyond its
question is a time or number and nothing else."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answering.model import DEFAULT_POLICY
from rag.answering.question import only_value_for_name
from rag.answering.support import beyond_text
from tests.answering.test_model_answerer import Scripted, run


@pytest.mark.parametrize(("question", "answer", "asked"), [
    # the pool's wrong answers that led to the check (DRCD; the first two now handed over before it, the last two the
    # ones it refuses on the fitting files: adversarial questions, 哪年 and 世纪 swapped for 哪里 and 气象; the third,
    # 哪次集会 answered 1946年, is left alone since a year can name an occurrence: below)
    ("自由印度临时政府是何人建立的?", "自由印度临时政府是1945年建立的。", "a person"),
    ("位于沃尔普斯韦德的艺术家殖民地是谁建立的？", "艺术家殖民地是1895年建立的。", "a person"),
    ("阿里不哥是在哪里向忽必烈投降的？", "阿里不哥是在1264年8月21日向忽必烈投降的。", "a name"),
    ("《民法大全》于哪一个气象完成?", "《民法大全》于6世纪完成。", "a name"),
    # a name, or a name beside the year, answers it
    ("位于沃尔普斯韦德的艺术家殖民地是谁建立的？", "1895年，海因利希・弗格勒建立了艺术家殖民地。", ""),
    ("美图的创始人是谁？", "吴欣鸿[1]", ""),
    # a question asking a time, however written (the pool's 什么时后 for 什么时候), a time-like noun, or a quantity
    ("北欧诺曼人自什么时后开始不断地入侵西法兰克王国?", "北欧诺曼人自9世纪开始不断地入侵西法兰克王国。", ""),
    ("这座城是在哪个历史时期兴建的？", "1950年代", ""),
    ("美图2023年的总收入是多少？", "27亿元", ""),
    ("Wink在视频剪辑赛道排第几？", "第三名", ""),
    # a thing written in digits
    ("美图的股票代码是什么？", "1357", ""),
    # a score is no bare number
    ("哪一队赢了？", "3比2", ""),
    # refinements from DRCD dev's own gold answers (fitting data), each of which the first definition would have refused:
    # a numeral that is part of a name, the word after it being the question's or the numeral inside one word
    ("上海北站因为哪一场事变的战火波及遭到破坏?", "一二八事变", ""),
    ("等容收缩期的压力会造成三尖瓣以及哪一个构造的关闭?", "二尖瓣", ""),
    ("巴西最后凭PK大战击败义大利是在哪次的世界杯?", "1994年世界杯", ""),
    # an occurrence (a year names one), a month asked as 月份, a measure
    ("巴西再次主办世界杯是在哪次的世界杯?", "2014年", ""),
    ("「社团法人北海道阿伊努协会」是在哪次集会上创立的？", "1946年", ""),
    ("大兴西瓜节于每年的哪一个月份开始举办?", "5月", ""),
    ("中山市的捷达计程车在什么距离内每公里收费的钱会比2.60少？", "10公里", ""),
])
def test_a_time_or_number_alone_is_named_only_for_a_question_asking_a_name(question, answer, asked):
    assert only_value_for_name(question, answer.replace("[1]", "")) == asked


def test_what_the_answer_says_beyond_its_question():
    assert beyond_text("自由印度临时政府是1945年建立的。", "自由印度临时政府是何人建立的?") == "1945年"
    assert beyond_text("美图的创始人是吴欣鸿。", "美图的创始人是谁？") == "吴欣鸿"


def test_the_models_year_for_a_person_is_withheld_only_with_the_check(engine_over):
    engine = engine_over({"colony.txt": "1895年，画家海因利希在星海镇建立了艺术家聚落。聚落后来成为博物馆。\n"})
    question, reply = "星海镇的艺术家聚落是谁建立的？", "1895年[1]。"
    kept = run(engine, Scripted(reply), question).answer
    assert (kept.refused, kept.text) == (False, "1895年[1]。")
    checked = run(engine, Scripted(reply), question, policy=replace(DEFAULT_POLICY, model_answer_name=True)).answer
    assert checked.refused
    assert checked.reason == "the question asks for a person, and the model's answer gives only a time or a number"
    assert "The model's answer was withheld: the question asks for a person" in checked.notice
    # the person's name stands with the check
    named = run(engine, Scripted("海因利希[1]。"), question, policy=replace(DEFAULT_POLICY, model_answer_name=True)).answer
    assert (named.refused, named.text) == (False, "海因利希[1]。")
    # and the year for the question that asks it
    year = run(engine, Scripted(reply), "星海镇的艺术家聚落是哪一年建立的？",
               policy=replace(DEFAULT_POLICY, model_answer_name=True)).answer
    assert (year.refused, year.text) == (False, "1895年[1]。")


def test_gold_scan_reads_the_checks_on_gold_answers(tmp_path, capsys):
    """scripts/gold_scan.py: steps 24, 82 and 84 read on a set's gold answers (the round-53 way of finding a check's false
    positives; step 24 reads the gold's sentence, as the extractive answer shows it); a gold that shows what its question
    asks for is left alone (a bare count, a year asked 西元几年: README step 86), and a file that is not SQuAD-format is
    named."""
    import json

    from tests.answering.test_model_answerer import _script

    gs = _script("gold_scan")
    context = "星海镇的艺术家聚落建于1895年。聚落共有22条街道。画家海因利希建立了它。"
    data = {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": "a", "question": "星海镇的艺术家聚落是谁建立的？", "answers": [{"text": "1895年", "answer_start": 11}]},
        {"id": "b", "question": "聚落有多少条街道？", "answers": [{"text": "22", "answer_start": 20}]},
        {"id": "c", "question": "星海镇的艺术家聚落是西元几年建立的？", "answers": [{"text": "1895年", "answer_start": 11}]},
        {"id": "d", "question": "修建聚落的街道花了多少钱？", "answers": [{"text": "22条", "answer_start": 20}]},
    ]}]}]}
    n, fires = gs.scan(data)
    assert n == 4
    assert fires["84"] == [("星海镇的艺术家聚落是谁建立的？", "1895年", "a person")]
    assert fires["82"] == [("修建聚落的街道花了多少钱？", "22条", "an amount of money")]
    assert fires["24"] == [("修建聚落的街道花了多少钱？", "聚落共有22条街道。", "an amount of money")]
    assert fires["83"] == []
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert gs.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "step 84: 1 of 4 gold answers would be withheld" in out
    assert "step 82: 1 of 4 gold answers would be withheld" in out
    path.write_text("[]", encoding="utf-8")
    assert gs.main([str(path)]) == 2
    assert "is not a readable SQuAD-format JSON file" in capsys.readouterr().err
