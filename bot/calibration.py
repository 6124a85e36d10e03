"""Confidence: the probability, estimated on labelled questions, that the bot's answer is right.

Raw BM25 scores mean nothing across questions (a long question scores higher than a
short one), so the decision uses a few scale-free features of the search result and a
logistic model fitted on labelled questions (`policybot calibrate`): confidence 0.7 means
that, of past questions with similar evidence, about 70% had a right clause in the top 3
and should have been answered. The coefficients are data, kept beside the knowledge base.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .retrieval import SearchResult

FEATURES = ("coverage", "normalised_score", "margin", "specificity", "phrase_match", "domain_gap")


def features_of(result: SearchResult) -> dict[str, float]:
    """Scale-free evidence from one search: how much of the question the best clause covers,
    how close it comes to a perfect match, how clearly it beats the runner-up, and how
    specific the question is (questions of one or two content words are guesses)."""
    hits = result.hits
    if not hits:
        return {name: 0.0 for name in FEATURES}
    s1 = hits[0].score
    s2 = hits[1].score if len(hits) > 1 else 0.0
    n = len(result.query.own)
    return {
        "coverage": result.coverage,
        "normalised_score": result.normalised_score,
        # In units of a perfect match: a lone weak hit does not "clearly beat" anything.
        "margin": (s1 - s2) / s1 * result.normalised_score if s1 > 0 else 0.0,
        "specificity": 1.0 - 1.0 / (1.0 + n),
        "phrase_match": result.phrase_match,
        "domain_gap": max(0.0, result.domain_coverage - result.coverage),
    }


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    bias: float
    source: str = "default"
    # The confidence at or above which to answer, chosen by cross-validation with the model.
    threshold: float = 0.5

    @classmethod
    def default(cls) -> "Calibration":
        """Uncalibrated fallback: confidence is the question coverage, centred on 0.5."""
        return cls(weights=(8.0, 0.0, 0.0, 0.0, 0.0, 0.0), bias=-4.0)

    @classmethod
    def load(cls, path: Path) -> "Calibration":
        if not path.exists():
            return cls.default()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        weights = data.get("weights") or {}
        missing = [f for f in FEATURES if f not in weights]
        if missing:
            raise ValueError(f"{path}: calibration lacks weights for {', '.join(missing)}")
        return cls(tuple(float(weights[f]) for f in FEATURES), float(data.get("bias", 0.0)), str(path),
                   float(data.get("threshold", 0.5)))

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features[f] for w, f in zip(self.weights, FEATURES))
        return 1.0 / (1.0 + math.exp(-z))

    def dump(self, path: Path, note: str) -> None:
        doc = {"note": note, "threshold": round(self.threshold, 3), "bias": round(self.bias, 4),
               "weights": {f: round(w, 4) for f, w in zip(FEATURES, self.weights)}}
        path.write_text("# Written by `policybot calibrate`; see README 'Confidence'.\n"
                        + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.1, iterations: int = 200) -> Calibration:
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
    return Calibration(tuple(float(v) for v in w[:d]), float(w[d]), "fitted")
