"""The bundled model for real: Qwen2.5-Coder-1.5B-Instruct (the GGUF `make llm-model` builds), in-process
through llama-cpp-python, over the article indexed with the real e5 model. A handful of questions whose
answers are known, streaming, Stop, the fallback when the model is missing or too slow, and the
`rag ask --json` contract. Answers are read, not trusted: test_article_questions writes what the model
said and what the checks made of it to artifacts/model_questions.md."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rag.answering.citations import check_citations
from rag.answering.generation import Control
from rag.chat import Engine
from rag.config import Config

pytestmark = [pytest.mark.llm, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
# (question, what the answer must hold, or None: it must be refused). Plain facts of the article, and
# questions it does not answer that a small model answers anyway when nothing checks it. The paraphrase
# 美图的首席执行官是谁？ (the article says CEO) is refused since the claim cut (README, round 3): a known,
# measured cost, so it is not asserted here.
# (question, what the answer must hold or None for a refusal, which answerer writes it)
QUESTIONS = [
    # the model writes 27亿元人民币 but gives one of its tokens 0.40-0.41, at the hand-over cut (0.4 since round 21's
    # refit, README step 25; 0.6 before, step 16), so either answerer may write it; both hold the figure
    ("美图2023年的总收入是多少？", "27亿", None),
    # worded unlike the article (先是大赚1亿美元, after 一入币圈深似海): below the claim cut, kept by the reading check
    # (README steps 12 and 17: the passage around the sentence read 0.90 on the article dev split)
    ("美图炒币一开始大赚了多少？", "1亿美元", "auto"),
    # 吴欣鸿 gets 0.59 or 0.62 depending on what llama.cpp had cached (the prompt is read in other batches), so
    # either answerer may write it; both hold the name
    ("美图的CEO是谁？", "吴欣鸿", None),
    ("美图的股价今天是多少？", None, "auto"),
    ("美图有多少家线下门店？", None, "auto"),
    ("美图2022年的净利润是多少？", None, "auto"),
    # the article gives no R&D sum: the model answered 美图在AI上投入了真金白银的投入, no number for 多少, and it stood
    # until the model's own answers were type-checked (README step 82)
    ("美图在AI上投入了多少研发费用？", None, "auto"),
    # 52.8% is the growth of 影像与设计产品业务, in the sentence after the one listing 美业解决方案业务: withheld since the
    # model's answer is checked for a rival of what was asked (README step 83)
    ("美图美业解决方案业务的增速是多少？", None, "auto"),
    # 数亿份 is a number: the answer-type check refused it until it read 数/上 before a magnitude (README step 83)
    ("美图的用户每天处理多少图片和视频？", "数亿", "auto"),
]


@pytest.fixture(scope="module")
def engine(real_index_dir) -> Engine:
    # a generous timeout: on a busy shared machine one answer has taken over 60 s (the timeout itself is
    # tested below, in a process of its own)
    config = Config(llm_timeout_s=600.0)
    if not Path(config.llm_model_path).is_file():
        pytest.fail(f"{config.llm_model_path} is missing: the llm tests need the bundled model; run `make llm-model`.")
    return Engine.open(config, real_index_dir)


def test_article_questions(engine):
    lines = ["| question | model's reply | checked answer | notice | s |", "|---|---|---|---|---|"]
    failures = []
    for question, want, writer in QUESTIONS:
        pieces: list[str] = []
        answer = engine.ask(question, answerer="auto", on_token=pieces.append)
        assert check_citations(answer) == []
        assert pieces, f"{question}: the model wrote nothing"
        assert answer.answerer == (writer or answer.answerer) and answer.answerer in ("auto", "extractive"), answer.notice
        if answer.answerer == "extractive":  # handed over by the rule, not a failure of the model
            assert "The model was unsure of its answer" in answer.notice, answer.notice
        lines.append(f"| {question} | {''.join(pieces)} | {answer.text} | {answer.notice} | "
                     f"{answer.timings_ms['total'] / 1000:.1f} |")
        if want is None and not answer.refused:
            failures.append(f"{question}: answered {answer.text!r}, should be refused")
        if want is not None and (answer.refused or want not in answer.text):
            failures.append(f"{question}: {answer.text!r} lacks {want!r}")
    out = ROOT / "artifacts" / "model_questions.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert failures == []


def test_the_model_reads_whether_a_sentence_answers_a_question(engine):
    """The reading check with the bundled model (README steps 12 and 17), in the form routes.json saved, on two
    article dev questions whose readings were measured there (in context 0.90 and 0.13): the passage a
    paraphrase's answer stands on reads as answering it, a passage holding some other figure does not; the cuts
    fitted between such readings are routes.json's."""
    from rag.answering.bundled import LlamaCppGenerator
    from rag.answering.model import AUTO_POLICY
    from rag.answering.prompt import READING_WORDS, pick_messages, pick_words, reading_messages

    # (question, the supporting sentence, that sentence with its title and neighbours as model.context_of gave them in
    # the round-14 article dev study: `claim_context` of artifacts/study-article-dev-r14.jsonl)
    crypto = ("美图炒币一开始大赚了多少？", "先是大赚1亿美元,一年多之后,美图则亏损3亿元。",
              "2、九败一胜,美图没放弃过“冒险”\n一入币圈深似海,美图就像是坐起了过山车。先是大赚1亿美元,一年多之后,美图则亏损3亿元。"
              "这或许和时任美图董事长蔡文胜的性格分不开。")
    users = ("美图收购站酷花了多少钱？", "财报显示,2023年,美图月活跃用户数达2.49亿,同比增长2.6%。",
             "1、AI,怎么拯救美图?\n尤其是基于用户基数,美图有天然的AIGC基因和使用场景。财报显示,2023年,美图月活跃用户数达2.49亿,"
             "同比增长2.6%。对于美图而言,当别人还在技术层面挣扎时,美图正悄悄凭借AI驱动产品,赢得更多用户、更多收入,并跑通AI商业化。")
    in_context = AUTO_POLICY.reading_form == "context"
    reader = LlamaCppGenerator(Path(engine.config.llm_model_path), "qwen", timeout_s=600.0)
    try:
        yes, no = (reader.yes_probability(reading_messages(q, sentence, "zh", context if in_context else None),
                                          *READING_WORDS["zh"]) for q, sentence, context in (crypto, users))
        # the pick's own system message pushes the answer prompt's out of llama.cpp's cache; its kept state is put
        # back for the next reading (bundled.SystemStates), which reads exactly as before
        reader.first_token_probabilities(pick_messages("How much did Meitu first make?", [crypto[1]]), pick_words(1))
        again = reader.yes_probability(reading_messages(crypto[0], crypto[1], "zh", crypto[2] if in_context else None),
                                       *READING_WORDS["zh"])
        kept = len(reader._systems._states)
    finally:
        reader.close()
    assert (again, kept) == (pytest.approx(yes, abs=1e-6), 2)
    # on either side of the saved cuts: the waiver's (when one is saved) and the refusal cut's (when above 0)
    assert math.isinf(AUTO_POLICY.waive_claim_reading) or yes >= AUTO_POLICY.waive_claim_reading > no, (yes, no)
    assert AUTO_POLICY.min_reading <= 0.0 or no < AUTO_POLICY.min_reading <= yes, (yes, no)
    assert yes - no > 0.3, (yes, no)  # and far apart whatever the cuts


