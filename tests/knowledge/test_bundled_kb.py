"""The bundled knowledge base: five schools, verbatim clauses, whole policies, routable leads."""
from __future__ import annotations

import re

import pytest

from bot.knowledge.load import bundled_knowledge_dir, load_knowledge
from bot.knowledge.source_coverage import coverage
from bot.retrieval.text import collapse_ws
from tests.conftest import SHARED

SLUGS = ["arh", "kingsmead", "lzw", "thorpe-acre", "tsat"]
KB = load_knowledge(bundled_knowledge_dir())


def test_the_five_schools_are_bundled_with_a_lead_and_deputy():
    assert sorted(KB.schools) == SLUGS
    for school in KB.schools.values():
        assert school.lead.role and school.deputy.role and school.policies


def test_named_leads_from_the_policy_texts():
    assert KB.school("kingsmead").lead.name == "Andy Dunnett"
    assert {KB.school("arh").lead.name, KB.school("arh").deputy.name} == {"Mr W Holder", "Miss L Ellis"}
    for slug in ("thorpe-acre", "tsat", "lzw"):
        assert re.search(r"head ?teacher|principal", KB.school(slug).lead.role, re.I)


@pytest.mark.parametrize("slug", SLUGS)
def test_shipped_sources_are_the_schools_published_texts(slug):
    shared = SHARED / "policies" / f"{slug}.txt"
    if not shared.exists():
        pytest.skip(f"{shared} is not beside this checkout")
    assert (bundled_knowledge_dir() / "sources" / f"{slug}.txt").read_bytes() == shared.read_bytes()


@pytest.mark.parametrize("slug", SLUGS)
def test_every_clause_is_verbatim_in_its_source(slug):
    for policy in KB.school(slug).policies:
        source = collapse_ws((bundled_knowledge_dir() / policy.source).read_text(encoding="utf-8"))
        for clause in policy.clauses:
            assert collapse_ws(clause.text) in source, clause.id
            if clause.lead_in:
                assert collapse_ws(clause.lead_in) in source, clause.id


@pytest.mark.parametrize("slug", SLUGS)
def test_at_least_98_percent_of_source_sentences_are_in_a_clause(slug):
    for policy in KB.school(slug).policies:
        cov = coverage(policy, bundled_knowledge_dir())
        assert cov.total > 30
        assert cov.ratio >= 0.98, f"{cov.covered}/{cov.total}; missing: {cov.missing}"


@pytest.mark.parametrize("slug", SLUGS)
def test_clause_ids_are_unique_and_keep_the_policys_numbering(slug):
    ids = [c.id for c in KB.school(slug).clauses]
    assert len(ids) == len(set(ids))
    numbered = [i for i in ids if re.match(r"^(?:[A-Z]\.)?\d+(?:\.\d+)+", i)]
    if slug in ("kingsmead", "tsat", "lzw"):
        assert len(numbered) > len(ids) / 2  # these policies number their paragraphs


def test_policy_own_numbering_examples():
    tsat = {c.id for c in KB.school("tsat").clauses}
    assert {"5.4", "A.4.11", "A.3.2", "A.1.8"} <= tsat
    lzw = {c.id: c for c in KB.school("lzw").clauses}
    assert "past pupils whilst they are below the age of nineteen" in lzw["6.2(b)"].text
    assert lzw["6.2(b)"].lead_in.startswith("Safeguarding children is the responsibility")


def test_bullets_keep_their_lead_in():
    gross = [c for c in KB.school("tsat").clauses if c.text.startswith("Pornographic material")]
    assert len(gross) == 1 and "will amount to gross misconduct" in gross[0].lead_in


def test_most_clauses_carry_about_phrasings():
    clauses = [c for s in KB.schools.values() for c in s.clauses]
    with_about = [c for c in clauses if c.about]
    assert len(with_about) / len(clauses) > 0.7


def test_review_dates():
    dates = {s: KB.school(s).policies[0].next_review_by.isoformat() for s in SLUGS}
    assert dates == {"arh": "2025-09-30", "kingsmead": "2021-07-31", "lzw": "2026-12-31",
                     "thorpe-acre": "2023-01-19", "tsat": "2026-12-31"}
