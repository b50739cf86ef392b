"""The fitted models of the extractive answerer: which sentence, which span, answer or refuse.

Each is a logistic regression over named features (rag/answering/features.py, rag/answering/spans.py),
fitted by scripts/fit_answerer.py on DRCD dev (converted to simplified Chinese) and saved as data in
rag/answering/model.json. A fourth, the excerpt ranker (which sentences the language model reads; README step 43),
is fitted by scripts/fit_excerpt_ranker.py on DRCD dev too (all 1,000 paragraphs) and saved in the same file. Loading checks that the saved feature names match the code's, so a feature
added without refitting fails loudly instead of silently misweighing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.features import DECISION_FEATURES, EXCERPT_FEATURES, SENTENCE_FEATURES
from rag.answering.spans import SPAN_FEATURES
from rag.errors import ModelError

MODEL_FILE = Path(__file__).with_name("model.json")
REFIT = {"sentence": "fit_answerer.py", "span": "fit_answerer.py", "answer": "fit_answerer.py",
         "excerpt": "fit_excerpt_ranker.py"}  # the script that fits each saved model
SCHEMAS = {"sentence": SENTENCE_FEATURES, "span": SPAN_FEATURES, "answer": DECISION_FEATURES,
           "excerpt": EXCERPT_FEATURES}


@dataclass(frozen=True)
class LinearModel:
    """p(y=1 | x) = sigmoid(((x - mean) / scale) @ weights + bias)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float = 0.0  # on the logit; only the answer/refuse model uses it

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    def ranked(self, x: np.ndarray) -> list[int]:
        """The rows of `x`, best (highest logit) first; ties keep their order."""
        return [int(i) for i in np.argsort(-self.logits(x), kind="stable")]

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": self.mean.round(6).tolist(),
                "scale": self.scale.round(6).tolist(), "weights": self.weights.round(6).tolist(),
                "bias": round(float(self.bias), 6), "threshold": round(float(self.threshold), 6)}

    @classmethod
    def from_json(cls, name: str, raw: dict[str, Any]) -> LinearModel:
        expected = SCHEMAS[name]
        if tuple(raw.get("features", ())) != expected:
            raise ModelError(f"the saved '{name}' model in {MODEL_FILE} was fitted on other features than the code "
                             f"computes; refit it with `.venv/bin/python scripts/{REFIT[name]}`.")
        arrays = [np.asarray(raw[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
        if any(a.shape != (len(expected),) for a in arrays):
            raise ModelError(f"the saved '{name}' model in {MODEL_FILE} has arrays of the wrong length; refit it "
                             f"with `.venv/bin/python scripts/{REFIT[name]}`.")
        return cls(expected, *arrays, float(raw["bias"]), float(raw.get("threshold", 0.0)))


@dataclass(frozen=True)
class AnswerModels:
    sentence: LinearModel
    span: LinearModel
    answer: LinearModel
    meta: dict[str, Any]
    # which sentences the model reads (README step 43; scripts/fit_excerpt_ranker.py); None: the sentence model's order
    excerpt: LinearModel | None = None

    @property
    def cross_language_standing(self) -> float:
        """Standing (z) an English question's best sentence needs over Chinese text (see extractive.py)."""
        return float(self.meta.get("cross_language_standing", 2.2))


def load_models(path: Path = MODEL_FILE) -> AnswerModels:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the answerer's fitted models {path} ({exc}); restore it from git or "
                         "refit with `.venv/bin/python scripts/fit_answerer.py`.") from None
    excerpt = LinearModel.from_json("excerpt", raw["excerpt"]) if "excerpt" in raw else None
    return AnswerModels(*(LinearModel.from_json(n, raw.get(n, {})) for n in ("sentence", "span", "answer")),
                        raw.get("meta", {}), excerpt)


@lru_cache(maxsize=1)
def default_models() -> AnswerModels:
    return load_models()
