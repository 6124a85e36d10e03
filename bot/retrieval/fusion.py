"""BM25 first, meaning second: the two rankings fused by reciprocal rank.

Reciprocal-rank fusion (Cormack et al., 2009) needs no agreement between the stages' score
scales, which differ by question (BM25 grows with question length, cosines bunch between
0.2 and 0.7), and its usual constant k = 60 is not tuned on our questions. A clause BM25
does not match at all (score 0) gets nothing from the lexical side.

The stages' scores still matter for the decision: the evidence passed to the confidence
model is the lexical evidence about the fused top clause (coverage, score against a
perfect match, margin), its semantic similarity and margin, whether the stages agree on
the top clause, and how far another school's policy matches the question better (a sign
that this school's policy is silent on it).
"""
from __future__ import annotations

import numpy as np

from ..decide.calibration import SEMANTIC_FEATURES
from .lexical import BM25Retriever, Hit, SearchResult
from .semantic import SemanticScorer

RRF_K = 60
FUSED, SEMANTIC_ONLY = "fused", "semantic"


def ranks(scores: np.ndarray, zero_is_unranked: bool = False) -> np.ndarray:
    """1-based rank of every item by descending score (ties keep index order);
    infinity for items with no score at all when asked."""
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores), dtype=np.float64)
    out[order] = np.arange(1, len(scores) + 1)
    if zero_is_unranked:
        out[scores <= 0] = np.inf
    return out


def reciprocal_rank_fusion(lexical: np.ndarray, semantic: np.ndarray, k: int = RRF_K) -> np.ndarray:
    return 1.0 / (k + ranks(lexical, zero_is_unranked=True)) + 1.0 / (k + ranks(semantic))


def _unit(scores: np.ndarray) -> np.ndarray:
    """Scores rescaled so the school's weakest clause is 0 and its best is 1."""
    lo, hi = float(scores.min()), float(scores.max())
    return (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)


class FusedRetriever:
    """The Retriever the bot uses when the model is available (`mode` "semantic" ranks by
    meaning alone, for measurement)."""

    def __init__(self, lexical: BM25Retriever, semantic: SemanticScorer, mode: str = FUSED):
        self.lexical, self.semantic, self.mode = lexical, semantic, mode
        self.kb = lexical.kb

    def search(self, school: str, question: str, k: int = 10) -> SearchResult:
        index = self.lexical.index(school)
        query, bm25 = index.score(question)
        sem = self.semantic.scores(school, question)
        cos = sem.clauses.astype(np.float64)
        if self.mode == SEMANTIC_ONLY:
            fused, strength = cos, _unit(cos)
        else:
            fused = reciprocal_rank_fusion(bm25, cos)
            lexical_share = bm25 / bm25.max() if bm25.max() > 0 else np.zeros_like(bm25)
            strength = 0.5 * lexical_share + 0.5 * _unit(cos)
        order = [int(i) for i in np.argsort(-fused, kind="stable")[:k]]
        top_strength = strength[order[0]] if order and strength[order[0]] > 0 else 1.0
        hits = tuple(Hit(index.clauses[i], float(fused[i]), index.matched(i, query), float(strength[i] / top_strength))
                     for i in order)
        result = self.lexical.lexical_evidence(school, question, query, bm25, order, hits)
        top = order[0]
        others = np.delete(cos, top)
        result.extra.update(zip(SEMANTIC_FEATURES, (
            float(cos[top]),
            float(cos[top] - others.max()) if len(others) else float(cos[top]),
            1.0 if int(np.argmax(bm25)) == int(np.argmax(cos)) and bm25.max() > 0 else 0.0,
            max(0.0, sem.domain_best - float(cos.max())),
        )))
        return result