def test_the_model_reads_the_questions_tokens_only_when_asked(engine, monkeypatch):
    """README steps 38 and 42 with the bundled model: asked for, each question token comes back with its
    log-probability after the excerpts, read with the answer's prompt (no pass after the answer; the same excerpts
    asked about again are read again from the question), and a noun the excerpts never mention is far less expected
    than the one they hold; not asked for (an open question, step 38's cut off), nothing is read. The pass of step 38
    gives the same readings within llama.cpp's batch-to-batch noise."""
    from rag.answering import bundled
    from rag.answering.bundled import LlamaCppGenerator
    from rag.answering.confidence import question_surprise
    from rag.answering.prompt import QUESTION_LEAD

    passes: list[int] = []
    the_pass = bundled._question_logprobs
    monkeypatch.setattr(bundled, "_question_logprobs", lambda llm, m: passes.append(1) or the_pass(llm, m))

    def messages(question: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": "You answer questions using only the numbered excerpts."},
                {"role": "user", "content": "<excerpts>\n[1] (meitu.txt) 财报显示美图2023年总收入27亿元,净利润3.7亿元。\n"
                                            f"</excerpts>\n{QUESTION_LEAD}{question}\n用中文回答，一到两句话。"}]

    reader = LlamaCppGenerator(Path(engine.config.llm_model_path), "qwen", timeout_s=600.0, reply_cache=0)
    try:
        plain = reader.generate(messages("美图2023年的净利润是多少？"), 16, Control(read_question=True))
        swapped = reader.generate(messages("美图2023年的视网膜是多少？"), 16, Control(read_question=True))
        unread = reader.generate(messages("美图2023年的净利润是多少？"), 16, Control())
        again = reader.generate(messages("美图2023年的净利润是多少？"), 16, Control(read_question=True))
        after = the_pass(reader.load(), messages("美图2023年的净利润是多少？"))
    finally:
        reader.close()
    assert passes == []
    assert plain.text and plain.text == unread.text == again.text  # the question's rows change no answer
    assert unread.question_logprobs == ()
    assert [t for t, _ in again.question_logprobs] == [t for t, _ in plain.question_logprobs] == [t for t, _ in after]
    assert max(abs(a - b) for (_, a), (_, b) in zip(after, plain.question_logprobs, strict=True)) < 0.5
    assert len(plain.question_logprobs) >= 5 and all(lp <= 0.0 for _, lp in plain.question_logprobs)
    least_plain, least_swapped = question_surprise(plain.question_logprobs), question_surprise(swapped.question_logprobs)
    assert least_plain is not None and least_swapped is not None
    assert least_swapped[1] < least_plain[1] - 3.0, (least_plain, least_swapped)


