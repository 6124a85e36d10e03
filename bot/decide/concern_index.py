"""The semantic layer of concern detection: how much closer a text is to the bank's live
concerns than to its hard negatives, in sentence-embedding space.

Why nearest exemplars (measured leave-one-set-out; README "Live concerns"): staff describe
what they saw ("he told her not to tell her mum and wants her on snap instead"), not the
category's name, so word lists miss most concerns, while an embedding puts that sentence
beside the bank's exemplars of the same situation whatever the words. Against a logistic
regression over the same vectors, the margin between the k nearest concerns and the k
nearest negatives caught as many concerns with fewer false alarms, needs no fitted weights
(the bank itself is the model, so a new exemplar takes effect on the next start), and its
evidence is explainable: the exemplars it stood nearest to.

The hard negatives (a PSHE lesson on sexting, "what should I do if a pupil ever...", an
incident already dealt with, ordinary policy questions in staff words) are what teach it
that the topic alone is not a concern. Negatives are represented by every sentence as well
as the whole, because no sentence of a negative is a concern; a concern exemplar only as a
whole, because in a story only one sentence carries it.

Only the shipped bank is used, never the schools' clauses, so a question's verdict cannot
change with which schools a deployment loads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

K = 10  # neighbours averaged on each side; chosen by leave-one-set-out measurement
# Category: the nearest category centroid. Measured leave-one-out on the bank, that is right
# for 59% of exemplars and the right one is among the top two for 76% (the categories overlap:
# grooming, images and sextortion; missing, self-harm and neglect), so when the second is this
# close the reply carries both categories' advice.
SECOND_CATEGORY_GAP = 0.02


@dataclass(frozen=True)
class UnitScore:
    margin: float       # mean cosine to the k nearest concerns minus to the k nearest negatives
    categories: tuple[str, ...]  # the nearest category centroid, and the next when it is as near
    unit: int           # which text unit (0 = the whole question, then its sentences)


class ConcernIndex:
    def __init__(self, concern_vectors: np.ndarray, concern_categories: list[str],
                 negative_vectors: np.ndarray, k: int = K):
        if not len(concern_vectors) or not len(negative_vectors):
            raise ValueError("the concern index needs both concern exemplars and negatives")
        self.concerns = np.ascontiguousarray(concern_vectors, dtype=np.float32)
        self.negatives = np.ascontiguousarray(negative_vectors, dtype=np.float32)
        labels = np.asarray(concern_categories)
        self.category_names = tuple(sorted(set(concern_categories)))
        centroids = np.stack([self.concerns[labels == c].mean(axis=0) for c in self.category_names])
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
        self.k = max(1, min(k, len(self.concerns), len(self.negatives)))

    def _top_mean(self, sims: np.ndarray) -> np.ndarray:
        k = self.k
        return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)

    def margins(self, units: np.ndarray) -> np.ndarray:
        """Per text unit (rows of unit vectors), the concern-minus-negative margin."""
        return self._top_mean(units @ self.concerns.T) - self._top_mean(units @ self.negatives.T)

    def best(self, units: np.ndarray) -> UnitScore:
        """The unit standing nearest the concerns, with its category (or two)."""
        margins = self.margins(units)
        i = int(np.argmax(margins))
        sims = self.centroids @ units[i]
        order = np.argsort(-sims)
        categories = [self.category_names[order[0]]]
        if len(order) > 1 and sims[order[0]] - sims[order[1]] < SECOND_CATEGORY_GAP:
            categories.append(self.category_names[order[1]])
        return UnitScore(float(margins[i]), tuple(categories), i)
