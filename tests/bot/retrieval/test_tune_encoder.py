"""The encoder's training pairs come from the knowledge base alone (never an evaluation file),
and each in-batch negative is another clause of the same school."""
from __future__ import annotations

import random

import yaml

from bot.knowledge.load import bundled_knowledge_dir, load_knowledge
from bot.retrieval.semantic import clause_texts
from bot.retrieval.tune_encoder import (Pair, Silent, _silent_feed, batch_columns, pairs_digest, school_batches,
                                        silent_queries, training_pairs)
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


def _fold(text: str) -> str:
    return " ".join(clean_question(text, 100_000).lower().split())


def test_no_training_query_is_an_evaluation_question():
    kb, pairs = _pairs()
    silent = silent_queries(kb, bundled_knowledge_dir() / "drafts")
    files = sorted(EVAL_DIR.glob("*.yaml"))
    assert files, f"the labelled sets are expected beside the repository in {EVAL_DIR}"
    asked = {_fold(str(q["question"])) for f in files for q in yaml.safe_load(f.read_text()) or []}
    assert not asked & {_fold(p.query) for p in pairs}
    assert silent and not asked & {_fold(q.query) for q in silent}


def test_silent_training_questions_are_not_the_escalation_check_and_name_their_schools_clauses():
    kb, _ = _pairs()
    drafts = bundled_knowledge_dir() / "drafts"
    silent = silent_queries(kb, drafts)
    check = {_fold(q["text"]) for f in (drafts / "silent-questions").glob("*.yaml")
             for q in yaml.safe_load(f.read_text())["questions"]}
    assert len(silent) > 250 and len({q.school for q in silent}) == len(kb.schools)
    assert not check & {_fold(q.query) for q in silent}
    passages = {slug: {clause_texts(c)[0] for c in school.clauses} for slug, school in kb.schools.items()}
    assert all(q.nearest == "" or q.nearest in passages[q.school] for q in silent)
    assert sum(bool(q.nearest) for q in silent) > len(silent) / 2


def test_a_silent_question_targets_the_no_answer_column_and_brings_its_nearest_clause():
    batch = [Pair("a", "q1", "p1"), Pair("a", "q2", "p2"), Pair("a", "q3", "p1")]
    silent = [Silent("a", "s1", "p3"), Silent("a", "s2", "p2"), Silent("a", "s3", "")]
    texts, passages, targets = batch_columns(batch, silent)
    assert texts == ["q1", "q2", "q3", "s1", "s2", "s3"]
    assert passages == ["p1", "p2", "p3"]  # p1 once; p3 joins as s1's hard negative
    assert targets == [0, 1, 0, 3, 3, 3]  # 3: the column after the passages
    assert batch_columns(batch, []) == (["q1", "q2", "q3"], ["p1", "p2"], [0, 1, 0])


def test_each_batch_takes_the_next_silent_questions_of_its_own_school():
    silent = [Silent(s, f"{s}{i}", "") for s in "ab" for i in range(6)]
    take = _silent_feed(silent, random.Random(0))
    first, second, third = take("a"), take("a"), take("b")
    assert {q.school for q in first + second} == {"a"} and {q.school for q in third} == {"b"}
    assert len(first) == 4 and len(set(first) | set(second)) == 6  # it cycles through all of them
    assert take("c") == []


def test_batches_hold_one_school_each_and_every_pair_once():
    pairs = [Pair(s, f"q{s}{i}", f"p{s}{i % 7}") for s in "abc" for i in range(50)]
    batches = school_batches(pairs, random.Random(0), size=16)
    assert all(len({p.school for p in b}) == 1 and len(b) <= 16 for b in batches)
    assert sorted(p.query for b in batches for p in b) == sorted(p.query for p in pairs)
    assert [b[0] for b in batches] != [b[0] for b in school_batches(pairs, random.Random(1), size=16)]


def test_the_shipped_weights_say_what_they_were_tuned_on():
    root = bundled_knowledge_dir() / "encoder"
    answers = yaml.safe_load((root / "manifest.yaml").read_text())
    concerns = yaml.safe_load((root / "concerns" / "manifest.yaml").read_text())
    for manifest in (answers, concerns):
        assert manifest["pairs"] > 4000 and len(manifest["pairs_digest"]) == 16
        assert manifest["epochs"] >= 1 and manifest["written_by"] == "policybot encoder tune"
    kb, pairs = _pairs()
    silent = silent_queries(kb, bundled_knowledge_dir() / "drafts")
    assert answers["pairs_digest"] == concerns["pairs_digest"] == pairs_digest(pairs)  # today's drafts
    assert answers["silent_questions"] == len(silent) and answers["silent_digest"] == pairs_digest(silent)
    assert "silent_questions" not in concerns  # the concern detector's weights never saw them


def test_the_digest_changes_with_any_pair():
    pairs = [Pair("a", "q1", "p1"), Pair("a", "q2", "p2")]
    assert pairs_digest(pairs) != pairs_digest(pairs[:1]) and pairs_digest(pairs) != pairs_digest(pairs[::-1])
