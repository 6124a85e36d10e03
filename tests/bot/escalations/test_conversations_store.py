"""The web chat's conversations in the escalation store, on SQLite and PostgreSQL: turns kept
under the hash of the conversation id only, served to that id alone, linked to the escalation
whose lead answer comes later, upgraded into an older database, deleted by the retention purge."""
from __future__ import annotations

import secrets

from bot.escalations.conversations import conversation_key, valid_conversation_id
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService

from .conftest import Clock, make_answer, make_asker


def service_of(store, clock=None) -> EscalationService:
    registry = NotifierRegistry()
    registry.register("log", object())
    return EscalationService(store, registry, clock=clock or Clock())


async def test_turns_are_served_to_their_conversation_only_oldest_first(store):
    clock = Clock()
    service = service_of(store, clock)
    mine, theirs = secrets.token_hex(16), secrets.token_hex(16)
    first = await service.record_turn(mine, "alpha", "can I friend a parent?", {"decision": "answer", "text": "No."})
    clock.advance(seconds=5)
    second = await service.record_turn(mine, "alpha", "and a former pupil?", {"decision": "escalate"})
    await service.record_turn(theirs, "alpha", "someone else's question", {"decision": "answer"})
    history = await service.history(mine)
    assert [(t.id, t.question, t.reply["decision"]) for t, _ in history] == [
        (first, "can I friend a parent?", "answer"), (second, "and a former pupil?", "escalate")]
    assert [t.question for t, _ in await service.history(theirs)] == ["someone else's question"]
    assert await service.history(secrets.token_hex(16)) == []
    async with store._tx() as tx:  # the id itself, the only key to the history, is never stored
        rows = await tx.fetch("SELECT conversation_key FROM conversation_turns")
    assert {r["conversation_key"] for r in rows} == {conversation_key(mine), conversation_key(theirs)}
    assert mine not in str([dict(r) for r in rows])


async def test_a_lead_answer_that_comes_later_is_in_the_history(store):
    service = service_of(store)
    conv = secrets.token_hex(16)
    esc = await service.escalate(make_answer(), "may I message a parent on WhatsApp?", make_asker())
    turn = await service.record_turn(conv, "alpha", "may I message a parent on WhatsApp?", {"decision": "escalate"},
                                     esc.id)
    ((_, before),) = await service.history(conv)
    assert before.id == esc.id and before.answer_text == ""
    await service.answer(esc.id, "Ms A Lead", "Only through ParentMail, please.")
    ((got, after),) = await service.history(conv)
    assert got.id == turn and after.answer_text == "Only through ParentMail, please." and after.status == "answered"


async def test_ask_lead_links_only_a_turn_of_the_same_conversation(store):
    service = service_of(store)
    mine, theirs = secrets.token_hex(16), secrets.token_hex(16)
    turn = await service.record_turn(mine, "alpha", "q", {"decision": "answer"})
    esc = await service.escalate(make_answer(), "q", make_asker())
    assert not await service.attach_escalation(theirs, turn, esc.id)
    assert (await service.history(mine))[0][1] is None
    assert await service.attach_escalation(mine, turn, esc.id)
    assert (await service.history(mine))[0][1].id == esc.id


async def test_the_retention_purge_deletes_old_turns_and_keeps_recent_ones(store):
    clock = Clock()
    service = service_of(store, clock)
    conv = secrets.token_hex(16)
    await service.record_turn(conv, "alpha", "old question", {"decision": "answer"})
    clock.advance(minutes=60 * 24 * 91)
    await service.record_turn(conv, "alpha", "new question", {"decision": "answer"})
    await store.purge(clock() - 90 * 86400, clock())
    assert [t.question for t, _ in await service.history(conv)] == ["new question"]


def test_conversation_ids_must_be_long_random_tokens():
    assert valid_conversation_id(secrets.token_hex(16)) and valid_conversation_id(secrets.token_urlsafe(32))
    for bad in ("", "1", "a" * 31, "a" * 129, "../" + "a" * 40, None, 12345678901234567890123456789012345):
        assert not valid_conversation_id(bad)
