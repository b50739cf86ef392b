"""A learned waiver of the claim cut (README, "How auto was chosen", step 71): one logistic over measures the default
already has when a Chinese factoid answer of the model falls below the claim cut, in place of the one-measure reading
waiver. Pure: the weights come from routes.json (`learned_waiver`, written by scripts/choose_policy.py
--learned-waiver), the measures from ModelAnswerer.run or a study row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# the measures, in the order the weights are saved:
#   reading     the reading check's P("是") for the best kept sentence (prompt.reading_messages, context form)
#   claim       the best kept sentence's claim coverage
#   confidence  the reply's least sure content token's probability (confidence.token_confidence, "min")
#   score       the extractive answerer's answer logit for the question
#   meaning     the weakest missing question word's best e5 cosine beside the support (meaning.py; 1.0: none missing)
#   surprise    the question's least expected token's log-probability after the excerpts (confidence.question_surprise)
FEATURES = ("reading", "claim", "confidence", "score", "meaning", "surprise")
CLIPS = {"score": (-10.0, 10.0), "surprise": (-30.0, 0.0)}  # a logit of -inf (no sentence) reads as -10


class WaiverError(ValueError):
    """A saved learned waiver that cannot be used (the message names the value and the fix)."""


@dataclass(frozen=True)
class LearnedWaiver:
    """P(the answer below the claim cut is right) = sigmoid(bias + sum(weight * (clipped - mean) / scale)); the claim
    cut is waived at `at` or above. A measure that was not taken (None) reads as its fitting mean."""

    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    at: float

    def __post_init__(self) -> None:
        for name in ("means", "scales", "weights"):
            values = getattr(self, name)
            if len(values) != len(FEATURES) or not all(isinstance(v, (int, float)) and math.isfinite(v)
                                                       for v in values):
                raise WaiverError(f"learned waiver {name} {values!r}: {len(FEATURES)} finite numbers are needed, one "
                                  f"per measure ({', '.join(FEATURES)})")
        if not all(s > 0 for s in self.scales):
            raise WaiverError(f"learned waiver scales {self.scales!r}: every scale must be above 0")
        if not (isinstance(self.bias, (int, float)) and math.isfinite(self.bias)):
            raise WaiverError(f"learned waiver bias {self.bias!r}: a finite number is needed")
        if not (isinstance(self.at, (int, float)) and 0.0 < self.at < 1.0):
            raise WaiverError(f"learned waiver at {self.at!r}: a probability strictly between 0 and 1 is needed")

    def probability(self, measures: Mapping[str, float | None]) -> float:
        z = self.bias
        for name, mean, scale, weight in zip(FEATURES, self.means, self.scales, self.weights, strict=True):
            value = clipped(name, measures.get(name))
            z += weight * (0.0 if value is None else (value - mean) / scale)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict:
        return {"features": list(FEATURES), "means": list(self.means), "scales": list(self.scales),
                "weights": list(self.weights), "bias": self.bias, "at": self.at}


def clipped(name: str, value: float | None) -> float | None:
    """`value` of measure `name` inside its clip (CLIPS; -inf and +inf land on its ends); None stays None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    low, high = CLIPS.get(name, (-math.inf, math.inf))
    return min(max(float(value), low), high)


def from_json(saved: object, where: str = "routes.json") -> LearnedWaiver | None:
    """The waiver saved in routes.json's `learned_waiver` (None: null, no waiver)."""
    if saved is None:
        return None
    fix = "Rerun scripts/choose_policy.py --learned-waiver --write, or write learned_waiver: null."
    if not isinstance(saved, dict):
        raise WaiverError(f"{where} has learned_waiver {saved!r}: an object or null is needed. {fix}")
    if saved.get("features") != list(FEATURES):
        raise WaiverError(f"{where} has learned_waiver features {saved.get('features')!r}, but this code reads "
                          f"{list(FEATURES)}. {fix}")
    try:
        return LearnedWaiver(tuple(saved["means"]), tuple(saved["scales"]), tuple(saved["weights"]), saved["bias"],
                             saved["at"])
    except (KeyError, TypeError) as exc:
        raise WaiverError(f"{where} has learned_waiver without {exc}: means, scales, weights, bias and at are "
                          f"needed. {fix}") from exc
    except WaiverError as exc:
        raise WaiverError(f"{where}: {exc}. {fix}") from exc
