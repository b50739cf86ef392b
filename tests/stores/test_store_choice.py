"""The vector store is a setting: FAISS and embedded Milvus give the same hits and answers on the
article, the choice is recorded in the manifest and checked on load, damage to a Milvus database is found."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.chat import Engine
from rag.errors import IndexCorruptError, IndexMismatchError, InputError
from rag.indexer import empty_index
from rag.store import current_generation, load_index
from tests.conftest import ARTICLE, ROOT

QUESTIONS = [json.loads(line)["question"] for line in
             (ROOT / "eval" / "qa_article.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def engines(tmp_path_factory, fake_embedder, fake_config):
    root = tmp_path_factory.mktemp("stores")
    out = {}
    for kind in ("faiss", "milvus"):
        config = fake_config.with_(vector_store=kind)
        engine = Engine(config, root / kind, fake_embedder, empty_index(fake_embedder, config))
        engine.add_files([ARTICLE])
        out[kind] = engine
    return out


def test_both_stores_give_the_same_hits_and_answers_on_the_article(engines):
    assert len(QUESTIONS) == 231
    for question in QUESTIONS:
        a, b = (engines[k].ask(question, mode="dense") for k in ("faiss", "milvus"))
        assert [h.chunk.id for h in a.hits] == [h.chunk.id for h in b.hits], question
        assert [h.dense for h in a.hits] == pytest.approx([h.dense for h in b.hits], abs=1e-5)
        hybrid = [engines[k].ask(question) for k in ("faiss", "milvus")]
        assert [h.chunk.id for h in hybrid[0].hits] == [h.chunk.id for h in hybrid[1].hits], question
        assert hybrid[0].text == hybrid[1].text, question


def test_the_store_is_recorded_and_reloaded(engines, fake_config):
    index_dir = engines["milvus"].index_dir
    manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["vector_store"] == "milvus" and manifest["store"] == "milvus"
    assert "milvus.db" not in manifest["files"] and (current_generation(index_dir) / "milvus.db").is_dir()
    loaded = load_index(index_dir, fake_config.with_(vector_store="milvus"))
    assert loaded.dense.kind == "milvus" and loaded.dense.count() == len(loaded.chunks) == 23
    loaded.dense.close()


def test_an_index_of_the_other_store_is_refused(engines, fake_config):
    index_dir = engines["milvus"].index_dir
    with pytest.raises(IndexMismatchError, match="vector_store: index has 'milvus', config wants 'faiss'"):
        load_index(index_dir, fake_config)


def test_adding_to_a_milvus_index_keeps_what_was_there(tmp_path, fake_embedder, fake_config):
    config = fake_config.with_(vector_store="milvus")
    engine = Engine(config, tmp_path / "index", fake_embedder, empty_index(fake_embedder, config))
    engine.add_files([ARTICLE])
    doc = tmp_path / "new.txt"
    doc.write_text("星火公司2025年的研发投入为8.8亿元。", encoding="utf-8")
    assert engine.add_files([doc]).added == ["new.txt"]
    assert "8.8亿元" in engine.ask("星火公司2025年的研发投入是多少？").text
    again = Engine.open(config, tmp_path / "index", embedder=fake_embedder)
    assert again.index.dense.count() == 24
    assert "27" in again.ask("美图2023年的总收入是多少？").text
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == [".lock", "CURRENT", "gen-000002"]


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_damaged_milvus_database_is_refused_with_the_fix(engines, fake_config, tmp_path, damage):
    index_dir = tmp_path / "index"
    shutil.copytree(engines["milvus"].index_dir, index_dir)
    db = current_generation(index_dir) / "milvus.db"
    shutil.rmtree(db)
    if damage == "emptied":  # a database that opens but holds another, empty collection set
        from rag.stores.milvus_store import MilvusStore

        store = MilvusStore(128)  # the fake embedder's dimension
        store.save(current_generation(index_dir))
        store.close()
    with pytest.raises(IndexCorruptError) as caught:
        load_index(index_dir, fake_config.with_(vector_store="milvus"))
    message = str(caught.value)
    assert f"rag index --rebuild --index-dir {index_dir}" in message
    assert ("milvus.db is missing" in message) if damage == "deleted" else ("'milvus': 0" in message)


def test_unknown_store_is_refused_with_the_choices():
    from rag.config import Config

    with pytest.raises(InputError, match="vector_store='annoy' is unknown; choose one of faiss, milvus"):
        Config(vector_store="annoy")


def test_cli_store_flag_reaches_the_manifest(tmp_path, monkeypatch):
    from rag import cli
    from rag.chat import Engine

    parser = cli.build_parser()
    args = parser.parse_args(["index", "--store", "milvus", "--index-dir", str(tmp_path / "i")])
    assert Engine.config_for(Path(args.index_dir), cli.settings_from(args)).vector_store == "milvus"


def test_an_embedded_milvus_open_in_another_process_is_named(engines, fake_config, tmp_path):
    import subprocess
    import sys

    from rag.errors import IndexLockedError

    index_dir = tmp_path / "index"
    shutil.copytree(engines["milvus"].index_dir, index_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, pathlib; from rag.stores import load_store; "
         "s = load_store('milvus', pathlib.Path(sys.argv[1]), 128); print('open', flush=True); sys.stdin.read()",
         str(current_generation(index_dir))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(IndexLockedError, match="another process has the embedded Milvus database .*milvus.db "
                                                   "open .*RAG_MILVUS_URI=http://host:19530"):
            load_index(index_dir, fake_config.with_(vector_store="milvus"))
    finally:
        holder.communicate("", timeout=60)
    assert load_index(index_dir, fake_config.with_(vector_store="milvus")).dense.count() == 23


@pytest.mark.integration
def test_milvus_and_faiss_agree_on_the_article_with_the_real_model(real_engine, tmp_path):
    """Issue 10's target: the same top-5 for >= 95% of the questions and the same answers. Both are exact
    inner-product searches over the same vectors, so they agree on every question."""
    config = real_engine.config.with_(vector_store="milvus")
    milvus = Engine(config, tmp_path / "milvus", real_engine.embedder, empty_index(real_engine.embedder, config))
    milvus.add_files([ARTICLE])
    same_top5 = same_answer = 0
    for question in QUESTIONS:
        a, b = real_engine.ask(question), milvus.ask(question)
        same_top5 += [h.chunk.id for h in a.hits] == [h.chunk.id for h in b.hits]
        same_answer += (a.text, a.refused) == (b.text, b.refused)
    assert (same_top5, same_answer) == (231, 231)
