"""A document's lead (its first sentence) names what its later passages say 她 or she about (README step 35)."""

from __future__ import annotations

import pytest

from rag.answering.support import (
    DEFAULT_BAR,
    LEAD_CHARS,
    anchors_missing,
    best_support,
    document_lead,
    document_scope,
    missing_requirements,
    passage_text,
    question_anchors,
)
from rag.schema import Hit

# CMRC 2018 dev, DEV_94 (a biography): the third passage says 她 and never names 叶乔波
BIOGRAPHY = (
    "叶乔波（），籍贯吉林长春，前中国女子速度滑冰运动员，曾夺得世锦赛冠军和三枚奥运会奖牌，因伤病于1994年早早退役。"
    "叶乔波10岁进入长春市业余体校速滑班，12岁入选八一速滑队。16岁获全国冠军赛青年组亚军，17岁获全国青年赛全能冠军。"
    "18岁在全国速滑达标赛上为八一队首次夺得2枚金牌 、2枚银牌 、1枚铜牌 。多次打破全国纪录。"
    "1990年在第七届全国冬季运动会上获4枚金牌 ，并达到运动健将标准。1991年在世界大赛中分别获得过世界锦标赛500米冠军 、"
    "短距离速滑5项亚军 、世界杯500米冠军 、1000米亚军。1992年在第十六届冬季奥林匹克运动会上，获得1000米和500米速滑的2枚银牌。"
    "为中国在冬奥会史上实现了奖牌零的突破。同年在挪威举行的世界短距离速滑锦标赛上，获女子1000米速滑冠军，"
    "并夺得女子全能世界冠军，成为中国和亚洲第一个短距离速滑全能世界冠军；至1993年春季赛事结束，她共获得14个世界冠军，"
    "其中包括全部女子500米速滑金牌，创造了世界冰坛的“大满贯”战绩；1993年获第七届全运会女子短距离全能冠军；"
    "1994年带伤夺得第十七届冬季奥林匹克运动会女子1000米速滑铜牌；冬奥会后因伤退役。\n")
LEAD = "叶乔波（），籍贯吉林长春，前中国女子速度滑冰运动员，曾夺得世锦赛冠军和三枚奥运会奖牌，因伤病于1994年早早退役。"
ENGLISH = (
    "Ada Lovelace was an English mathematician, born in London in 1815 as the only child of Lord Byron. "
    "As a young woman she met Charles Babbage and studied his proposed mechanical computer, the Analytical Engine, "
    "for many years afterwards with great interest and care. "
    "Her notes on the machine, published in 1843, hold what is often called the first computer program, "
    "an algorithm to compute Bernoulli numbers on the machine. She died of cancer in 1852 at the age of 36. "
    "Scholars still debate how much of the published notes was her own work and how much was Babbage's, "
    "though most now credit her with the program itself.\n")


@pytest.fixture()
def engine(engine_over, fake_config):
    # the English document in 300-character passages (latin_chunk_scale 1), so that a later one lacks its subject; at
    # the default scale (step 76) a document four times as long has such passages
    return engine_over({"ye.txt": BIOGRAPHY, "ada.txt": ENGLISH}, fake_config.with_(latin_chunk_scale=1))


def passage_with(engine, text: str) -> Hit:
    """The last chunk holding `text`, as a hit."""
    chunk = [c for c in engine.index.chunks if text in c.text][-1]
    return Hit(chunk=chunk, rank=1, score=1.0)


def test_the_lead_is_the_documents_first_sentence_where_the_passage_starts_after_it(engine):
    later = passage_with(engine, "她共获得14个世界冠军")
    assert "叶乔波" not in later.chunk.text  # the case this is for
    assert document_lead(engine.index, later) == LEAD
    first = Hit(chunk=[c for c in engine.index.chunks if c.text.startswith("叶乔波")][0], rank=1, score=1.0)
    assert document_lead(engine.index, first) == ""  # the first passage holds its lead already
    she = passage_with(engine, "She died of cancer")
    assert document_lead(engine.index, she).startswith("Ada Lovelace was an English mathematician")


def test_a_name_of_the_lead_is_found_but_a_swapped_one_is_not(engine):
    later = passage_with(engine, "她共获得14个世界冠军")
    passage = later.chunk.text
    lead = document_lead(engine.index, later)
    claim = "叶乔波共获得14个世界冠军。"
    assert missing_requirements(claim, passage, passage) == ["叶乔波"]  # before: refused
    assert missing_requirements(claim, passage, passage, lead) == []
    # a name the document never holds stays missing (an adversarial question's swapped name)
    assert missing_requirements("王丽萍共获得14个世界冠军。", passage, passage, lead) == ["王丽萍"]
    # numbers are the supporting sentence's to hold, never the lead's
    assert missing_requirements("叶乔波共获得3枚奥运会奖牌。", passage, passage, lead) == ["3"]


