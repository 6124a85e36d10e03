"""A draft under review (bot/knowledge/authoring.py), without HTTP: the live phrasings carried
over and reworded clauses marked, edits all-or-nothing, problems as kb check words them with
the file the draft becomes, and accepting writes a knowledge base that loads."""
from __future__ import annotations

import pytest

from bot.knowledge import authoring
from bot.knowledge.load import Contact, KnowledgeError, load_knowledge
from tests.adapters.policy_docx import write_policy_docx
from tests.adapters.test_authoring_api import ALPHA_V2

ST_MARYS = authoring.NewSchool("St Mary's Primary School", Contact("Online Safety Lead", "Mrs J Smith", "j@x.org"),
                               Contact("Designated Safeguarding Lead", email="dsl@x.org"))


def test_an_update_carries_the_live_phrasings_and_marks_reworded_clauses(tiny_kb, tmp_path):
    policy = tiny_kb / "policies/alpha/social-media.yaml"
    policy.write_text(policy.read_text().replace(
        "text: Staff may keep in touch with former pupils once they are over twenty one.",
        "text: Staff may keep in touch with former pupils once they are over twenty one.\n"
        "    about: [keep in touch with old students]"))
    doc = write_policy_docx(tmp_path / "a.docx", ALPHA_V2, title="Alpha Social Media Policy")
    draft = authoring.start_draft(doc, "a.docx", tiny_kb, "alpha", "social-media")
    assert draft.about == {"1.1": ["pupil adds me on instagram"], "1.2": ["keep in touch with old students"],
                           "2.1": ["pics of my class on my facebook"]}
    assert list(draft.review) == ["1.2"]
    assert "# review: reworded since the live version (1.2)" in authoring.policy_yaml(draft)
    diff = authoring.diff_with_live(draft, tiny_kb)
    assert diff["counts"]["reworded"] == 1 and diff["counts"]["added"] == 1
    authoring.edit(draft, about={"1.2": ["stay in touch with a former pupil"]})
    assert "1.2" not in draft.review and draft.revision == 1


def test_edits_are_all_or_nothing(tiny_kb, tmp_path):
    draft = authoring.start_draft(write_policy_docx(tmp_path / "s.docx"), "s.docx", tiny_kb, "st-marys",
                                  "social-media-policy", ST_MARYS)
    for about, metadata, words in [({"1.1": ["ok"], "9.9": ["x"]}, None, "no clause '9.9'"),
                                   ({"1.1": "not a list"}, None, "list of phrases"),
                                   ({"1.1": ["x" * 201]}, None, "at most 200"),
                                   ({"1.1": ["ok"]}, {"school": "beta"}, "cannot be edited"),
                                   (None, {"title": 5}, "must be text")]:
        with pytest.raises(authoring.DraftError, match=words):
            authoring.edit(draft, about, metadata)
    assert draft.about == {} and draft.revision == 0


def test_problems_name_the_file_and_line_the_draft_becomes(tiny_kb, tmp_path):
    draft = authoring.start_draft(write_policy_docx(tmp_path / "s.docx", dates=False), "s.docx", tiny_kb,
                                  "st-marys", "social-media-policy", ST_MARYS)
    with pytest.raises(KnowledgeError) as caught:
        authoring.validate(draft, tiny_kb)
    (problem,) = caught.value.problems
    assert problem.file == "knowledge/policies/st-marys/social-media-policy.yaml"
    assert "'next_review' is missing" in problem.message and problem.line > 1
    with pytest.raises(KnowledgeError):
        authoring.accept(draft, tiny_kb)
    assert not (tiny_kb / "schools/st-marys.yaml").exists() and not (tiny_kb / "sources/st-marys.txt").exists()


def test_accepting_writes_a_knowledge_base_that_loads(tiny_kb, tmp_path):
    draft = authoring.start_draft(write_policy_docx(tmp_path / "s.docx"), "s.docx", tiny_kb, "st-marys",
                                  "social-media-policy", ST_MARYS)
    authoring.edit(draft, about={"3.1": ["stream sports day"]})
    written = authoring.accept(draft, tiny_kb)
    assert written == ["sources/st-marys.txt", "policies/st-marys/social-media-policy.yaml", "schools/st-marys.yaml"]
    kb = load_knowledge(tiny_kb)
    clause = next(c for c in kb.schools["st-marys"].clauses if c.id == "3.1")
    assert clause.about == ("stream sports day",) and kb.schools["st-marys"].lead.name == "Mrs J Smith"
    assert not list(tiny_kb.rglob(".*.tmp"))  # written whole, through temporary files renamed


def test_check_target_refuses_what_could_not_go_live(tiny_kb):
    kb = load_knowledge(tiny_kb)
    bad = authoring.NewSchool("", Contact("Lead"), Contact("Deputy"))
    for args, words in [(("st-marys", "social-media-policy", None), "give its name"),
                        (("alpha", "social-media", ST_MARYS), "already a school"),
                        (("alpha", "other", None), "has no policy 'other'"),
                        (("St Marys", "p", ST_MARYS), "lower-case"),
                        (("st-marys", "Policy 1", ST_MARYS), "policy id"),
                        (("st-marys", "p", bad), "full name")]:
        with pytest.raises(authoring.DraftError, match=words):
            authoring.check_target(kb, tiny_kb, *args)


def test_a_draft_survives_being_stored_as_json(tmp_path):
    """What the server's database keeps (authoring_api.Drafts) reads back as the same draft."""
    import json

    from bot.knowledge.authoring import NewSchool, draft_from_dict, draft_to_dict
    from bot.knowledge.ingest import DraftClause
    from bot.knowledge.load import Contact

    draft = authoring.PolicyDraft(
        school="st-marys", policy_id="social-media-policy", filename="policy.docx",
        metadata={"title": "St Mary's Policy", "adopted": "", "reviewed": "", "next_review": "Autumn 2027"},
        clauses=[DraftClause("1.1", "1 Contact", "Staff must not befriend pupils.", 4, "", ["bullet joined"])],
        source_text="1 Contact\n1.1 Staff must not befriend pupils.\n", source="sources/st-marys.txt",
        excluded=[{"lines": "1-2", "why": "title block"}], skipped=["a table"], about={"1.1": ["pupil adds me"]},
        stance={"1.1": "must not"}, review={"1.1": "reworded"},
        new_school=NewSchool("St Mary's", Contact("Online Safety Lead", "Mrs J Smith", "j@x.org"),
                             Contact("Designated Safeguarding Lead")), revision=3)
    assert draft_from_dict(json.loads(json.dumps(draft_to_dict(draft)))) == draft
    with pytest.raises(authoring.DraftError):
        draft_from_dict({"school": "x"})
