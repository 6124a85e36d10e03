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
from .sentences import sentence_spans
from ..knowledge.load import Clause, KnowledgeBase
from .vector_cache import VectorCache

log = logging.getLogger(__name__)


def clause_texts(clause: Clause) -> list[str]:
    """The texts that stand for a clause: its passage, then each about phrasing. A lead's note's
    passage starts with the question it answered (its first `about`): a policy clause names its
    own subject, but "Yes, but check every word yourself" means nothing without the question."""
    lead = clause.about[0] if clause.is_note and clause.about else ""
    passage = " ".join(p for p in (clause.section + ":" if clause.section else "", lead, clause.lead_in, clause.text)
                       if p)
    return [passage, *clause.about]


@dataclass(frozen=True)
class _SchoolVectors:
    rows: np.ndarray     # (texts,) each text's row in the scorer's table of distinct vectors
    owner: np.ndarray    # (texts,) the clause index each text stands for
    n_clauses: int
    passage: np.ndarray  # (clauses,) the index of each clause's passage text (its first)

    def best(self, sims: np.ndarray) -> np.ndarray:
        """Per clause, the best of its texts' similarities (`sims`: one per text)."""
        out = np.full(self.n_clauses, -1.0, dtype=np.float32)
        np.maximum.at(out, self.owner, sims)
        return out


@dataclass(frozen=True)
class SemanticScores:
    """One question against one school's clauses. Only the asking school's vectors are read,
    so nothing here changes with which other schools the deployment loads."""

    clauses: np.ndarray    # (clauses,) best cosine over each clause's texts, whole question
    passage: np.ndarray    # (clauses,) cosine to the clause passage itself
    about: np.ndarray      # (clauses,) best cosine over its about phrasings (-1 when it has none)
    sentences: np.ndarray  # (clauses, sentences) best cosine per question sentence; one column
                           # (the whole question) when it has a single sentence


class SemanticScorer:
    """Encodes questions and scores them against every school's clause vectors."""

    def __init__(self, kb: KnowledgeBase, encoder: Encoder, cache_dir: Path):
        self.encoder = encoder
        started = time.perf_counter()
        cache = VectorCache(cache_dir, encoder.version)
        # Every school's texts in one call: one batched encode of what the cache lacks (similar
        # lengths batched together across schools) and one cache write per start, not one per school.
        texts, spans = [], {}
        for slug, school in kb.schools.items():
            start, owner = len(texts), []
            for i, clause in enumerate(school.clauses):
                for text in clause_texts(clause):
                    texts.append(text)
                    owner.append(i)
            spans[slug] = (start, len(texts), np.array(owner, dtype=np.int64), len(school.clauses))
        self._table, rows, encoded = cache.table(texts, encoder.encode)  # (distinct texts, 384), unit length
        self._schools: dict[str, _SchoolVectors] = {}
        for slug, (a, b, owner, n) in spans.items():
            first = np.searchsorted(owner, np.arange(n))
            self._schools[slug] = _SchoolVectors(rows[a:b], owner, n, first)
        self.encoded_at_start = encoded
        log.info("semantic stage ready: %s, %d clause texts (%d distinct), %d encoded, %.2f s",
                 encoder.version, len(texts), len(self._table), encoded, time.perf_counter() - started)

    def scores(self, school: str, question: str) -> SemanticScores:
        """The question and each of its sentences (one forward pass, see sentences.py) against
        the school's clause texts: staff wrap the question in a story, and the asking
        sentence's match should count even when the whole question's is diluted."""
        spans = sentence_spans(question)
        vectors = self.encoder.encode_spans(question, spans if len(spans) > 1 else [])
        school_vectors = self._schools[school]
        sims = self._table[school_vectors.rows] @ vectors.T  # (texts, 1 + sentences)
        whole = sims[:, 0]
        best = school_vectors.best(whole)
        passage = whole[school_vectors.passage].astype(np.float32)
        about_sims = whole.copy()
        about_sims[school_vectors.passage] = -1.0
        about = school_vectors.best(about_sims)
        if sims.shape[1] > 1:
            sentences = np.stack([school_vectors.best(sims[:, j]) for j in range(1, sims.shape[1])], axis=1)
        else:
            sentences = best[:, None]
        return SemanticScores(best, passage, about, sentences)