def test_a_question_anchor_may_stand_in_the_lead_but_a_number_may_not(engine):
    later = passage_with(engine, "她共获得14个世界冠军")
    lead = document_lead(engine.index, later)
    anchors = question_anchors("叶乔波至1993年春季赛事结束，她共获得多少个世界冠军？")
    assert anchors == frozenset({"1993", "叶乔波"})
    assert anchors_missing(anchors, later.chunk.text) == ["叶乔波"]
    assert anchors_missing(anchors, later.chunk.text, lead) == []
    # a year only the lead holds is not found: 1994 is in the lead, not in this sentence
    assert anchors_missing(question_anchors("叶乔波1994年获得了什么？"), "至1993年春季赛事结束，她共获得14个世界冠军", lead) \
        == ["1994"]
    assert anchors_missing(question_anchors("王丽萍至1993年共获得多少个世界冠军？"), later.chunk.text, lead) == ["王丽萍"]


def test_best_support_reads_the_lead_so_the_claim_is_supported(engine):
    later = passage_with(engine, "她共获得14个世界冠军")
    question = "叶乔波至1993年春季赛事结束，她共获得多少个世界冠军？"
    found = best_support("叶乔波共获得14个世界冠军。", None, later, engine.index, DEFAULT_BAR, question=question)
    assert found is not None and found.supported
    assert "她共获得14个世界冠军" in found.sentence.text
    swapped = best_support("王丽萍共获得14个世界冠军。", None, later, engine.index, DEFAULT_BAR,
                           question="王丽萍至1993年春季赛事结束，她共获得多少个世界冠军？")
    assert swapped is not None and not swapped.supported


def test_an_english_passage_finds_its_subject_in_the_lead(engine):
    later = passage_with(engine, "She died of cancer")
    assert "Lovelace" not in later.chunk.text
    claim = "Ada Lovelace died in 1852."
    assert missing_requirements(claim, later.chunk.text, later.chunk.text) == ["lovelace"]  # Ada starts it
    assert missing_requirements(claim, later.chunk.text, later.chunk.text, document_lead(engine.index, later)) == []
    assert missing_requirements("Grace Hopper died in 1852.", later.chunk.text, later.chunk.text,
                                document_lead(engine.index, later)) == ["hopper"]


def test_the_model_answerer_keeps_a_reply_whose_subject_only_the_lead_names(engine):
    """Through ModelAnswerer: the reply about the biography's third passage is kept and cited there; before step 35
    its 叶乔波 (the claim's name and the question's anchor) was missing and the answer was a refusal."""
    from rag.answering.base import Evidence
    from rag.answering.extractive import ExtractiveAnswerer
    from rag.answering.generation import Control
    from rag.answering.model import DEFAULT_POLICY, ModelAnswerer, check_reply
    from rag.answering.question import Question
    from tests.answering.test_model_answerer import Scripted

    later = passage_with(engine, "她共获得14个世界冠军")
    question = Question.make("叶乔波至1993年春季赛事结束，她共获得多少个世界冠军？")
    evidence = Evidence(engine.index, engine.embedder.embed_queries([question.text])[0], engine.embedder)
    outcome = ModelAnswerer(Scripted("叶乔波共获得", "14个世界冠军[1]。"), ExtractiveAnswerer(), DEFAULT_POLICY,
                            "model").run(question, [later], evidence, Control())
    assert not outcome.answer.refused
    assert outcome.answer.text.startswith("叶乔波共获得14个世界冠军[1]")
    assert "她共获得14个世界冠军" in outcome.answer.citations[0].sentence.text
    (checked,) = check_reply("叶乔波共获得14个世界冠军[1]。", question, outcome.excerpts, evidence, DEFAULT_POLICY.bar)
    assert checked.kept and checked.missing == ()
    # the same reply to a question about someone the document never names is refused
    other = Question.make("王丽萍至1993年春季赛事结束，她共获得多少个世界冠军？")
    refused = ModelAnswerer(Scripted("王丽萍共获得", "14个世界冠军[1]。"), ExtractiveAnswerer(), DEFAULT_POLICY,
                            "model").run(other, [later], evidence, Control())
    assert refused.answer.refused


def test_the_scope_of_the_question_words_is_the_passage_and_its_lead(engine):
    later = passage_with(engine, "她共获得14个世界冠军")
    assert document_scope(engine.index, later) == f"{passage_text(later)}\n{LEAD}"
    first = Hit(chunk=[c for c in engine.index.chunks if c.text.startswith("叶乔波")][0], rank=1, score=1.0)
    assert document_scope(engine.index, first) == passage_text(first)


def test_a_lead_without_a_full_stop_is_cut(tmp_path, fake_embedder, fake_config):
    from rag.chat import Engine
    from rag.indexer import empty_index

    # a first line with no sentence end: the "sentence" runs on; only its start counts as the lead
    text = "某公司年度报告 " + "收入 利润 成本 " * 60 + "\n" + "她说今年的收入增长很快。" * 40 + "\n"
    (tmp_path / "r.txt").write_text(text, encoding="utf-8")
    eng = Engine(fake_config, tmp_path / "index", fake_embedder, empty_index(fake_embedder))
    eng.add_files([tmp_path / "r.txt"])
    last = Hit(chunk=eng.index.chunks[-1], rank=1, score=1.0)
    lead = document_lead(eng.index, last)
    assert lead.startswith("某公司年度报告") and len(lead) == LEAD_CHARS
