"""The encoder's training pairs come from the knowledge base alone (never an evaluation file),
and each in-batch negative is another clause of the same school."""
from __future__ import annotations

import random

import yaml

from bot.knowledge.load import bundled_knowledge_dir, load_knowledge
from bot.retrieval.semantic import clause_texts
from bot.retrieval.tune_encoder import Pair, pairs_digest, school_batches, training_pairs
from bot.decide.answer import clean_question
from tests.conftest import REPO

EVAL_DIR = REPO.parent / "shared" / "eval"


def _pairs():
    root = bundled_knowledge_dir()
    kb = load_knowledge(root)
    return kb, training_pairs(kb, root / "drafts")


def test_every_pair_is_a_query_and_the_passage_of_a_clause_of_its_school():
    kb, pairs = _pairs()
    passages = {slug: {clause_texts(c)[0] for c in school.clauses} for slug, school in kb.schools.items()}
    assert len(pairs) > 4000 and len({p.school for p in pairs}) == len(kb.schools)
    assert all(p.query and p.passage in passages[p.school] for p in pairs)
    abouts = {" ".join(a.split()) for school in kb.schools.values() for c in school.clauses for a in c.about}
    from_drafts = {p.query for p in pairs} - abouts
    assert len(from_drafts) > 900  # the third round of example questions and the second of phrasings
    assert len(set(pairs)) == len(pairs)


def test_no_training_query_is_an_evaluation_question():
    _, pairs = _pairs()
    files = sorted(EVAL_DIR.glob("*.yaml"))
    assert files, f"the labelled sets are expected beside the repository in {EVAL_DIR}"
    fold = lambda t: " ".join(clean_question(t, 100_000).lower().split())  # noqa: E731
    asked = {fold(str(q["question"])) for f in files for q in yaml.safe_load(f.read_text()) or []}
    assert not asked & {fold(p.query) for p in pairs}


def test_batches_hold_one_school_each_and_every_pair_once():
    pairs = [Pair(s, f"q{s}{i}", f"p{s}{i % 7}") for s in "abc" for i in range(50)]
    batches = school_batches(pairs, random.Random(0), size=16)
    assert all(len({p.school for p in b}) == 1 and len(b) <= 16 for b in batches)
    assert sorted(p.query for b in batches for p in b) == sorted(p.query for p in pairs)
    assert [b[0] for b in batches] != [b[0] for b in school_batches(pairs, random.Random(1), size=16)]


def test_the_shipped_weights_say_what_they_were_tuned_on():
    manifest = yaml.safe_load((bundled_knowledge_dir() / "encoder" / "manifest.yaml").read_text())
    assert manifest["pairs"] > 4000 and len(manifest["pairs_digest"]) == 16
    assert manifest["epochs"] >= 1 and manifest["written_by"] == "policybot encoder tune"


def test_the_digest_changes_with_any_pair():
    pairs = [Pair("a", "q1", "p1"), Pair("a", "q2", "p2")]
    assert pairs_digest(pairs) != pairs_digest(pairs[:1]) and pairs_digest(pairs) != pairs_digest(pairs[::-1])
