"""What the search knows about each candidate clause, as named numbers for the answerability model.

A raw BM25 score or cosine means little across questions (long questions score higher, cosines
bunch), so each number here is scale-free or relative to the best clause for the same question:
the share of the top BM25 score, the share of the question's information the clause covers,
how far its similarity falls short of the best clause's, and the same again for the question's
best-matching sentence (staff wrap the asking sentence in a story, and the story's words match
other clauses). Everything is computed from the asking school's own index: no number here
changes with which other schools the deployment loads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Candidates: the top of the ranking, plus the clauses some single sentence of the question
# matches best (the asking sentence's clause can sit below the story's in the whole ranking).
TOP_CANDIDATES = 12
SENTENCE_CANDIDATES = 5

LEXICAL_EVIDENCE = ("rank", "bm_share", "bm_norm", "coverage", "phrase", "sent_coverage", "sent_bm_share",
                    "length", "section_share", "specificity", "question_words", "sentences", "top_coverage")
SEMANTIC_EVIDENCE = ("passage", "about", "best", "best_gap", "sent", "sent_gap", "top_best", "top_sent")
FUSED_EVIDENCE = LEXICAL_EVIDENCE + SEMANTIC_EVIDENCE


@dataclass(frozen=True)
class SentenceLexical:
    """Per question sentence: every clause's BM25 share of that sentence's best score, and the
    coverage of the sentence's words for the clauses that matter (others 0)."""

    bm_share: np.ndarray  # (clauses, sentences)
    coverage: np.ndarray  # (clauses, sentences)


@dataclass(frozen=True)
class QuestionShape:
    content_words: int
    words: int
    sentences: int


def candidate_order(ranking: np.ndarray, sentence_scores: np.ndarray | None) -> list[int]:
    """Clause indexes to judge, best-ranked first, then the sentences' own best clauses."""
    order = [int(i) for i in np.argsort(-ranking, kind="stable")[:TOP_CANDIDATES]]
    if sentence_scores is not None and len(sentence_scores):
        order += [int(i) for i in np.argsort(-sentence_scores, kind="stable")[:SENTENCE_CANDIDATES]]
    return list(dict.fromkeys(order))


def lexical_evidence(i: int, rank: int, bm25: np.ndarray, ceiling: float, coverage: np.ndarray,
                     phrase: float, sentences: SentenceLexical, sections: list[str], lengths: list[int],
                     top: list[int], shape: QuestionShape) -> dict[str, float]:
    top_bm = float(bm25.max()) if len(bm25) else 0.0
    share = lambda column: float(column[i])  # noqa: E731
    return {
        "rank": 1.0 / (1 + rank),
        "bm_share": float(bm25[i]) / top_bm if top_bm > 0 else 0.0,
        "bm_norm": float(bm25[i]) / ceiling if ceiling > 0 else 0.0,
        "coverage": float(coverage[i]),
        "phrase": phrase,
        "sent_coverage": share(sentences.coverage.max(axis=1)),
        "sent_bm_share": share(sentences.bm_share.max(axis=1)),
        "length": math.log1p(lengths[i]),
        "section_share": sum(sections[j] == sections[i] for j in top) / max(1, len(top)),
        "specificity": 1.0 - 1.0 / (1.0 + shape.content_words),
        "question_words": math.log1p(shape.words),
        "sentences": min(shape.sentences, 8) / 8.0,
        "top_coverage": float(coverage.max()) if len(coverage) else 0.0,
    }


def semantic_evidence(i: int, passage: np.ndarray, about: np.ndarray, best: np.ndarray,
                      sentences: np.ndarray) -> dict[str, float]:
    per_clause = sentences.max(axis=1)
    return {
        "passage": float(passage[i]),
        "about": float(about[i]),
        "best": float(best[i]),
        "best_gap": float(best[i] - best.max()),
        "sent": float(per_clause[i]),
        "sent_gap": float(per_clause[i] - per_clause.max()),
        "top_best": float(best.max()),
        "top_sent": float(per_clause.max()),
    }
