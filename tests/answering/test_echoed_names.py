"""A name the model's reply repeats from its question (README, "How auto was chosen", step 41;
SupportBar.echoed_names_required): required in the passage by the claim's name check, or left to the question's own
anchor rule; and routes.json's echoed_names read into the default's support bar."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answering.generation import Control
from rag.answering.model import DEFAULT_POLICY, ModelAnswerer, load_echoed_names
from rag.answering.support import DEFAULT_BAR, missing_requirements
from rag.errors import ModelError
from tests.answering.test_model_answerer import retrieved
from tests.answering.test_prefer_extractive import extractive_with
from tests.answering.test_question_surprise import PLAIN, Surprised

QUESTION = "修水县这一地区的森林覆盖率高达百分之多少？"
SENTENCE = "森林覆盖率49.2%，活立木蓄积量736万立方米。"  # the paragraph never names its county


def test_a_name_echoed_from_the_question_is_required_unless_the_bar_leaves_it_to_the_question():
    claim = "修水县的森林覆盖率高达49.2%。"
    # jieba reads 修水县 (a place) and 高达 (a Gundam, not "as high as") as names; the passage has neither
    assert missing_requirements(claim, SENTENCE, SENTENCE) == ["修水县", "高达"]
    assert missing_requirements(claim, SENTENCE, SENTENCE, echoed=QUESTION) == []
    # what the claim adds beyond its question is still checked: another number, another name
    assert missing_requirements("修水县的森林覆盖率高达47%。", SENTENCE, SENTENCE, echoed=QUESTION) == ["47"]
    assert missing_requirements("铜鼓县的森林覆盖率高达49.2%。", SENTENCE, SENTENCE, echoed=QUESTION) == ["铜鼓县"]
    assert DEFAULT_BAR.echoed_names_required is True


def test_the_saved_choice_is_read_into_the_default_bar(tmp_path):
    assert load_echoed_names(tmp_path / "none.json") == {}
    path = tmp_path / "routes.json"
    path.write_text('{"echoed_names": null}', encoding="utf-8")
    assert load_echoed_names(path) == {}
    path.write_text('{"echoed_names": {"required": false}}', encoding="utf-8")
    assert load_echoed_names(path)["bar"].echoed_names_required is False
    assert load_echoed_names(path)["bar"].min_overlap == DEFAULT_BAR.min_overlap  # the rest of the bar as before
    for bad in ('{"required": "no"}', "{}", "false"):
        path.write_text('{"echoed_names": ' + bad + "}", encoding="utf-8")
        with pytest.raises(ModelError, match=r"echoed_names .*`required` must be true or false"):
            load_echoed_names(path)


def test_the_answerers_check_reads_the_bar(fake_engine):
    question = "厦门的美图2023年的净利润是多少？"  # 厦门 (a place) is not in the passages
    q, hits, evidence = retrieved(fake_engine, question)

    def kept(required: bool) -> bool:
        policy = replace(DEFAULT_POLICY, bar=replace(DEFAULT_POLICY.bar, echoed_names_required=required))
        run = ModelAnswerer(Surprised("厦门的美图2023年的净利润是3.7亿元[1]", PLAIN), extractive_with(float("-inf")),
                            policy, "auto").run(q, hits, evidence, Control())
        return any(c.kept for c in run.checked)

    assert kept(False) and not kept(True)
