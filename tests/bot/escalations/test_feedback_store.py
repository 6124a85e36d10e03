"""The feedback record (one table for every channel), against SQLite and PostgreSQL alike."""
from __future__ import annotations

from dataclasses import replace

from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService

from .conftest import make_answer, make_asker

import pytest


@pytest.fixture
def service(store, clock):
    return EscalationService(store, NotifierRegistry(), clock)


async def test_an_answer_is_counted_once_and_votes_are_one_per_person(service, store, clock):
    answer = make_answer(decision="answer", reason="")
    assert await service.record_answer(answer, "slack:1", "slack", "U1", "can I friend a pupil?")
    assert not await service.record_answer(answer, "slack:1", "slack", "U1", "can I friend a pupil?")  # replay
    assert await service.record_feedback("slack:1", "slack", "U1", True)
    clock.advance(seconds=5)
    assert await service.record_feedback("slack:1", "slack", "U1", False)  # a changed mind replaces the vote
    assert await service.record_feedback("slack:1", "slack", "U2", True)
    rows = await store.feedback(answer_ref="slack:1")
    answered = [r for r in rows if r.event == "answered"]
    votes = {r.asker_id: r.helpful for r in rows if r.event == "vote"}
    assert len(answered) == 1 and answered[0].question == "can I friend a pupil?" and answered[0].helpful is None
    assert votes == {"U1": False, "U2": True}
    vote = next(r for r in rows if r.asker_id == "U2")
    assert (vote.school, vote.decision, vote.clauses, vote.question) == ("alpha", "answer", ("1.1",), None)


async def test_a_vote_on_an_unknown_answer_is_not_recorded(service, store):
    assert not await service.record_feedback("web:nope", "web", "tab-1", True)
    assert await store.feedback() == []


async def test_report_per_school_and_clause(service, store, clock):
    answer = make_answer(decision="answer", reason="")
    other = replace(answer, school="beta", citations=())
    await service.record_answer(answer, "web:a", "web", "t1", "q1")
    await service.record_answer(answer, "teams:2", "teams", "aad-1", "q2")
    await service.record_answer(other, "slack:3", "slack", "U1", "q3")
    await service.record_feedback("web:a", "web", "t1", True)
    await service.record_feedback("teams:2", "teams", "aad-1", False)
    await service.record_feedback("teams:2", "teams", "aad-2", False)
    await service.escalate(make_answer(), "escalated one", make_asker())
    report = await service.feedback_report()
    assert report["alpha"].totals.as_dict() == {"answered": 2, "helpful": 1, "not_helpful": 2, "escalated": 1}
    assert report["alpha"].clauses["1.1"].as_dict() == {"answered": 2, "helpful": 1, "not_helpful": 2,
                                                         "escalated": 1}
    assert report["beta"].totals.as_dict() == {"answered": 1, "helpful": 0, "not_helpful": 0, "escalated": 0}
    assert set(await service.feedback_report(school="beta")) == {"beta"}
    clock.advance(minutes=5)
    await service.record_answer(answer, "web:b", "web", "t1", "q4")
    later = await service.feedback_report(since=clock.now)
    assert later["alpha"].totals.as_dict() == {"answered": 1, "helpful": 0, "not_helpful": 0, "escalated": 0}


async def test_purge_blanks_feedback_question_text_after_retention(service, store, clock):
    answer = make_answer(decision="answer", reason="")
    await service.record_answer(answer, "web:old", "web", "t1", "about pupil Jo Bloggs")
    clock.advance(minutes=10)
    await service.record_answer(answer, "web:new", "web", "t1", "recent")
    await service.record_feedback("web:old", "web", "t1", False)
    await store.purge(closed_before=clock.now - 60, now=clock.now)
    (old,) = [r for r in await store.feedback(answer_ref="web:old") if r.event == "answered"]
    (new,) = [r for r in await store.feedback(answer_ref="web:new") if r.event == "answered"]
    assert old.question == "" and old.purged_at == clock.now and old.decision == "answer"  # counts stay
    assert new.question == "recent" and new.purged_at is None
    assert (await service.feedback_report())["alpha"].totals.not_helpful == 1


async def test_two_quick_presses_handled_out_of_order_keep_the_later_press(service, store):
    """Each press is handled in its own task: the later press must win by when it was pressed,
    not by which handler wrote last."""
    answer = make_answer(decision="answer", reason="")
    assert await service.record_answer(answer, "teams:7", "teams", "aad-1", "can I friend a pupil?")
    assert await service.record_feedback("teams:7", "teams", "aad-1", False, pressed_at=1000.2)  # pressed second
    assert await service.record_feedback("teams:7", "teams", "aad-1", True, pressed_at=1000.1)   # handled last
    votes = [(r.asker_id, r.helpful) for r in await store.feedback(answer_ref="teams:7") if r.event == "vote"]
    assert votes == [("aad-1", False)]
