"""The whole path with a deterministic fake embedder: index, save, load, ask, add, refuse."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.citations import check_citations
from rag.answering.question import Question
from rag.chat import Engine, clean_question
from rag.config import Config
from rag.errors import IndexMismatchError, IndexMissingError, InputError
from rag.store import load_index
from tests.conftest import ARTICLE


def resolve_followup(question, history):
    return Question.make(question, history).retrieval_query


def test_index_round_trip_gives_the_same_results(fake_engine, fake_embedder, fake_config):
    before = fake_engine.ask("美图2023年的总收入是多少？")
    reloaded = Engine(fake_config, fake_engine.index_dir, fake_embedder,
                      load_index(fake_engine.index_dir, fake_config))
    after = reloaded.ask("美图2023年的总收入是多少？")
    assert [h.chunk.id for h in after.hits] == [h.chunk.id for h in before.hits]
    assert after.text == before.text


def test_answer_is_short_cited_and_checked(fake_engine):
    answer = fake_engine.ask("美图2023年的总收入是多少？")
    assert not answer.refused
    assert "27" in answer.text and answer.text.endswith("[1]")
    assert check_citations(answer) == []
    c = answer.citations[0]
    original = ARTICLE.read_text(encoding="utf-8")
    assert original[c.sentence.start:c.sentence.end] == c.sentence.text
    assert original[c.hit.chunk.start:c.hit.chunk.end] == c.hit.chunk.text
    assert set(answer.timings_ms) == {"embed", "search", "answer", "total"}


def test_every_mode_and_k(fake_engine):
    for mode in ("hybrid", "hybrid-sentences", "dense", "bm25"):
        answer = fake_engine.ask("美图付费订阅用户数", k=3, mode=mode)
        assert 1 <= len(answer.hits) <= 3
        assert [h.rank for h in answer.hits] == list(range(1, len(answer.hits) + 1))
    with pytest.raises(InputError, match="k=0 is out of range"):
        fake_engine.ask("美图", k=0)
    with pytest.raises(InputError, match="mode='fuzzy' is unknown"):
        fake_engine.ask("美图", mode="fuzzy")


def test_question_not_in_the_documents_is_refused(fake_engine):
    answer = fake_engine.ask("美图总部在哪里？")
    assert answer.refused and answer.citations == ()
    assert answer.text == "抱歉，文档中没有找到这个问题的答案。"


def test_adding_the_same_document_again_does_nothing(fake_engine):
    gen_before = (fake_engine.index_dir / "CURRENT").read_text()
    report = fake_engine.add_files([ARTICLE])
    assert report.unchanged == ["meitu_ai_article.txt"] and not report.changed
    assert (fake_engine.index_dir / "CURRENT").read_text() == gen_before


def test_adding_a_document_embeds_only_its_chunks(fake_engine, tmp_path):
    n_before = len(fake_engine.index.chunks)
    doc = tmp_path / "new.txt"
    doc.write_text("星火公司年报\n\n星火公司2025年的研发投入为8.8亿元,同比增长12%。", encoding="utf-8")
    report = fake_engine.add_files([doc])
    assert report.added == ["new.txt"] and report.chunks_added == 1
    assert len(fake_engine.index.chunks) == n_before + 1
    answer = fake_engine.ask("星火公司2025年的研发投入是多少？")
    assert "8.8亿元" in answer.text and answer.citations[0].hit.chunk.source == "new.txt"
    assert [d["chunks"] for d in fake_engine.documents()] == [n_before, 1]


def test_changed_document_replaces_the_old_version(fake_engine, tmp_path):
    doc = tmp_path / "v.txt"
    doc.write_text("版本说明\n\n旧的内容说产品价格为100元。", encoding="utf-8")
    fake_engine.add_files([doc])
    doc.write_text("版本说明\n\n新的内容说产品价格为200元。", encoding="utf-8")
    report = fake_engine.add_files([doc])
    assert report.replaced == ["v.txt"]
    texts = [c.text for c in fake_engine.index.chunks if c.source == "v.txt"]
    assert texts == ["新的内容说产品价格为200元。"]


def test_loading_with_other_settings_is_refused(fake_engine, fake_config):
    with pytest.raises(IndexMismatchError, match="chunk_size: index has 300, config wants 200.*rag index --rebuild"):
        load_index(fake_engine.index_dir, fake_config.with_(chunk_size=200))


def test_open_resolves_the_config_from_the_index(tmp_path, fake_embedder, fake_config, monkeypatch):
    from rag.indexer import empty_index

    for name in ("RAG_MODEL", "RAG_CHUNK_SIZE", "RAG_CHUNK_OVERLAP", "RAG_INDEX_TYPE", "RAG_VECTOR_STORE"):
        monkeypatch.delenv(name, raising=False)
    built_with = fake_config.with_(chunk_size=200)
    Engine(built_with, tmp_path / "index", fake_embedder, empty_index(fake_embedder)).add_files([ARTICLE])
    opened = Engine.open(index_dir=tmp_path / "index", embedder=fake_embedder, settings={"k": 3})
    assert (opened.config.model, opened.config.chunk_size, opened.config.k) == ("fake-hash", 200, 3)
    with pytest.raises(IndexMismatchError, match="chunk_size: index has 200, config wants 300"):
        Engine.open(index_dir=tmp_path / "index", embedder=fake_embedder, settings={"chunk_size": 300})


def test_retrieval_does_not_load_the_file_readers():
    import subprocess
    import sys

    loaded = subprocess.run([sys.executable, "-c", "import sys, rag.retrieval; print('rag.documents' in sys.modules)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"


def test_missing_index_says_what_to_run(tmp_path, fake_config):
    with pytest.raises(IndexMissingError, match="rag index --index-dir"):
        load_index(tmp_path / "none", fake_config)


@pytest.mark.parametrize("raw,message", [("", "empty"), ("   \n\t", "empty"), ("？？！！", "no words"),
                                         ("\x00\x01", "empty"), ("🙂🙂", "no words")])
def test_unusable_questions(raw, message):
    with pytest.raises(InputError, match=message):
        clean_question(raw, 500)


def test_long_question_is_cut_with_a_notice():
    text, notice = clean_question("美" * 1000, 500)
    assert len(text) == 500 and "cut to the first 500" in notice


def test_followup_resolution():
    history = [{"role": "user", "content": "美图的CFO是谁？"}, {"role": "assistant", "content": "颜劲良[1]"}]
    assert resolve_followup("他对毛利率说了什么？", history) == "美图的CFO是谁？ 他对毛利率说了什么？"
    assert resolve_followup("美图2023年的总收入是多少？", history) == "美图2023年的总收入是多少？"
    assert resolve_followup("他是谁？", []) == "他是谁？"
    assert resolve_followup("这个业务后来卖给了谁？", history).startswith("美图的CFO是谁？")
    assert resolve_followup("这段文字用于什么测试？", history) == "这段文字用于什么测试？"
    with pytest.raises(InputError, match="history must be a list"):
        resolve_followup("他是谁？", "美图的CFO是谁？")


def test_config_rejects_bad_values():
    with pytest.raises(InputError, match="chunk_size=1000 is out of range"):
        Config(chunk_size=1000)
    with pytest.raises(InputError, match="index_type='annoy' is unknown"):
        Config(index_type="annoy")


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_approximate_index_types_answer_like_flat(tmp_path, fake_embedder, fake_config, index_type):
    from rag.indexer import empty_index

    config = fake_config.with_(index_type=index_type)
    engine = Engine(config, tmp_path / index_type, fake_embedder, empty_index(fake_embedder))
    engine.add_files([ARTICLE])
    loaded = load_index(tmp_path / index_type, config)
    assert loaded.dense.count() == len(loaded.chunks) == 23
    assert "27" in engine.ask("美图2023年的总收入是多少？").text


def test_progress_is_reported_in_tenths(fake_embedder):
    from rag.indexer import _counter

    lines: list[str] = []
    report = _counter(lines.append, "passages")
    for done in range(0, 101, 5):
        report(done, 100)
    assert len(lines) == 11 and lines[-1].startswith("  passages: 100/100 done in")
    _counter(lines.append, "tiny")(3, 3)
    assert len(lines) == 11


def test_sentence_ranking_orders_chunks_by_their_best_sentence(fake_engine):
    from rag.fusion import fuse_rankings
    from rag.retrieval import dense_ranking, retrieve, sentence_ranking
    from rag.tokenize import tokenize

    index = fake_engine.index
    for chunk in index.chunks:  # exactly the sentences wholly inside, found by brute force
        assert index.sentence_rows_in(chunk) == [
            i for i, s in enumerate(index.sentences)
            if s.doc_id == chunk.doc_id and chunk.start <= s.start and s.end <= chunk.end]
    query = fake_engine.embedder.embed_queries(["美图付费订阅用户数"])[0]
    pool = list(range(len(index.chunks)))[::-1]
    inside = {row: index.sentence_rows_in(index.chunks[row]) for row in pool}
    best = {row: max(float(np.dot(index.sentence_vectors[i], query)) for i in inside[row]) for row in pool if inside[row]}
    expected = sorted(best, key=lambda row: (-best[row], pool.index(row)))  # ties keep the pool's order
    assert sentence_ranking(index, query, pool) == expected
    target = next(i for i, s in enumerate(index.sentences) if "付费订阅用户数" in s.text)
    holders = [row for row in pool if target in inside[row]]
    # the query is that sentence's own vector: the chunks holding it come first
    ranked = sentence_ranking(index, np.asarray(index.sentence_vectors[target]), pool)
    assert sorted(ranked[:len(holders)]) == sorted(holders)
    # hybrid-sentences fuses that ranking of the pool with the other two (reciprocal rank fusion, k = 60)
    tokens = tokenize("美图付费订阅用户数")
    dense = [str(r) for r in dense_ranking(index, query, 30)]
    bm25 = [str(r) for r, _ in index.bm25.top(tokens, 30)]
    pool = list(dict.fromkeys(int(r) for r in dense + bm25))
    fused = [int(r) for r, _ in fuse_rankings([dense, bm25, [str(r) for r in sentence_ranking(index, query, pool)]])]
    got = [h.chunk.id for h in retrieve(index, query, tokens, 5, "hybrid-sentences")]
    assert got[0] == index.chunks[fused[0]].id and set(got) <= {index.chunks[r].id for r in fused}


def test_an_index_saved_before_the_latin_chunk_scale_loads_as_it_was_built(fake_engine, fake_config, monkeypatch):
    """README step 76: an index whose manifest has no latin_chunk_scale was chunked at 1; it opens with 1 (its English
    documents, and those added later, cut as before), and a config asking for another scale is told to rebuild."""
    import json

    from rag.store import current_generation

    monkeypatch.delenv("RAG_LATIN_CHUNK_SCALE", raising=False)
    gen = current_generation(fake_engine.index_dir)
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["latin_chunk_scale"] == 4  # saved beside the index from now on
    del manifest["settings"]["latin_chunk_scale"]
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    opened = Engine.open(index_dir=fake_engine.index_dir, embedder=fake_engine.embedder)
    assert opened.config.latin_chunk_scale == 1
    load_index(fake_engine.index_dir, fake_config.with_(latin_chunk_scale=1))
    with pytest.raises(IndexMismatchError, match="latin_chunk_scale: index has 1, config wants 4.*rag index --rebuild"):
        load_index(fake_engine.index_dir, fake_config)
