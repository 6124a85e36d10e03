"""BM25 first, meaning second: the two rankings fused by reciprocal rank.

Reciprocal-rank fusion (Cormack et al., 2009) needs no agreement between the stages' score
scales, which differ by question (BM25 grows with question length, cosines bunch between
0.2 and 0.7), and its usual constant k = 60 is not tuned on our questions. A clause BM25
does not match at all (score 0) gets nothing from the lexical side.

The stages' scores still matter for the decision: every candidate clause carries both
stages' evidence (retrieval/evidence.py) to the answerability model, which re-ranks them.
"""
from __future__ import annotations

import numpy as np

from .lexical import BM25Retriever, SearchResult
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
        return self.lexical.evidence(school, question, query, bm25, fused, k, sem, strength)
