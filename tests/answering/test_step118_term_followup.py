"""README step 118: a follow-up that is only a name or a thing and 呢 asks the earlier question about it
(question.with_earlier_term, read by Engine.ask with a notice; question.TERM_FOLLOWUP)."""

from __future__ import annotations

import pytest

import rag.answering.question as question_module
from rag.answering.question import followup_term, term_candidates, with_earlier_term


def overlap(term: str, candidates: list[str]) -> list[float]:
    """A likeness for the tests: the share of the candidate's characters that the term holds."""
    return [sum(c in term for c in cand) / len(cand) for cand in candidates]


def turns(question: str, answer: str = "1.5万枚[1]") -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@pytest.mark.parametrize(("question", "term"), [
    ("比特币呢？", "比特币"),
    ("那美图秀秀呢？", "美图秀秀"),
    ("那么 CEO 呢?", "CEO"),
    ("净利润的呢", "净利润"),
    ("2022年呢？", ""),  # a year: step 117's
    ("这个呢？", ""),  # a pronoun points back; it names nothing
    ("谁呢？", ""),  # a question word
    ("为什么呢？", ""),
    ("123呢？", ""),
    ("币呢？", ""),  # one character is too little to place
    ("比特币的价格是多少呢？", ""),  # a question of its own
    ("比特币是什么？", ""),
])
def test_only_a_term_and_ne_is_such_a_follow_up(question, term):
    assert followup_term(question) == term


def test_the_candidates_are_the_runs_of_nouns():
    question = "美图买了多少枚以太币？"
    assert [question[s:e] for s, e in term_candidates(question)] == ["美图", "以太币"]
    question = "美图的CFO是谁？"
    assert [question[s:e] for s, e in term_candidates(question)] == ["美图", "CFO"]


@pytest.mark.parametrize(("question", "earlier", "read_as"), [
    ("比特币呢？", "美图买了多少枚以太币？", "美图买了多少枚比特币？"),  # the user check's case
    ("那CEO呢？", "美图的CFO是谁？", "美图的CEO是谁？"),
    ("以太币呢？", "美图买了多少枚以太币？", ""),  # the earlier question holds it already
    ("比特币呢？", "", ""),  # nothing earlier
    ("比特币呢？", "？", ""),  # an earlier question with nothing to replace
])
def test_the_term_takes_the_place_of_the_likest_run(question, earlier, read_as):
    history = turns(earlier) if earlier else None
    assert with_earlier_term(question, history, overlap)[0] == read_as


def test_a_chain_of_follow_ups_reads_the_question_they_follow():
    chain = [*turns("美图买了多少枚以太币？"), *turns("比特币呢？", "379枚[1]"), *turns("2022年呢？", "抱歉")]
    assert with_earlier_term("狗狗币呢？", chain, overlap) == ("美图买了多少枚狗狗币？", "狗狗币")


def test_ties_go_to_the_longer_run():
    assert with_earlier_term("甲乙呢？", turns("美图的CFO是谁？"), lambda t, c: [0.0] * len(c))[0] == "美图的甲乙是谁？"


def test_the_switch_turns_it_off(monkeypatch):
    monkeypatch.setattr(question_module, "TERM_FOLLOWUP", False)
    assert with_earlier_term("比特币呢？", turns("美图买了多少枚以太币？"), overlap) == ("", "")


DOC = {"xinghai.txt": "星海科技去年买了1.5万枚以太币，总价约2210万美元。\n\n"
                      "另一方面，星海科技还持有379枚比特币，价值没有披露。\n"}
EARLIER = turns("星海科技买了多少枚以太币？")


@pytest.mark.parametrize("on", [True, False])
def test_through_the_engine_the_term_is_read_where_it_belongs(engine_over, monkeypatch, on):
    """Over a document written for this test that gives the ether count and the bitcoin count in two sentences (the
    sentence answerer, the fake config's): asked as typed, `比特币呢？` is answered with the ether sentence, the user
    check's failure; read as the earlier question about 比特币, it is answered with the bitcoin sentence, and the
    notice says how it was read."""
    monkeypatch.setattr(question_module, "TERM_FOLLOWUP", on)
    engine = engine_over(DOC)
    answer = engine.ask("比特币呢？", history=EARLIER)
    if on:
        assert (answer.refused, answer.text) == (False, "另一方面，星海科技还持有379枚比特币，价值没有披露。[1]")
        assert answer.notice == "Read as the earlier question about “比特币”: “星海科技买了多少枚比特币？”."
    else:
        assert (answer.refused, answer.text) == (False, "星海科技去年买了1.5万枚以太币，总价约2210万美元。[1]")
        assert answer.notice == ""
    same = engine.ask("以太币呢？", history=EARLIER)  # the earlier question names it already: asked as typed
    assert "Read as" not in same.notice


@pytest.mark.parametrize("beside", [True, False])
def test_an_answer_to_a_term_follow_up_must_cite_a_passage_naming_the_term(engine_over, monkeypatch, beside):
    """README step 119: `狗狗币呢？` is read as the question about 狗狗币, which the document never names; the sentence
    answerer still finds the ether sentence for it (the rewritten question's other words stand there), and the check
    refuses it, saying why. With the switch off it is shown."""
    monkeypatch.setattr(question_module, "TERM_BESIDE", beside)
    engine = engine_over(DOC)
    answer = engine.ask("狗狗币呢？", history=EARLIER)
    assert answer.notice.startswith("Read as the earlier question about “狗狗币”: “星海科技买了多少枚狗狗币？”.")
    if beside:
        assert (answer.refused, answer.reason) == (True, "the follow-up asks about “狗狗币”, which no passage the "
                                                         "answer stands on names")
        assert answer.text == "抱歉，文档中没有找到这个问题的答案。"
    else:
        assert (answer.refused, answer.text) == (False, "星海科技去年买了1.5万枚以太币，总价约2210万美元。[1]")
    named = engine.ask("比特币呢？", history=EARLIER)  # the term stands in the cited passage: not touched
    assert (named.refused, named.text) == (False, "另一方面，星海科技还持有379枚比特币，价值没有披露。[1]")
