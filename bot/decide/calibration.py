"""Confidence: the probability, estimated on labelled questions, that the bot's answer is right.

Raw BM25 scores mean nothing across questions (a long question scores higher than a
short one), so the decision uses a few scale-free features of the search result and a
logistic model fitted on labelled questions (`policybot calibrate`): confidence 0.7 means
that, of past questions with similar evidence, about 70% had a right clause in the top 3
and should have been answered. The coefficients are data, kept beside the knowledge base.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ..retrieval.lexical import SearchResult

log = logging.getLogger(__name__)

FEATURES = ("coverage", "normalised_score", "margin", "specificity", "phrase_match", "domain_gap")
SEMANTIC_FEATURES = ("semantic_top", "semantic_margin", "agreement", "semantic_domain_gap")


def features_of(result: SearchResult) -> dict[str, float]:
    """Scale-free evidence from one search: how much of the question the best clause covers,
    how close it comes to a perfect match, how clearly it beats the runner-up, and how
    specific the question is (questions of one or two content words are guesses)."""
    if not result.hits:
        return {name: 0.0 for name in FEATURES}
    n = len(result.query.own)
    return {
        "coverage": result.coverage,
        "normalised_score": result.normalised_score,
        "margin": result.margin,
        "specificity": 1.0 - 1.0 / (1.0 + n),
        "phrase_match": result.phrase_match,
        "domain_gap": max(0.0, result.domain_coverage - result.coverage),
        **result.extra,
    }


# What each retrieval mode's confidence model reads.
# Fused: lexical coverage, margin and the "another policy covers this better" gap, with the
# semantic top similarity and its own gap. Measured with 5-fold CV on dev over four seeds,
# adding the stages' top-clause agreement (a 0/1 flag) and the semantic margin made the
# model noisier (false escalation 0.06 -> 0.10-0.12), so they are computed and logged
# but not weighted; normalised_score was redundant with coverage.
MODE_FEATURES = {
    "bm25": FEATURES,
    "semantic": ("specificity", "semantic_top", "semantic_margin", "semantic_domain_gap"),
    "fused": ("coverage", "phrase_match", "domain_gap", "specificity", "margin",
              "semantic_top", "semantic_domain_gap"),
}


@dataclass(frozen=True)
class Calibration:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    source: str = "default"
    # The confidence at or above which to answer, chosen by cross-validation with the model.
    threshold: float = 0.5

    @classmethod
    def default(cls) -> "Calibration":
        """Uncalibrated fallback: confidence is the question coverage, centred on 0.5."""
        return cls(("coverage",), (8.0,), -4.0)

    @classmethod
    def load(cls, path: Path, mode: str) -> "Calibration":
        """The model for one retrieval mode from the calibration file (default when absent)."""
        if not path.exists():
            return cls.default()
        data = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("modes", {}).get(mode)
        if not data:
            # Not silent: an uncalibrated bot answers on coverage alone until `policybot calibrate`.
            log.warning("%s has no %s calibration; confidence is the uncalibrated default", path, mode)
            return cls.default()
        weights = data.get("weights") or {}
        missing = [f for f in MODE_FEATURES[mode] if f not in weights]
        if missing:
            raise ValueError(f"{path}: the {mode} calibration lacks weights for {', '.join(missing)}")
        names = MODE_FEATURES[mode]
        return cls(names, tuple(float(weights[f]) for f in names), float(data.get("bias", 0.0)),
                   f"{path.name} ({mode})", float(data.get("threshold", 0.5)))

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features.get(f, 0.0) for w, f in zip(self.weights, self.features))
        return 1.0 / (1.0 + math.exp(-min(50.0, max(-50.0, z))))  # no overflow on wild features

    def as_dict(self) -> dict:
        return {"threshold": round(self.threshold, 3), "bias": round(self.bias, 4),
                "weights": {f: round(w, 4) for f, w in zip(self.features, self.weights)}}


def dump_calibrations(path: Path, models: dict[str, Calibration], note: str) -> None:
    doc = {"note": note, "modes": {mode: model.as_dict() for mode, model in models.items()}}
    path.write_text("# Written by `policybot calibrate`; see README 'Confidence'.\n"
                    + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def fit_logistic(x: np.ndarray, y: np.ndarray, features: tuple[str, ...], l2: float = 0.1,
                 iterations: int = 200) -> Calibration:
    """L2-regularised logistic regression by Newton's method: few features, few examples,
    so the penalty keeps the weights from chasing individual questions."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.eye(d + 1) * l2
    penalty[d, d] = 0.0  # the bias is not penalised
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + penalty @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return Calibration(features, tuple(float(v) for v in w[:d]), float(w[d]), "fitted")
