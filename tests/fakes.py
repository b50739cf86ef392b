"""Small deterministic fakes that stand in for the real parts, and helpers shared by the tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


class HashEmbedder:
    """An Embedder of hashed character unigrams and bigrams, L2-normalized.

    Texts that share characters get similar vectors (a sentence asked back as a question has cosine 1),
    so answering and refusal behave like they do with a real model, only instantly and reproducibly.
    """

    name = "fake-hash"
    dim = 128
    fingerprint = "fake-hash:v1"

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        grams = list(text) + [a + b for a, b in zip(text, text[1:], strict=False)]
        for g in grams:
            digest = hashlib.blake2b(g.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(v))
        if norm == 0:  # empty text: any fixed unit vector keeps the "unit vectors" contract
            v[0], norm = 1.0, 1.0
        return v / norm

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def embed_passages(self, texts: Sequence[str],
                       progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        out = self.embed_queries(texts)
        if progress:
            progress(len(texts), len(texts))
        return out


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` by relative path: equal digests mean byte-for-byte unchanged."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
