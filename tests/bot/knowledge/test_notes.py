"""The lead's notes and approved phrasings as knowledge: loaded as that school's clauses only,
validated file:line, written atomically without corrupting what is there, and found by
retrieval (a note cited as the lead's dated guidance; a phrasing ranks its clause)."""
from __future__ import annotations

import shutil
import threading
from datetime import date

import pytest

from adapters import cli
from bot.config import Settings
from bot.knowledge.load import KnowledgeError, bundled_knowledge_dir, load_knowledge
from bot.knowledge.notes import LEAD_ANSWER, NOTES_POLICY_ID
from bot.knowledge.notes_write import Keep, KnowledgeWriteError, save
from bot.render import render_text
from bot.service import build_bot
from tests.conftest import TODAY, write

NOTE = """
    school: alpha
    notes:
      - id: note-e1
        source: lead answer
        question: can I wave at pupils on a tiktok live
        text: No. Do not join or react to pupils' TikTok lives, from any account.
        author: Ms A Lead
        role: Online Safety Lead
        date: "2026-11-20"
        escalation: e1
"""


def problems(root) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    return [str(p) for p in info.value.problems]


def keep_note(root, school="alpha", esc="e9", question="", **keep):
    return save(root, school, Keep(note=True, question=question, keep_question=bool(question), **keep),
                answer="Yes, once they have left the school and are over 18.", author="Ms A Lead",
                role="Online Safety Lead", day="2026-11-25", escalation_id=esc)


def test_notes_load_as_clauses_of_their_school_only(tiny_kb):
    write(tiny_kb, "notes/alpha.yaml", NOTE)
    kb = load_knowledge(tiny_kb)
    (note,) = kb.school("alpha").notes
    assert note.id == "note-e1" and note.source == LEAD_ANSWER and note.is_note
    assert note.author == "Ms A Lead (Online Safety Lead)" and note.date == "2026-11-20"
    assert note.about == ("can I wave at pupils on a tiktok live",)  # the kept question is searched
    assert note.policy_id == NOTES_POLICY_ID and note in kb.school("alpha").clauses
    assert kb.school("alpha").policy(NOTES_POLICY_ID).clauses == (note,)
    assert not kb.school("alpha").policy(NOTES_POLICY_ID).overdue(date.max)
    assert kb.school("beta").notes == () and all(not c.is_note for c in kb.school("beta").clauses)
    assert [p.id for p in kb.school("alpha").policies] == ["social-media"]  # not listed as a policy


def test_phrasings_merge_into_the_clause_or_note_they_name(tiny_kb):
    write(tiny_kb, "notes/alpha.yaml", NOTE)
    write(tiny_kb, "phrasings/alpha.yaml", """
        school: alpha
        phrasings:
          - clause: "1.2"
            about: stay in touch with old students
            author: Ms A Lead
            date: "2026-11-25"
          - clause: note-e1
            about: tiktok lives of my class
    """)
    school = load_knowledge(tiny_kb).school("alpha")
    by_id = {c.id: c for c in school.clauses}
    assert by_id["1.2"].about == ("stay in touch with old students",)
    assert by_id["1.1"].about == ("pupil adds me on instagram",)
    assert by_id["note-e1"].about == ("can I wave at pupils on a tiktok live", "tiktok lives of my class")


def test_bad_notes_are_named_by_file_and_line(tiny_kb):
    write(tiny_kb, "notes/alpha.yaml", """
        school: alpha
        notes:
          - id: "1.1"
            source: lead
            text: a reply
            date: 20/11/2026
          - id: n2
            source: lead answer
            text: fine
            author: Ms A Lead
            date: "2026-11-25"
            colour: blue
    """)
    found = problems(tiny_kb)
    assert "knowledge/notes/alpha.yaml:3: note 1.1: id is already a clause of this school's policy" in found
    assert "knowledge/notes/alpha.yaml:4: note 1.1: source must be 'lead answer' (it is 'lead')" in found
    assert "knowledge/notes/alpha.yaml:3: note 1.1: 'author' is missing or empty" in found
    assert ("knowledge/notes/alpha.yaml:6: note 1.1: 'date' must be a date written YYYY-MM-DD, not '20/11/2026'"
            in found)
    assert any(p.startswith("knowledge/notes/alpha.yaml:12: unknown field 'colour' in note") for p in found)


