"""A question typed in traditional characters, read in the documents' script (rag/script.py, README step 88)."""

from __future__ import annotations

import pytest

from rag.chat import Engine, in_documents_script
from rag.errors import InputError
from rag.indexer import empty_index
from rag.script import TRADITIONAL_AT, fold_to_documents, to_simplified, traditional_share


def documents(text: str):
    """(characters, writes) of documents made of `text`, as an Index gives them."""
    return frozenset(text), text.__contains__


ARTICLE = documents("美图2023年净利润3.7亿元。美图的首席执行官是吴欣鸿。")


def test_a_traditional_question_is_read_in_the_documents_simplified_characters():
    assert to_simplified("美圖去年的淨利潤是多少？") == "美图去年的净利润是多少？"
    assert fold_to_documents("美圖去年的淨利潤是多少？", *ARTICLE) == "美图去年的净利润是多少？"
    # the interrogatives too, though documents need not write them
    assert fold_to_documents("美圖的執行長是誰？", *ARTICLE) == "美图的执行长是谁？"
    assert fold_to_documents("美圖在西元幾年上市？", *ARTICLE) == "美图在西元几年上市？"
    # opencc reads phrases: 乾隆 stays, 乾燥 is 干燥
    assert fold_to_documents("乾隆年間天氣乾燥嗎？", *ARTICLE) == "乾隆年间天气干燥吗？"


def test_what_the_documents_write_stays_as_typed():
    assert fold_to_documents("美图的净利润是多少？", *ARTICLE) == "美图的净利润是多少？"  # simplified already
    # a name the documents keep in a traditional character (CMRC's simplified paragraphs write 黄霑)
    assert fold_to_documents("黄霑有哪些著名填词作品？", *documents("黄霑作词。")) == "黄霑有哪些著名填词作品？"
    # ... but a character a large corpus writes somewhere, not beside the question's neighbours, is read simplified
    assert fold_to_documents("大公报於何时停刊？", *documents("於梨华是作家。大公报停刊。")) == "大公报于何时停刊？"
    # documents in traditional characters, not read as such: a character they write beside its neighbour stays, the
    # interrogative is read simplified (step 88 alone: the mixed script step 90 removes)
    trad = documents("美圖二〇二三年的淨利潤為三點七億元。")
    assert fold_to_documents("美圖的淨利潤是多少？", *trad) == "美圖的淨利潤是多少？"
    assert fold_to_documents("美圖的淨利潤是誰公布的？", *trad) == "美圖的淨利潤是谁公布的？"
    # step 90: documents written in traditional characters read the whole question as typed
    assert fold_to_documents("美圖的淨利潤是誰公布的？", *trad, traditional=True) == "美圖的淨利潤是誰公布的？"
    assert fold_to_documents("美图的净利润是多少？", *ARTICLE, traditional=True) == "美图的净利润是多少？"
    assert fold_to_documents("What was Meitu's net profit?", *ARTICLE) == "What was Meitu's net profit?"


def test_the_engine_reads_the_question_and_the_earlier_questions_so_and_says_it(fake_engine):
    simplified = fake_engine.ask("美图2023年的总收入是多少？")
    typed = fake_engine.ask("美圖2023年的總收入是多少？")
    assert (typed.text, typed.refused) == (simplified.text, simplified.refused)
    assert [h.chunk.id for h in typed.hits] == [h.chunk.id for h in simplified.hits]
    assert typed.notice.startswith("Read in simplified characters, as the documents are written: “美图2023年的总收入是多少？”.")
    assert "simplified characters" not in simplified.notice
    # the conversation's earlier questions are read so too; an earlier answer is left as written
    history = [{"role": "user", "content": "美圖的淨利潤是多少？"}, {"role": "assistant", "content": "3.7億元"}]
    text, turns, note = in_documents_script("那總收入呢？", history, fake_engine.index)
    assert (text, note) == ("那总收入呢？", "Read in simplified characters, as the documents are written: “那总收入呢？”.")
    assert turns == [{"role": "user", "content": "美图的净利润是多少？"}, {"role": "assistant", "content": "3.7億元"}]


def test_a_bad_history_is_still_named_not_folded_away(fake_engine):
    for bad in ([{"role": "user", "content": 5}], "美圖", [["美圖"]]):
        with pytest.raises(InputError, match="history must be a list"):
            fake_engine.ask("那總收入呢？", history=bad)


def test_an_empty_index_reads_every_traditional_character_simplified(fake_embedder, fake_config, tmp_path):
    engine = Engine(fake_config, tmp_path / "index", fake_embedder, empty_index(fake_embedder))
    assert engine.index.characters == frozenset()
    assert in_documents_script("美圖是什麼？", None, engine.index) == (
        "美图是什么？", None, "Read in simplified characters, as the documents are written: “美图是什么？”.")


def test_documents_in_traditional_characters_are_read_so(fake_engine, fake_embedder, fake_config, tmp_path):
    """README step 90: a tenth or more of the documents' distinct Chinese characters in traditional forms marks them
    traditional (DRCD's paragraphs ~37%, the article 0%); a traditional question over them is read as typed."""
    assert traditional_share(frozenset("美圖淨利潤為億元")) == 5 / 8  # 圖 淨 潤 為 億
    assert traditional_share(frozenset("美图净利润abc")) == 0.0 and traditional_share(frozenset()) == 0.0
    assert TRADITIONAL_AT == 0.10
    assert fake_engine.index.traditional is False
    doc = tmp_path / "trad.txt"
    doc.write_text("美圖二〇二三年的淨利潤為三點七億元，總收入為二十七億元。\n", encoding="utf-8")
    engine = Engine(fake_config, tmp_path / "trad-index", fake_embedder, empty_index(fake_embedder))
    engine.add_files([doc])
    assert engine.index.traditional is True
    assert in_documents_script("美圖的淨利潤是誰公布的？", None, engine.index) == ("美圖的淨利潤是誰公布的？", None, "")
