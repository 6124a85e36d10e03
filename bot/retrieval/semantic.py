"""The second stage: how close in meaning a question is to each of a school's clauses.

Each clause is represented by several short texts, all embedded once (and cached): the
clause itself with its section heading and lead-in, and each of its `about` phrasings
(the situations it covers, in staff words). A clause's similarity to a question is the
best cosine over its texts: a question about "my hinge profile" should meet the clause
through its "dating sites" phrasing even if the clause text says "online dating".
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .embedding import Encoder
from ..knowledge.load import Clause, KnowledgeBase
from .vector_cache import VectorCache

log = logging.getLogger(__name__)


def clause_texts(clause: Clause) -> list[str]:
    """The texts that stand for a clause: its passage, then each about phrasing."""
    passage = " ".join(p for p in (clause.section + ":" if clause.section else "", clause.lead_in, clause.text) if p)
    return [passage, *clause.about]


@dataclass(frozen=True)
class _SchoolVectors:
    vectors: np.ndarray  # (texts, 384), unit length
    owner: np.ndarray    # (texts,) the clause index each text stands for
    n_clauses: int

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Per clause, the best cosine over its texts."""
        sims = self.vectors @ q
        out = np.full(self.n_clauses, -1.0, dtype=np.float32)
        np.maximum.at(out, self.owner, sims)
        return out


@dataclass(frozen=True)
class SemanticScores:
    clauses: np.ndarray  # this school's per-clause similarity
    domain_best: float   # the best similarity any bundled school's clause reaches (this one's included)


class SemanticScorer:
    """Encodes questions and scores them against every school's clause vectors."""

    def __init__(self, kb: KnowledgeBase, encoder: Encoder, cache_dir: Path):
        self.encoder = encoder
        started = time.perf_counter()
        cache = VectorCache(cache_dir, encoder.version)
        self._schools: dict[str, _SchoolVectors] = {}
        encoded = 0
        for slug, school in kb.schools.items():
            texts, owner = [], []
            for i, clause in enumerate(school.clauses):
                for text in clause_texts(clause):
                    texts.append(text)
                    owner.append(i)
            vectors, fresh = cache.vectors(texts, encoder.encode)
            encoded += fresh
            self._schools[slug] = _SchoolVectors(vectors, np.array(owner, dtype=np.int64), len(school.clauses))
        self.encoded_at_start = encoded
        log.info("semantic stage ready: %s, %d clause texts encoded, %d from cache, %.2f s",
                 encoder.version, encoded, sum(len(s.owner) for s in self._schools.values()) - encoded,
                 time.perf_counter() - started)

    def scores(self, school: str, question: str) -> SemanticScores:
        q = self.encoder.encode_units([question])[0]
        by_school = {slug: vectors.scores(q) for slug, vectors in self._schools.items()}
        domain = max((float(s.max()) for s in by_school.values() if len(s)), default=-1.0)
        return SemanticScores(by_school[school], domain)
