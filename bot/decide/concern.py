"""Live-concern detection: is this message reporting a child at risk now? Two layers, and
either can raise `urgent`; the answer path runs this first, so urgent wins over any answer.

1. The lexicon (`safeguarding.py`): precise, explainable patterns. A *report* pattern ("says
   daddy hits her", "has gone missing", "wants to die") raises urgent on its own. A *topic*
   word (suicide, nudes, grooming, extremism) is how hard negatives talk too ("a PSHE lesson
   on sexting"), so it raises urgent when the semantic layer finds the message at least
   somewhat like a concern (`topic_margin`, lower than the semantic layer's own bar).
2. The semantic layer (`concern_index.py`): the question and each of its sentences, embedded
   with the model retrieval already loads, scored by how much nearer they stand to the bank's
   concern exemplars than to its hard negatives. The best sentence counts, because in a story
   the worrying part is one sentence of four.

The two thresholds are fitted on labelled questions (`policybot concerns fit`, recall first:
a missed concern costs five times a false alarm over the rates) and shipped in
knowledge/concerns/model.yaml. Without the embedding model the lexicon decides alone, with
topic words raising urgent as they always did.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import yaml

from ..knowledge.concerns import CONCERNS_DIR, MODEL_FILE, ConcernBank
from ..retrieval.sentences import sentence_spans, split_sentences
from . import safeguarding
from .concern_index import ConcernIndex

log = logging.getLogger(__name__)

LEXICON, SEMANTIC = "lexicon", "semantic"
# A long question whose one-pass score is at least this also has its sentences encoded on
# their own. Below it, no labelled concern was ever found that way (the lowest reached -0.063),
# and the band from -0.06 to -0.12 gave the same leave-one-set-out figures.
SENTENCE_CHECK_FLOOR = -0.10


@dataclass(frozen=True)
class Thresholds:
    margin: float = 0.0          # the semantic layer alone raises urgent at or above this
    topic_margin: float = -0.05  # a topic word raises urgent when the margin is at least this
    fitted_on: tuple[str, ...] = ()
    bank_digest: str = ""

    @classmethod
    def load(cls, path: Path) -> "Thresholds":
        """The fitted thresholds, or the defaults (logged) when the file is missing or bad."""
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return cls(float(doc["margin"]), float(doc["topic_margin"]),
                       tuple(str(s) for s in doc.get("fitted_on") or ()), str(doc.get("bank_digest", "")))
        except FileNotFoundError:
            log.warning("no %s: concern thresholds at their defaults", path)
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
            log.warning("%s unreadable (%s): concern thresholds at their defaults", path, exc)
        return cls()

    def save(self, path: Path, note: str) -> None:
        doc = {"note": note, "margin": round(self.margin, 4), "topic_margin": round(self.topic_margin, 4),
               "bank_digest": self.bank_digest, "fitted_on": list(self.fitted_on)}
        path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100), encoding="utf-8")


@dataclass(frozen=True)
class Evidence:
    """Everything both layers found, before thresholds: so evaluation can refit the
    thresholds on other question sets without encoding again."""

    lexicon: safeguarding.Match | None
    margin: float | None      # None when the semantic layer is off
    categories: tuple[str, ...] = ()  # the semantic layer's category (two when it cannot tell them apart)
    sentence: str = ""        # the unit that scored best (the lead's card may show it; never logged)


@dataclass(frozen=True)
class Concern:
    category: str   # slug: grooming, images, sextortion, self-harm, abuse-neglect, violence, criminal, ...
    layer: str      # which layer raised it: "lexicon" or "semantic"
    evidence: str   # the matched words or the sentence; for the lead, never logged
    margin: float | None = None
    also: tuple[str, ...] = ()  # another category it may be (its advice is given too)


def decide(ev: Evidence, t: Thresholds) -> Concern | None:
    """The decision from the evidence: report patterns always; topic words when the semantic
    layer is off or agrees a little; the semantic layer on its own at its threshold."""
    lex, margin = ev.lexicon, ev.margin
    if lex and (lex.kind == safeguarding.REPORT or margin is None or margin >= t.topic_margin):
        return Concern(lex.category, LEXICON, lex.evidence, margin)
    if margin is not None and margin >= t.margin:
        first, *also = ev.categories or ("",)
        return Concern(first, SEMANTIC, ev.sentence, margin, tuple(also))
    return None


class ConcernDetector:
    def __init__(self, bank: ConcernBank, thresholds: Thresholds = Thresholds(), index: ConcernIndex | None = None,
                 encoder=None):
        self.bank, self.thresholds, self.index, self.encoder = bank, thresholds, index, encoder

    def with_thresholds(self, thresholds: Thresholds) -> "ConcernDetector":
        return ConcernDetector(self.bank, thresholds, self.index, self.encoder)

    @property
    def semantic(self) -> bool:
        return self.index is not None and self.encoder is not None

    def evidence(self, question: str) -> Evidence:
        """Both layers' findings. The semantic layer scores the whole question and each of its
        sentences pooled from the same forward pass (one encoding, which the retrieval stage
        then reuses); only when that comes within reach of a concern are the sentences also
        encoded on their own and the stronger reading kept. Measured leave-one-set-out, the
        pair catches what either alone misses, at a second encoding for about a quarter of
        questions instead of one per sentence for all."""
        lex = safeguarding.match(question)
        if not self.semantic:
            return Evidence(lex, None)
        spans = sentence_spans(question)
        spans = spans if len(spans) > 1 else []
        texts = [question] + [question[a:b] for a, b in spans]
        best = self.index.best(self.encoder.encode_spans(question, spans))
        if spans and best.margin >= SENTENCE_CHECK_FLOOR:
            alone = self.index.best(self.encoder.encode_units(texts[1:]))
            if alone.margin > best.margin:
                best = replace(alone, unit=alone.unit + 1)
        return Evidence(lex, best.margin, best.categories, texts[best.unit])

    def detect(self, question: str) -> Concern | None:
        return decide(self.evidence(question), self.thresholds)


def units_of(text: str) -> list[str]:
    """The whole text, then its sentences when it has more than one: how the bank's
    negatives are indexed (every sentence of a negative is a negative)."""
    sentences = split_sentences(text)
    return [text] + (sentences if len(sentences) > 1 else [])


def index_texts(bank: ConcernBank) -> list[str]:
    """Every text the index holds a vector for: the exemplars, then the negatives' units."""
    return [e.text for e in bank.concerns] + [u for e in bank.negatives for u in units_of(e.text)]