def test_the_model_reads_how_much_the_excerpts_explain_the_question(engine):
    """README step 46 with the bundled model: the question read after the answer's prompt with its excerpts block left
    empty (LlamaCppGenerator.question_logprobs_in) gives the same tokens as the reading with the excerpts; the excerpts
    about net profit make the net-profit question more expected than without them, by more than they do a question
    about a noun they never mention; and the default answers a plain article question with the reading made and kept
    (its timing recorded, the cut passed), and the issue's follow-up (那它的净利润呢？ after the summary) unread."""
    from rag.answering.bundled import LlamaCppGenerator
    from rag.answering.confidence import question_gain
    from rag.answering.model import AUTO_POLICY
    from rag.answering.prompt import QUESTION_LEAD

    def messages(question: str, excerpts: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": "You answer questions using only the numbered excerpts."},
                {"role": "user", "content": f"<excerpts>\n{excerpts}</excerpts>\n{QUESTION_LEAD}{question}\n"
                                            "用中文回答，一到两句话。"}]

    held = "[1] (meitu.txt) 财报显示美图2023年总收入27亿元,净利润3.7亿元。\n"
    reader = LlamaCppGenerator(Path(engine.config.llm_model_path), "qwen", timeout_s=600.0, reply_cache=0)
    try:
        gains = {}
        for question in ("美图2023年的净利润是多少？", "美图2023年的视网膜是多少？"):
            with_excerpts = reader.generate(messages(question, held), 16, Control(read_question=True))
            without = reader.question_logprobs_in(messages(question, ""), Control())
            assert [t for t, _ in without] == [t for t, _ in with_excerpts.question_logprobs]
            gains[question] = question_gain(with_excerpts.question_logprobs, without)
    finally:
        reader.close()
    assert gains["美图2023年的净利润是多少？"] > gains["美图2023年的视网膜是多少？"] + 0.3, gains
    assert AUTO_POLICY.min_question_gain > -math.inf, "routes.json saves no question_gain_cut"
    answer = engine.ask("美图2023年的净利润是多少？", answerer="auto")
    assert (answer.refused, answer.answerer) == (False, "auto"), answer.notice
    assert "3.7亿" in answer.text and answer.timings_ms["question_prior"] > 0
    # the follow-up, after the summary: its question line leans on the conversation and is not cut
    history = [{"role": "user", "content": "这篇文章的主要内容是什么？"},
               {"role": "assistant", "content": engine.ask("这篇文章的主要内容是什么？", answerer="auto").text}]
    follow_up = engine.ask("那它的净利润呢？", history=history, answerer="auto")
    assert not follow_up.refused and "3.7亿" in follow_up.text, follow_up.notice
    assert "question_prior" not in follow_up.timings_ms


