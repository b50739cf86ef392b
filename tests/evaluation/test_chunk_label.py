"""`rag eval`'s labels name the chunk sizes the documents were cut at: English text is cut at chunk_size times
latin_chunk_scale (README step 76), and the label said "chunk 300" for 1,200-character English chunks until round 50."""

from pathlib import Path

from rag.config import Config
from rag.documents import make_document
from rag.evaluation.runs import EvalRequest, chunk_label, configurations

CHINESE = make_document("zh.txt", "美图公司2023年的营收为27亿元。公司的首席执行官是吴欣鸿。")
ENGLISH = make_document("en.txt", "Meitu's revenue in 2023 was 2.7 billion yuan. Its chief executive is Wu Xinhong.")


def test_chinese_text_keeps_the_configured_size():
    assert chunk_label(Config(), [CHINESE]) == "chunk 300"


def test_english_text_names_its_scaled_size():
    assert chunk_label(Config(), [ENGLISH]) == "chunk 1200"
    assert chunk_label(Config(chunk_size=200, latin_chunk_scale=3), [ENGLISH]) == "chunk 600"


def test_both_scripts_name_both_sizes():
    assert chunk_label(Config(), [ENGLISH, CHINESE]) == "chunk 300/1200"


def test_no_documents_name_the_configured_size():
    assert chunk_label(Config(chunk_size=250), []) == "chunk 250"


def test_labels_of_a_run_keep_the_answerer_first(tmp_path: Path):
    request = EvalRequest(answerers=("auto", "extractive"))
    labels = [label for label, _, _ in configurations(request, Config(), tmp_path, [ENGLISH])]
    assert labels == ["auto, hybrid (chunk 1200)", "extractive, hybrid (chunk 1200)"]


def test_compare_labels_the_small_chunks_by_their_own_size(tmp_path: Path):
    request = EvalRequest(compare=True)
    labels = [label for label, _, _ in configurations(request, Config(), tmp_path, [CHINESE])]
    assert labels[:4] == ["hybrid (chunk 300)", "dense (chunk 300)", "bm25 (chunk 300)", "hybrid (chunk 150)"]
