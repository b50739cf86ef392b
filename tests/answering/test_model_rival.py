"""A supporting sentence about a rival of the question's subject (README, "How auto was chosen", step 83;
rival.rival_subject, Policy.model_rival, routes.json's model_rival): the model's own Chinese factoid answer is withheld
where the sentence it stands on writes the question's head noun after another modifier, the question's phrase being
written elsewhere in what the model read."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answering.model import DEFAULT_POLICY
from rag.answering.rival import noun_phrases, rival_subject, tagged
from tests.answering.test_model_answerer import Scripted, run

# the article (the user's check that found step 83): the growth asked of one business, the sentence giving another's
LISTED = "从业务来看,美图的核心业务分别为影像与设计产品业务、美业解决方案业务和广告业务。"
GROWTH = "其中,2023年与AI关联度最高的美图影像与设计产品业务的收入为13.27亿,同比增长52.8%,远高于其他业务增速。"


def test_the_question_and_the_sentence_are_read_as_modifier_and_head():
    assert noun_phrases(tagged("美图美业解决方案业务的增速是多少？")) == [(0, "美图美业", "解决方案"), (1, "解决方案", "业务")]
    assert noun_phrases(tagged("嘉兴南站建筑总面积是多少？")) == [(0, "嘉兴", "南站"), (1, "南站", "建筑"), (2, "建筑", "总面积")]


@pytest.mark.parametrize(("question", "sentence", "shown", "rival"), [
    # the user's check: the phrase asked stands in the sentence before, the sentence gives another 业务's growth
    ("美图美业解决方案业务的增速是多少？", GROWTH, LISTED + GROWTH, ("解决方案业务", "产品业务")),
    # the pool's one (DRCD dev c, an adversarial question): the sentence's 指挥部 is another one
    ("上海铁路新客站工程指挥部的总指挥是谁？", "1983年10月，市政府调整指挥部成员，由上海铁路局等4人担任指挥部的指挥。",
     "上海铁路新客站工程指挥部成立。1983年10月，市政府调整指挥部成员，由上海铁路局等4人担任指挥部的指挥。",
     ("工程指挥部", "调整指挥部")),
    # what was asked is written nowhere else in what the model read: not this check's case (the anchors' and meaning's)
    ("美图美业解决方案业务的增速是多少？", GROWTH, GROWTH, None),
    # the sentence itself holds the question's modifier: it is about what was asked
    ("美图影像与设计产品业务的增速是多少？", GROWTH, LISTED + GROWTH, None),
    # after an interrogative the phrase is the kind of the answer (哪个历史时期 answered by 日治时期), not its subject
    ("嘉南大圳兴建于台湾的哪个历史时期?", "翌年，开始台湾日治时期极重要的水利工程嘉南大圳。",
     "台湾的历史时期有清治、日治。翌年，开始台湾日治时期极重要的水利工程嘉南大圳。", None),
    # a title before a name the sentence holds: the person is pinned, the title's other wording is no rival
    ("卢安达总统保罗·卡加梅是在哪一年开始任职的?", "现任总统是保罗·卡加梅，于2000年开始就职。",
     "卢安达总统保罗·卡加梅。现任总统是保罗·卡加梅，于2000年开始就职。", None),
    # a pronoun before the head is no rival
    ("张三毕业于哪所大学？", "他毕业于北京大学。", "张三毕业于北京大学。他毕业于北京大学。", None),
])
def test_a_rival_is_named_only_where_the_sentence_speaks_of_another(question, sentence, shown, rival):
    assert rival_subject(question, sentence, shown) == rival


RAIL = "1993年，该公司与德国国营铁路合并，成立德国铁路股份公司。"
RAIL_SHOWN = "德国联邦铁路成立于1949年。" + RAIL


@pytest.mark.parametrize(("question", "answer", "rival"), [
    # README step 87 (round 54, from DRCD dev gold answers): a question asking a name, answered by the rival itself
    ("德国联邦铁路与什么公司在1993年合并？", "德国国营铁路", None),
    ("德国联邦铁路与什么公司在1993年合并？", "", ("德国联邦铁路", "国营铁路")),  # no answer given: read as before
    # a question asking a value: a rival the answer writes is still a rival (the value may belong to it)
    ("德国联邦铁路在哪一年合并？", "德国国营铁路在1993年合并", ("德国联邦铁路", "国营铁路")),
])
def test_a_rival_the_answer_names_as_its_answer_is_no_rival(question, answer, rival):
    assert rival_subject(question, RAIL, RAIL_SHOWN, answer) == rival


def test_the_models_answer_about_a_rival_is_withheld_only_with_the_check(engine_over):
    engine = engine_over({"business.txt": "星海公司的核心业务分别为影像设计业务、美业方案业务和广告业务。"
                                          "2023年,影像设计业务的收入同比增长52.8%,远高于其他业务。\n"})
    question, reply = "星海公司美业方案业务的增速是多少？", "同比增长52.8%[1]。"
    kept = run(engine, Scripted(reply), question).answer
    assert (kept.refused, kept.text) == (False, "同比增长52.8%[1]。")
    checked = run(engine, Scripted(reply), question, policy=replace(DEFAULT_POLICY, model_rival=True)).answer
    assert checked.refused
    assert checked.reason == ("the question asks about 方案业务, and the sentence the model's answer stands on speaks of "
                              "设计业务: the value may belong to that instead")
    assert "The model's answer was withheld: the question asks about 方案业务" in checked.notice
    # the same reply to the business the sentence is about stands with the check
    own = run(engine, Scripted(reply), "星海公司影像设计业务的增速是多少？",
              policy=replace(DEFAULT_POLICY, model_rival=True)).answer
    assert (own.refused, own.text) == (False, "同比增长52.8%[1]。")


def test_study_model_records_the_defaults_answers_with_the_routes_given(tmp_path):
    """`study_model.py --auto-routes` records the answers as the default gives them with that routes.json, so a verdict
    simulated by choose_policy.py can be checked against the product (step 83's one pooled row was, both ways)."""
    import argparse
    import json

    from rag.answering.model import ROUTES_FILE
    from tests.answering.test_model_answerer import _script

    sm = _script("study_model")
    options = {"top_sentences": DEFAULT_POLICY.top_sentences, "excerpt_chars": 200, "excerpt_fill": "sentences",
               "excerpt_ranker": DEFAULT_POLICY.excerpt_ranker, "examples": DEFAULT_POLICY.prompt_examples,
               "system_language": DEFAULT_POLICY.system_language, "echoed_names_free": False}
    model = sm.study_policy(argparse.Namespace(auto_routes=None, **options))
    assert (model.model_rival, model.min_claim_coverage, model.max_excerpt_chars) == (False, 0.0, 200)
    saved = json.loads(ROUTES_FILE.read_text(encoding="utf-8"))
    off = tmp_path / "routes.json"
    off.write_text(json.dumps({**saved, "model_rival": None}), encoding="utf-8")
    shipped = sm.study_policy(argparse.Namespace(auto_routes=ROUTES_FILE, **options))
    without = sm.study_policy(argparse.Namespace(auto_routes=off, **options))
    assert (shipped.model_rival, without.model_rival) == (True, False)
    assert shipped.min_claim_coverage == without.min_claim_coverage == saved["claim"]["min_claim_coverage"]
    assert (shipped.excerpt_fill, shipped.max_excerpt_chars) == ("sentences", 200)