def test_malformed_yaml_and_unknown_targets_are_named(tiny_kb):
    write(tiny_kb, "notes/alpha.yaml", "school: alpha\nnotes:\n  - {id: n2, text: [1\n")
    write(tiny_kb, "phrasings/alpha.yaml", """
        school: alpha
        phrasings:
          - clause: "9.9"
            about: nothing like it
          - about: no clause
    """)
    write(tiny_kb, "notes/gamma.yaml", "school: gamma\nnotes: []\n")
    found = problems(tiny_kb)
    assert any(p.startswith("knowledge/notes/alpha.yaml:4: malformed YAML") for p in found), found
    assert ("knowledge/phrasings/alpha.yaml:3: phrasing for '9.9': no such clause in this school's knowledge "
            "(a note's id works too)") in found
    assert "knowledge/phrasings/alpha.yaml:5: phrasing: 'clause' is missing or empty" in found
    assert "knowledge/notes/gamma.yaml:0: notes for unknown school 'gamma' (no schools/gamma.yaml)" in found


def test_kb_check_passes_with_a_saved_note_and_fails_naming_a_broken_one(tiny_kb, capsys):
    keep_note(tiny_kb, question="can I friend an ex-pupil who is 19 now?", phrasing=True)
    assert cli.main(["kb", "check", "--dir", str(tiny_kb)]) == 0
    assert "ok: 2 schools, 8 clauses" in capsys.readouterr().out  # 7 policy clauses + the note
    path = tiny_kb / "notes" / "alpha.yaml"
    path.write_text(path.read_text().replace("    author: Ms A Lead\n", ""))
    assert cli.main(["kb", "check", "--dir", str(tiny_kb)]) == 1
    err = capsys.readouterr().err
    assert "knowledge/notes/alpha.yaml:" in err and "'author' is missing or empty" in err
    assert "-> Give who gave the answer under 'author:'" in err


def test_the_writer_appends_keeping_comments_and_nothing_without_a_say_so(tiny_kb):
    assert save(tiny_kb, "alpha", Keep(), answer="x", author="A", role="", day="2026-11-25",
                escalation_id="e0").note_id == ""
    assert not (tiny_kb / "notes").exists() and not (tiny_kb / "phrasings").exists()

    write(tiny_kb, "notes/alpha.yaml", "# reviewed by the governors, keep this line\n" + NOTE.replace("\n    ", "\n"))
    kept = keep_note(tiny_kb, esc="e2")
    assert kept.note_id == "note-e2" and kept.note_file == "knowledge/notes/alpha.yaml"
    text = (tiny_kb / "notes" / "alpha.yaml").read_text()
    assert text.startswith("# reviewed by the governors, keep this line\n") and "note-e1" in text
    (old, new) = load_knowledge(tiny_kb).school("alpha").notes
    assert new.id == "note-e2" and new.about == ()  # no question kept: the lead did not say so
    assert "escalation: e2" in text and "question:" not in text.split("note-e2")[1]
    with pytest.raises(KnowledgeWriteError, match="saved already, as note-e2"):
        keep_note(tiny_kb, esc="e2")


def test_a_flow_style_file_is_rewritten_whole_and_still_valid(tiny_kb):
    write(tiny_kb, "notes/alpha.yaml", "school: alpha\nnotes: []\n")
    keep_note(tiny_kb, esc="e3", question="friend request from a pupil who left?")
    (note,) = load_knowledge(tiny_kb).school("alpha").notes
    assert note.about == ("friend request from a pupil who left?",)


def test_a_broken_file_is_never_overwritten(tiny_kb):
    broken = "school: alpha\nnotes:\n  - {id: n2, text: [1\n"
    write(tiny_kb, "notes/alpha.yaml", broken)
    with pytest.raises(KnowledgeWriteError, match="problem"):
        keep_note(tiny_kb)
    assert (tiny_kb / "notes" / "alpha.yaml").read_text() == broken
    assert [p.name for p in (tiny_kb / "notes").iterdir()] == ["alpha.yaml"]  # no temporary left


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(tiny_kb, monkeypatch):
    write(tiny_kb, "notes/alpha.yaml", NOTE)
    before = (tiny_kb / "notes" / "alpha.yaml").read_bytes()

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bot.knowledge.notes_write.os.replace", refuse)
    with pytest.raises(KnowledgeWriteError, match="No space left on device"):
        keep_note(tiny_kb)
    assert (tiny_kb / "notes" / "alpha.yaml").read_bytes() == before
    assert sorted(p.name for p in (tiny_kb / "notes").iterdir()) == ["alpha.yaml"]


