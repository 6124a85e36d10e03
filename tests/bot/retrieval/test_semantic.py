"""The semantic stage's start: every school's clause texts encoded in one batched call, and the
vector cache written once per start, however many schools there are."""
from __future__ import annotations

import hashlib

import numpy as np

from bot.knowledge.load import load_knowledge
from bot.retrieval.semantic import SemanticScorer, clause_texts
from bot.retrieval.vector_cache import VectorCache
from tests.conftest import POLICY_A, SCHOOL_A, write


class FakeEncoder:
    """Deterministic unit vectors from each text's digest; records every encode call."""

    version = "fake-1"

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        out = np.array([np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[:16] for t in texts],
                       dtype=np.float32).reshape(len(texts), 16) - 127.5
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_units(self, texts):
        return self.encode(texts)


def test_all_schools_are_encoded_in_one_call_and_the_cache_written_once(tiny_kb, tmp_path, monkeypatch):
    for i in range(6):  # eight schools in all
        write(tiny_kb, f"schools/s{i}.yaml", SCHOOL_A.replace("alpha", f"s{i}"))
        write(tiny_kb, f"policies/s{i}/social-media.yaml",
              POLICY_A.replace("alpha", f"s{i}").replace("any social network", f"any social network ({i})"))
    kb = load_knowledge(tiny_kb)
    writes = []
    real_write = VectorCache._write
    monkeypatch.setattr(VectorCache, "_write", lambda self: (writes.append(self.path), real_write(self))[1])
    encoder = FakeEncoder()
    scorer = SemanticScorer(kb, encoder, tmp_path / "cache")
    assert len(encoder.calls) == 1 and len(writes) == 1
    texts = [t for school in kb.schools.values() for c in school.clauses for t in clause_texts(c)]
    assert scorer.encoded_at_start == len(set(texts)) == len(encoder.calls[0])
    # each school's vectors are its own clauses' (the slices line up)
    for slug, school in kb.schools.items():
        own = [t for c in school.clauses for t in clause_texts(c)]
        assert np.allclose(scorer._table[scorer._schools[slug].rows], encoder.encode(own))
        assert scorer._schools[slug].n_clauses == len(school.clauses)
    # a text several schools share (the same heading, the same about phrasing) is held once
    assert len(scorer._table) == len(set(texts)) < len(texts)
    # a restart with a warm cache encodes nothing and writes nothing
    encoder.calls.clear()
    writes.clear()
    again = SemanticScorer(kb, encoder, tmp_path / "cache")
    assert again.encoded_at_start == 0 and encoder.calls == [] and writes == []


def test_a_notes_passage_carries_the_question_it_answered_a_clauses_does_not():
    from bot.knowledge.load import Clause
    from bot.knowledge.notes import LEAD_ANSWER

    note = Clause("note-e1", "s", "notes", "Lead answers", "Yes, but check every word yourself.",
                  about=("Can I use ChatGPT for reports?", "ai for reports"), source=LEAD_ANSWER)
    clause = Clause("1.1", "s", "p", "Photos", "Images must not be posted.", about=("pics on insta",))
    assert clause_texts(note) == ["Lead answers: Can I use ChatGPT for reports? Yes, but check every word yourself.",
                                  "Can I use ChatGPT for reports?", "ai for reports"]
    assert clause_texts(clause) == ["Photos: Images must not be posted.", "pics on insta"]
