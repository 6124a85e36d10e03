"""Does a clause answer this question, and how sure can the bot be? Two small fitted models.

1. The *pair* model: for each candidate clause, the probability that it answers the question,
   from both stages' evidence about that pair (retrieval/evidence.py). Candidates are re-ranked
   by it, so a clause that matches the question's story but not its asking sentence, or one
   about pupils for a question about parents, falls below one that answers it.
2. The *question* model: from the top candidates' pair probabilities and the shape of the
   question, the probability that one of the cited clauses answers it and the question is one
   to answer. That is the confidence shown to staff and compared with the threshold; it is
   measured (reliability table in `policybot eval`), never shown as 100%.

Both are L2-regularised logistic regressions on standardised features, fitted by
`policybot calibrate` on labelled question files and kept as data in
`knowledge/answerability.yaml`. Nothing here reads another school: a school's answers do not
depend on which other schools share the deployment.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ..retrieval.evidence import FUSED_EVIDENCE, LEXICAL_EVIDENCE
from ..retrieval.lexical import Candidate, SearchResult

log = logging.getLogger(__name__)

MODEL_FILE = "answerability.yaml"

# A probability is shown and used between these: the evidence never makes an answer certain.
FLOOR, CEILING = 0.01, 0.99

PAIR_FEATURES = {"bm25": LEXICAL_EVIDENCE, "fused": FUSED_EVIDENCE, "semantic": FUSED_EVIDENCE}
# p_gap (p1 - p2, on the logit scale) is computed for the logs but not fitted on: the model has p1
# and p2, so it adds no information, only a second path for the same weight through the penalty.
# Leaving it out measured 0.857 -> 0.872 answered-correct, 0.113 -> 0.098 false escalation,
# escalation recall 0.783 unchanged (fused, leave-one-set-out; README "Confidence").
_QUESTION_LEXICAL = ("p1", "p2", "p3", "specificity", "question_words", "top_coverage",
                     "coverage1", "phrase1")
QUESTION_FEATURES = {"bm25": _QUESTION_LEXICAL,
                     "fused": _QUESTION_LEXICAL + ("top_best", "top_sent", "sent1"),
                     "semantic": _QUESTION_LEXICAL + ("top_best", "top_sent", "sent1")}


def _logit(p: float) -> float:
    p = min(1 - 1e-4, max(1e-4, p))
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Logistic:
    """P(y=1 | x) = sigmoid(bias + weights . (x - mean) / scale)."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()

    def probabilities(self, rows: list[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x = np.array([[r.get(f, 0.0) for f in self.features] for r in rows], dtype=np.float64)
        if self.mean:
            x = (x - np.array(self.mean)) / np.array(self.scale)
        z = np.clip(x @ np.array(self.weights) + self.bias, -50.0, 50.0)  # no overflow on wild inputs
        return 1.0 / (1.0 + np.exp(-z))

    def as_dict(self) -> dict:
        return {"bias": round(self.bias, 5),
                "features": {f: {"weight": round(w, 5), "mean": round(m, 5), "scale": round(s, 5)}
                             for f, w, m, s in zip(self.features, self.weights, self.mean or [0.0] * len(self.features),
                                                   self.scale or [1.0] * len(self.features))}}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "Logistic":
        try:
            features = data["features"]
            names = tuple(features)
            return cls(names, tuple(float(features[f]["weight"]) for f in names), float(data["bias"]),
                       tuple(float(features[f]["mean"]) for f in names),
                       tuple(float(features[f]["scale"]) or 1.0 for f in names))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: malformed model ({type(exc).__name__}: {exc})") from None


def fit(rows: list[dict[str, float]], labels: list[bool], features: tuple[str, ...], l2: float = 1.0,
        iterations: int = 100) -> Logistic:
    """Newton's method on standardised features; the penalty keeps few examples from buying
    large weights (the bias is not penalised)."""
    x = np.array([[r.get(f, 0.0) for f in features] for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.eye(z.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        step = np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + penalty, z.T @ (p - y) + penalty @ w)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return Logistic(features, tuple(float(v) for v in w[:-1]), float(w[-1]),
                    tuple(float(v) for v in mean), tuple(float(v) for v in scale))


@dataclass(frozen=True)
class Judgement:
    ranked: tuple[tuple[Candidate, float], ...]  # candidates, most likely to answer first
    confidence: float  # P(a cited clause answers it, and it should be answered), within FLOOR..CEILING
    features: dict[str, float]  # what the question model read, for logs and evaluation


def question_features(result: SearchResult, ranked: list[tuple[Candidate, float]]) -> dict[str, float]:
    ps = [p for _, p in ranked[:3]] + [0.0] * 3
    first = ranked[0][0].evidence if ranked else {}
    return {
        "p1": _logit(ps[0]), "p2": _logit(ps[1]), "p3": _logit(ps[2]), "p_gap": _logit(ps[0]) - _logit(ps[1]),
        "specificity": first.get("specificity", 0.0), "question_words": first.get("question_words", 0.0),
        "top_coverage": first.get("top_coverage", 0.0), "coverage1": first.get("coverage", 0.0),
        "phrase1": first.get("phrase", 0.0), "top_best": first.get("top_best", 0.0),
        "top_sent": first.get("top_sent", 0.0), "sent1": first.get("sent", 0.0),
    }


@dataclass(frozen=True)
class AnswerabilityModel:
    mode: str
    pair: Logistic
    question: Logistic
    threshold: float = 0.5
    source: str = "default"

    @classmethod
    def default(cls, mode: str = "bm25") -> "AnswerabilityModel":
        """Unfitted fallback: a clause answers in proportion to how much of the question it
        covers, and the confidence is the best clause's probability."""
        return cls(mode, Logistic(("coverage",), (8.0,), -4.0), Logistic(("p1",), (1.0,), 0.0))

    def rank(self, result: SearchResult) -> list[tuple[Candidate, float]]:
        probabilities = self.pair.probabilities([c.evidence for c in result.candidates])
        order = np.argsort(-probabilities, kind="stable")
        return [(result.candidates[i], float(probabilities[i])) for i in order]

    def judge(self, result: SearchResult) -> Judgement:
        ranked = self.rank(result)
        if not ranked:
            return Judgement((), 0.0, {})
        features = question_features(result, ranked)
        confidence = float(self.question.probabilities([features])[0])
        return Judgement(tuple(ranked), min(CEILING, max(FLOOR, confidence)), features)

    @classmethod
    def load(cls, path: Path, mode: str) -> "AnswerabilityModel":
        """The fitted model for one retrieval mode (the default, said in the log, when absent)."""
        if not path.exists():
            log.warning("%s is missing; confidence is the unfitted default (run policybot calibrate)", path)
            return cls.default(mode)
        data = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("modes", {}).get(mode)
        if not data:
            log.warning("%s has no %s model; confidence is the unfitted default", path, mode)
            return cls.default(mode)
        where = f"{path} ({mode})"
        return cls(mode, Logistic.from_dict(data.get("pair") or {}, where + " pair"),
                   Logistic.from_dict(data.get("question") or {}, where + " question"),
                   float(data.get("threshold", 0.5)), f"{path.name} ({mode}, {data.get('fitted_on', '?')})")

    def as_dict(self, fitted_on: str) -> dict:
        return {"fitted_on": fitted_on, "threshold": round(self.threshold, 3),
                "pair": self.pair.as_dict(), "question": self.question.as_dict()}


def dump_models(path: Path, models: dict[str, tuple[AnswerabilityModel, str]], note: str) -> None:
    doc = {"note": note, "modes": {mode: m.as_dict(fitted_on) for mode, (m, fitted_on) in models.items()}}
    path.write_text("# Written by `policybot calibrate`; see README 'Confidence'. Do not edit by hand.\n"
                    + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