def test_an_english_question_is_answered_with_the_sentence_the_model_picks(engine):
    """The pick with the bundled model (README step 20), on questions measured there: the sentence holding the paying
    subscribers is picked (article dev; "none of them" 0.01); the parameter count of MiracleVision, which the article
    never gives, passes the extractive answerer's standing bar and is refused by the pick (article test; "none of
    them" 0.20 against the cut 0.15); the price of Zcool (article dev) is refused by the standing bar, before the
    model is asked."""
    from rag.answering.model import AUTO_POLICY

    assert AUTO_POLICY.pick_sentences > 0, "routes.json saves no pick"
    answer = engine.ask("How many paying subscribers did Meitu have as of December 31, 2023?", answerer="auto")
    assert (answer.refused, answer.answerer) == (False, "auto"), answer.notice
    assert "911万" in answer.text and "the model picked “" in answer.notice
    assert answer.timings_ms["pick"] > 0 and check_citations(answer) == []
    none = engine.ask("How many parameters does the MiracleVision model have?", answerer="auto")
    assert none.refused and "the model said none of them with probability" in none.reason, none.reason
    barred = engine.ask("How much did Meitu pay to acquire Zcool?", answerer="auto")
    assert barred.refused and "pick" not in barred.timings_ms, barred.reason


def test_an_english_answer_is_shown_in_the_sentences_words_with_their_english(engine):
    """Step 65's English line with the bundled model (on whether routes.json sets it or not): the bitcoins bought
    (article dev) come back as the sentence's 379.1214 with its English; for the paying subscribers the model has
    written 911,000 for 911万 (article dev, round 44), which the check refuses, and either way the answer shown holds
    the source's 911万 and never a figure the sentence lacks."""
    from dataclasses import replace

    from rag.answering.english import check_line
    from rag.answering.model import ModelAnswerer
    from rag.answering.question import Question

    auto = engine.answerer("auto")
    lining = ModelAnswerer(auto.generator, auto.extractive, replace(auto.policy, english_line=True), "auto")

    def ask(text):  # noqa: ANN001, ANN202 - as Engine.ask hands the question to the answerer
        from rag.answering.base import Evidence

        question = Question.make(text)
        found = engine.search(question, engine.index)
        return lining.run(question, list(found.hits), Evidence(engine.index, found.answer_vector, engine.embedder),
                          Control())

    bitcoins = ask("How many bitcoins did Meitu buy in March 2021?")
    assert bitcoins.answer.text.startswith("379.1214[1] (in English: "), (bitcoins.answer.text, bitcoins.english_reply)
    assert bitcoins.answer.span.text == "379.1214" and check_citations(bitcoins.answer) == []
    assert check_line(bitcoins.english_reply, bitcoins.answer.citations[0].sentence.text)[0] is not None
    paying = ask("How many paying subscribers did Meitu have as of December 31, 2023?")
    assert "911万" in paying.answer.text and "911,000" not in paying.answer.text, paying.answer.text
    assert paying.english_reply and (paying.english_why == "") == ("in English" in paying.answer.text)


def test_the_model_translates_an_english_question_for_the_search(engine):
    """The search's translation with the bundled model (README step 23; an option routes.json leaves off): the
    English question comes back as a Chinese one that keeps its date, and nothing says it failed."""
    from dataclasses import replace

    from rag.answering.generation import Control
    from rag.answering.model import ModelAnswerer
    from rag.answering.question import Question

    auto = engine.answerer("auto")
    translating = ModelAnswerer(auto.generator, auto.extractive, replace(auto.policy, translate_for_search=True), "auto")
    question = Question.make("How many paying subscribers did Meitu have as of December 31, 2023?")
    query, note, asked = translating.search_query(question, engine.index, Control())
    assert (note, asked) == ("", True) and query != question.retrieval_query
    assert any("\u4e00" <= c <= "\u9fff" for c in query) and "2023" in query, query