def test_a_write_that_would_break_the_knowledge_base_is_put_back(tiny_kb):
    write(tiny_kb, "phrasings/alpha.yaml", "school: alpha\nphrasings:\n  - clause: '1.1'\n    about: hi\n")
    before = (tiny_kb / "phrasings" / "alpha.yaml").read_text()
    with pytest.raises(KnowledgeWriteError, match="no clause '7.7'"):
        save(tiny_kb, "alpha", Keep(phrasing=True, question="q", phrasing_for="7.7"), answer="a", author="A",
             role="", day="2026-11-25", escalation_id="e4")
    assert (tiny_kb / "phrasings" / "alpha.yaml").read_text() == before


def test_two_leads_saving_at_once_both_keep_their_note(tiny_kb):
    errors = []

    def one(i):
        try:
            keep_note(tiny_kb, esc=f"e{i}")
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(n.id for n in load_knowledge(tiny_kb).school("alpha").notes) == [f"note-e{i}" for i in range(6)]


def test_a_request_without_its_question_is_refused():
    with pytest.raises(ValueError, match="question to keep is empty"):
        Keep(note=True, keep_question=True, question="  ").check()
    with pytest.raises(ValueError, match="which clause"):
        Keep(phrasing=True, question="q").check()


@pytest.fixture
def bundled_copy(tmp_path):
    root = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), root)
    return root


AI_QUESTION = "Can I use ChatGPT to help write my pupils' end of year reports?"
AI_ANSWER = ("Yes, but never paste a pupil's name or any personal data into it, and check every word "
             "yourself before the report goes home.")


def test_a_saved_note_answers_a_similar_question_as_the_leads_dated_guidance(bundled_copy):
    settings = Settings(knowledge_dir=bundled_copy, today=TODAY)
    similar = "is it ok to use chatgpt to help write the end of year reports for my class?"
    before = build_bot(settings).answer("tsat", similar)
    assert all(c.source == "policy" for c in before.citations)
    save(bundled_copy, "tsat", Keep(note=True, keep_question=True, question=AI_QUESTION), answer=AI_ANSWER,
         author="Ms A Lead", role="Online Safety Lead", day="2026-11-25", escalation_id="e5")
    assert cli.main(["kb", "check", "--dir", str(bundled_copy)]) == 0
    bot = build_bot(settings)
    answer = bot.answer("tsat", similar)
    assert answer.decision == "answer"
    top = answer.citations[0]
    assert (top.clause_id, top.source, top.author, top.date) == (
        "note-e5", "lead answer", "Ms A Lead (Online Safety Lead)", "2026-11-25")
    assert top.as_dict()["source"] == "lead answer" and top.as_dict()["date"] == "2026-11-25"
    text = render_text(answer)
    assert "Guidance from Ms A Lead (Online Safety Lead), 25 November 2026" in text
    assert "section note-e5" not in text and "not policy text" in text
    # that school only: another school's asker never gets it
    assert all(not c.source == "lead answer" for c in bot.answer("kingsmead", similar).citations)


def test_an_approved_phrasing_makes_the_retriever_rank_its_clause(bundled_copy):
    settings = Settings(knowledge_dir=bundled_copy, today=TODAY)
    wording = "can I go on the class's snapchat streak thing with year 6"
    before = build_bot(settings).retriever.search("tsat", wording, k=10)
    target = "5.5"  # staff communicating with pupils through social media only via official sites
    assert before.hits[0].clause.id != target
    save(bundled_copy, "tsat", Keep(phrasing=True, question=wording, phrasing_for=target), answer="No.",
         author="Ms A Lead", role="", day="2026-11-25", escalation_id="e6")
    after = build_bot(settings).retriever.search("tsat", wording, k=10)
    assert after.hits[0].clause.id == target
    assert wording in next(c for c in load_knowledge(bundled_copy).school("tsat").clauses if c.id == target).about
