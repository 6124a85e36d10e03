"""Per-school search: a question only ever meets its own school's clauses."""
from __future__ import annotations

import pytest

from bot.knowledge.load import UnknownSchool, load_knowledge
from bot.retrieval.lexical import BM25Retriever


@pytest.fixture
def retriever(tiny_kb):
    return BM25Retriever(load_knowledge(tiny_kb))


def test_results_come_only_from_the_asking_school(retriever):
    for school in ("alpha", "beta"):
        result = retriever.search(school, "friend requests from former pupils", k=10)
        assert result.hits
        assert {h.clause.school for h in result.hits} == {school}


def test_unknown_school_is_refused_not_answered_from_another(retriever):
    with pytest.raises(UnknownSchool) as info:
        retriever.search("gamma", "friend requests")
    assert "alpha, beta" in str(info.value)


def test_synonyms_bring_staff_words_to_policy_words(retriever):
    # "old student" is not in any clause; the synonym group maps it to "former pupils".
    result = retriever.search("alpha", "old student wants to be mates")
    assert result.hits[0].clause.id == "1.2"
    assert "old" in result.query.expansions or "student" in result.query.expansions


def test_about_phrases_are_searched(retriever):
    result = retriever.search("alpha", "pics of my class on my facebook")
    assert result.hits[0].clause.id == "2.1"
    assert result.coverage > 0.9


def test_coverage_falls_for_words_the_policy_never_uses(retriever):
    on_topic = retriever.search("alpha", "photographs of pupils on personal accounts")
    off_topic = retriever.search("alpha", "photographs of the staff car park at parents evening")
    assert on_topic.coverage > 0.9
    assert off_topic.coverage < 0.5


def test_question_of_only_filler_has_no_hits(retriever):
    result = retriever.search("alpha", "is it ok?")
    assert result.hits == () and result.query.empty


def test_schools_with_the_same_synonym_groups_share_one_compiled_copy(tiny_kb):
    from tests.conftest import SCHOOL_A, POLICY_A, write

    for slug in ("gamma", "delta"):  # two more schools with no synonyms of their own
        write(tiny_kb, f"schools/{slug}.yaml", SCHOOL_A.replace("alpha", slug))
        write(tiny_kb, f"policies/{slug}/social-media.yaml", POLICY_A.replace("alpha", slug))
    write(tiny_kb, "schools/beta.yaml", """
        slug: beta
        name: Beta Academy
        lead: {role: Principal}
        deputy: {role: Chair of Governors}
        policies: [online-policy]
        synonyms:
          - staff: [brekkie club]
            policy: [breakfast club]
    """)
    retriever = BM25Retriever(load_knowledge(tiny_kb))
    shared = retriever.index("alpha").synonyms
    assert retriever.index("gamma").synonyms is shared and retriever.index("delta").synonyms is shared
    assert retriever.index("beta").synonyms is not shared  # its own group is added to the shared ones
    assert len(retriever.index("beta").synonyms.rules) == len(shared.rules) + 1
    # sharing changes nothing about what a school's search finds
    for slug in ("alpha", "gamma", "delta"):
        result = retriever.search(slug, "old student wants to be mates")
        assert result.hits[0].clause.id == "1.2" and result.hits[0].clause.school == slug