def build_index(bank: ConcernBank, encode_cached) -> ConcernIndex:
    """The index over the bank. `encode_cached(texts)` returns their vectors (the vector
    cache, so a restart encodes nothing)."""
    concerns = bank.concerns
    vectors = encode_cached(index_texts(bank))
    return ConcernIndex(vectors[:len(concerns)], [e.label for e in concerns], vectors[len(concerns):])


# ---------------------------------------------------------------- fitting the thresholds

RECALL_WEIGHT = 5.0  # a missed concern costs this many false alarms, in rates
_GRID = np.round(np.arange(-0.10, 0.1001, 0.005), 3)


def fit_thresholds(evidence: Sequence[Evidence], urgent: Sequence[bool], fitted_on: Iterable[str] = (),
                   bank_digest: str = "") -> Thresholds:
    """The (margin, topic_margin) pair that maximises RECALL_WEIGHT * recall - false-urgent
    rate on these labelled questions; among equals, the lowest thresholds (recall first)."""
    y = np.asarray(urgent, dtype=bool)
    if not y.any() or y.all():
        raise ValueError("fitting concern thresholds needs both urgent and other questions")
    best, best_value = Thresholds(), -np.inf
    for margin in _GRID:
        for topic in _GRID[_GRID <= margin]:
            t = Thresholds(float(margin), float(topic))
            flagged = np.array([decide(ev, t) is not None for ev in evidence])
            value = RECALL_WEIGHT * flagged[y].mean() - flagged[~y].mean()
            if value > best_value + 1e-12:
                best, best_value = t, value
    return Thresholds(best.margin, best.topic_margin, tuple(fitted_on), bank_digest)


def model_path(knowledge_dir: Path) -> Path:
    return knowledge_dir / CONCERNS_DIR / MODEL_FILE


def seed_path(knowledge_dir: Path, model_version: str) -> Path:
    """The bank's vectors shipped beside it (written by `policybot concerns fit`), so a first
    start does not spend ~13 s on 2 cores encoding the bank's ~7,000 texts before it can answer."""
    return knowledge_dir / CONCERNS_DIR / "vectors" / f"{model_version}.npz"