def test_tokens_stream_before_the_answer_and_every_sentence_is_supported(engine):
    pieces: list[str] = []
    answer = engine.ask("美图的AI产品中哪个用于商业设计？", answerer="auto", on_token=pieces.append)
    assert len(pieces) >= 2 and not answer.refused
    assert "美图设计室" in answer.text
    assert all(not s.unsupported and s.citations for s in answer.sentences)
    assert answer.generated_tokens == len(pieces)
    assert 0 < answer.timings_ms["first_token"] < answer.timings_ms["total"]


def test_stop_ends_the_generation_and_the_model_answers_the_next_question(engine):
    control = Control()
    seen = threading.Event()

    def on_token(piece: str) -> None:
        seen.set()
        control.stop.set()  # Stop at the first piece

    control.on_token = on_token
    stopped = engine.ask("美图为什么要发展AI？请详细说明。", answerer="auto", control=control)
    assert seen.is_set() and stopped.generated_tokens <= 2
    assert "Stopped" in stopped.notice
    after = engine.ask("美图2023年的净利润是多少？", answerer="auto")
    assert "3.7亿" in after.text and after.answerer == "auto"


def test_a_missing_model_gives_the_extractive_answer_with_the_fix(real_index_dir, tmp_path):
    engine = Engine.open(Config(answerer="auto", llm_model_path=str(tmp_path / "none.gguf")), real_index_dir)
    answer = engine.ask("美图2023年的总收入是多少？", answerer="auto")
    assert answer.answerer == "extractive" and "27" in answer.text
    assert answer.notice == (f"The model gave no answer (the language model file {tmp_path / 'none.gguf'} is not "
                             "installed; run `make llm-model` (or set RAG_LLM_MODEL_PATH to a GGUF file)); this is "
                             "the extractive answer.")


def test_cli_contract_with_the_model_and_past_its_timeout(real_index_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_ANSWERER": "auto"}
    cmd = [sys.executable, "-m", "rag.cli", "ask", "美图2023年的净利润是多少？", "--json", "--index-dir", str(real_index_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert (row["answerer"], row["refused"]) == ("auto", False)
    assert "3.7亿" in row["answer"] and row["citations"][0]["sentence"]
    assert row["generated_tokens"] > 0 and "first_token" in row["timings_ms"]
    assert 0.0 < row["confidence"] <= 1.0  # a factoid's confidence, from the real model's token probabilities
    slow = subprocess.run(cmd, capture_output=True, text=True, env={**env, "RAG_LLM_TIMEOUT_S": "0.01"}, timeout=300)
    assert slow.returncode == 0, slow.stderr
    row = json.loads(slow.stdout)
    assert row["answerer"] == "extractive" and "RAG_LLM_TIMEOUT_S" in row["notice"]
    assert "Traceback" not in slow.stderr


def test_stop_while_the_prompt_is_read_frees_the_model_before_the_prompt_ends():
    from rag.answering.bundled import LlamaCppGenerator

    generator = LlamaCppGenerator(Path(Config().llm_model_path), "qwen", reply_cache=0)
    long_question = "请逐条说明美图公司的影像产品、设计产品和视频产品各有哪些功能。" * 12  # ~400 prompt tokens
    messages = [{"role": "user", "content": long_question}]
    control = Control()
    generator.load()
    threading.Timer(0.5, control.stop.set).start()
    stopped = generator.generate(messages, 16, control)
    llm = generator._llm
    prompt = len(llm.tokenize(long_question.encode("utf-8"), add_bos=False))
    assert stopped.stopped and stopped.text == ""
    assert llm.n_tokens < prompt  # read in part: Stop did not wait for the whole prompt
    after = generator.generate([{"role": "user", "content": "1+1等于几？只回答数字。"}], 8)
    assert "2" in after.text and not after.stopped
    # each written token with the probability the model gave it (confidence.py), read from the decode calls
    assert "".join(t for t, _ in after.token_probs) == after.text
    assert all(0.0 < p <= 1.0 for _, p in after.token_probs) and len(after.token_probs) >= 1
    generator.close()
