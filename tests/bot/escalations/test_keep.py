"""EscalationService.answer_and_keep on both backends: the answer goes to the asker whatever
happens to the files; what the lead ticked is written (note, phrasing), nothing without a say-so,
and a failed write is an error in the lead's words, never silent."""
from __future__ import annotations

from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService, author_of
from bot.knowledge.load import load_knowledge
from bot.knowledge.notes_write import Keep

from .conftest import Clock, make_answer, make_asker

QUESTION = "Can I accept a friend request from Jo Bloggs in year 6 who left in July?"


async def escalated(store, tiny_kb, **kw):
    registry = NotifierRegistry()
    registry.register("log", object())
    service = EscalationService(store, registry, clock=Clock(), knowledge_dir=tiny_kb, **kw)
    esc = await service.escalate(make_answer(), QUESTION, make_asker())
    return service, esc


async def test_a_reusable_answer_becomes_a_note_with_the_reviewed_question(store, tiny_kb):
    service, esc = await escalated(store, tiny_kb)
    keep = Keep(note=True, keep_question=True, question="Can I accept a friend request from a pupil who left?",
                phrasing=True, phrasing_for="1.2")
    done, outcome = await service.answer_and_keep(esc.id, "Ms A Lead", "Not until they are over 21.", keep)
    assert done.status == "answered" and not outcome.error
    assert outcome.kept.note_id == f"note-{esc.id}" and outcome.kept.phrasing_for == "1.2"
    assert "Saved as guidance note-" in outcome.message and "next time policybot loads" in outcome.message
    school = load_knowledge(tiny_kb).school("alpha")
    (note,) = school.notes
    assert note.text == "Not until they are over 21." and note.author == "Ms A Lead (Online Safety Lead)"
    assert note.date == "2027-01-15"  # the clock's day (1_800_000_000 s)
    assert note.about == ("Can I accept a friend request from a pupil who left?",)
    assert "Jo Bloggs" not in (tiny_kb / "notes" / "alpha.yaml").read_text()  # only the reviewed wording
    assert "Can I accept a friend request from a pupil who left?" in {c.id: c for c in school.clauses}["1.2"].about
    assert "answer_to_asker" in {m.kind for m in await service.messages(esc.id)}


async def test_without_a_say_so_nothing_is_written(store, tiny_kb):
    service, esc = await escalated(store, tiny_kb)
    done, outcome = await service.answer_and_keep(esc.id, "Ms A Lead", "Ask me in person.", None)
    assert done.status == "answered" and outcome.message == ""
    service, esc = await escalated(store, tiny_kb)
    done, outcome = await service.answer_and_keep(esc.id, "Ms A Lead", "Ask me in person.", Keep(question=QUESTION))
    assert outcome.message == ""
    assert not (tiny_kb / "notes").exists() and not (tiny_kb / "phrasings").exists()


async def test_a_failed_write_is_the_leads_to_know_and_the_asker_still_gets_the_answer(store, tiny_kb):
    broken = "school: alpha\nnotes: [\n"
    (tiny_kb / "notes").mkdir()
    (tiny_kb / "notes" / "alpha.yaml").write_text(broken)
    service, esc = await escalated(store, tiny_kb)
    done, outcome = await service.answer_and_keep(esc.id, "Ms A Lead", "Not yet.", Keep(note=True))
    assert done.status == "answered"
    assert outcome.error and outcome.message.startswith("Your answer was sent, but it was NOT saved as guidance")
    assert "kb check" in outcome.message
    assert (tiny_kb / "notes" / "alpha.yaml").read_text() == broken


async def test_no_knowledge_dir_says_so(store, tiny_kb):
    registry = NotifierRegistry()
    service = EscalationService(store, registry, clock=Clock())
    esc = await service.escalate(make_answer(), QUESTION, make_asker())
    _, outcome = await service.answer_and_keep(esc.id, "Ms A Lead", "Not yet.", Keep(note=True))
    assert "not set up" in outcome.error


async def test_a_senseless_request_is_refused_before_anything_is_sent(store, tiny_kb):
    service, esc = await escalated(store, tiny_kb)
    try:
        await service.answer_and_keep(esc.id, "Ms A Lead", "Yes.", Keep(note=True, keep_question=True, question=""))
    except ValueError as exc:
        assert "question to keep is empty" in str(exc)
    else:
        raise AssertionError("accepted an empty question to keep")
    assert (await service.get(esc.id)).status == "open"


def test_the_author_is_the_contact_by_name_or_by_chat_id():
    esc = type("E", (), {"lead": make_answer().lead, "deputy": make_answer().deputy})()
    assert author_of(esc, "ms a lead") == ("Ms A Lead", "Online Safety Lead")
    assert author_of(esc, "whold", user_id="U_LEAD") == ("Ms A Lead", "Online Safety Lead")
    assert author_of(esc, "Someone Else") == ("Someone Else", "")
