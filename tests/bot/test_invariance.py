"""A school's answers depend on its own policy only: the same with 1, 5 or 500 schools loaded.

The old "another policy covers this better" evidence read every other school per question, so
answers changed with the deployment and the cost grew with it. Nothing in the decision may read
another school now; this holds it, for BM25 at 1 / 5 / 500 schools and for the fused default at
1 / 5 (the 495 extra schools are altered clones, built in memory).
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from bot.config import Settings
from bot.knowledge.load import KnowledgeBase, bundled_knowledge_dir, load_knowledge
from bot.service import BM25, FUSED, build_bot

from ..conftest import TODAY

SCHOOL = "tsat"


def _only(kb: KnowledgeBase, slugs) -> KnowledgeBase:
    return replace(kb, schools={s: kb.schools[s] for s in slugs},
                   school_synonyms={s: v for s, v in kb.school_synonyms.items() if s in slugs})


def _clones(kb: KnowledgeBase, n: int) -> KnowledgeBase:
    """`n` extra schools: copies of the bundled ones with new slugs and slightly altered text."""
    schools = dict(kb.schools)
    originals = list(kb.schools.values())
    for k in range(n):
        base = originals[k % len(originals)]
        slug = f"clone-{k:03d}"
        policies = tuple(replace(p, school=slug, clauses=tuple(
            replace(c, school=slug, text=c.text.replace("staff", "employees") + f" (clone {k})") for c in p.clauses))
            for p in base.policies)
        schools[slug] = replace(base, slug=slug, name=f"{base.name} {k}", policies=policies)
    return replace(kb, schools=schools)


def _questions(kb: KnowledgeBase) -> list[str]:
    """The school's own clause phrasings, and a few off-topic and silent ones."""
    about = [a for c in kb.schools[SCHOOL].clauses for a in c.about[:1]]
    return about[::3] + ["how do I book annual leave for friday?", "can I wear jeans on non-uniform day?",
                         "is it ok to bring my dog into the staff room?"]


def _decisions(bot, questions):
    out = []
    for q in questions:
        a = bot.answer(SCHOOL, q)
        out.append((a.decision, a.reason, a.confidence, tuple(c.clause_id for c in a.citations), a.headline))
    return out


@pytest.fixture(scope="module")
def bundled():
    return load_knowledge(bundled_knowledge_dir())


def test_bm25_answers_are_the_same_with_1_5_and_500_schools(bundled):
    settings = Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY, semantic=False)
    questions = _questions(bundled)
    alone = _decisions(build_bot(settings, _only(bundled, [SCHOOL]), BM25), questions)
    five = _decisions(build_bot(settings, bundled, BM25), questions)
    many = _decisions(build_bot(settings, _clones(bundled, 495), BM25), questions)
    assert len({d[0] for d in alone}) > 1  # the questions exercise more than one decision
    assert alone == five == many


def test_fused_answers_are_the_same_alone_and_among_five(bundled, model_cache):
    settings = Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY, cache_dir=model_cache)
    questions = _questions(bundled)
    five_bot = build_bot(settings, bundled, FUSED)
    if five_bot.mode != FUSED:
        pytest.skip("the embedding model is unavailable here")
    alone = _decisions(build_bot(settings, _only(bundled, [SCHOOL]), FUSED, concerns=five_bot.concerns), questions)
    assert alone == _decisions(five_bot, questions)
