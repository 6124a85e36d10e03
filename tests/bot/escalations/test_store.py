"""The store contract, run against SQLite and PostgreSQL alike (PostgreSQL skipped with a reason
when POLICYBOT_TEST_DATABASE_URL is unset or unreachable)."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.escalations import routing
from bot.escalations.model import (ACKNOWLEDGED, ANSWERED, CANCELLED, CLOSED, OPEN, PENDING, REROUTED, SENDING,
                                   SENT, IllegalTransition, NotFound)
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService
from bot.escalations.store import Conflict, migrations

from .conftest import make_answer, make_asker, settings


def registry(*channels):
    r = NotifierRegistry()
    for c in channels:
        r.register(c, object())
    return r


@pytest.fixture
def service(store, clock):
    return EscalationService(store, registry("log", "email", "slack"), clock)


async def test_escalate_writes_the_record_and_its_notice_together(service, store):
    esc = await service.escalate(make_answer(), "Can I friend a parent on Facebook?", make_asker())
    got = await store.get(esc.id)
    assert got == esc
    assert got.status == OPEN and got.reason == "low_confidence" and not got.urgent
    assert got.candidates[0].clause_id == "1.1" and "Alpha Social Media Policy" in got.candidates[0].ref
    assert got.lead.name == "Ms A Lead" and got.asker.thread == "th-1"
    [msg] = await store.messages(esc.id)
    assert (msg.kind, msg.recipient_role, msg.channel, msg.address) == ("notify_lead", "lead", "slack", "U_LEAD")
    assert msg.status == PENDING and msg.idempotency_key == f"{esc.id}:notify_lead"


async def test_urgent_answer_notifies_lead_and_deputy_at_once(service, store):
    esc = await service.escalate(make_answer("urgent", "urgent", concern="disclosure"), "a child told me...",
                                 make_asker())
    assert esc.urgent and esc.reason == "urgent" and esc.concern == "disclosure"
    msgs = await store.messages(esc.id)
    assert sorted((m.kind, m.recipient_role) for m in msgs) == [("urgent", "deputy"), ("urgent", "lead")]


async def test_reason_follows_the_answer_or_the_askers_button(service):
    silent = await service.escalate(make_answer(reason="policy_silent"), "q", make_asker())
    pressed = await service.escalate(make_answer("answer", "confident"), "q", make_asker())
    assert (silent.reason, pressed.reason) == ("policy_silent", "asked_by_user")
    with pytest.raises(ValueError, match="unknown escalation reason"):
        await service.escalate(make_answer(), "q", make_asker(), reason="bored")


async def test_dedupe_key_never_creates_two_escalations(service, store):
    a = await service.escalate(make_answer(), "q", make_asker(), dedupe_key="slack:T1:C1:123.4")
    b = await service.escalate(make_answer(), "q", make_asker(), dedupe_key="slack:T1:C1:123.4")
    assert a.id == b.id
    assert len(await store.list()) == 1 and len(await store.messages()) == 1


async def test_concurrent_dedupe_creates_one(service, store):
    results = await asyncio.gather(*[service.escalate(make_answer(), "q", make_asker(), dedupe_key="k")
                                     for _ in range(5)])
    assert len({e.id for e in results}) == 1 and len(await store.list()) == 1


async def test_lifecycle_and_timestamps(service, store, clock):
    esc = await service.escalate(make_answer(), "q", make_asker())
    clock.advance(60)
    acked = await service.acknowledge(esc.id, "Ms A Lead")
    assert acked.status == ACKNOWLEDGED and acked.holder == "Ms A Lead" and acked.acknowledged_at == clock.now
    clock.advance(60)
    answered = await service.answer(esc.id, "Ms A Lead", "Yes, via the school account only.")
    clock.advance(60)
    closed = await service.close(esc.id)
    got = await store.get(esc.id)
    assert got == closed and got.status == CLOSED
    assert got.created_at < got.acknowledged_at < got.answered_at < got.closed_at
    assert got.answer_text == "Yes, via the school account only." and got.answered_by == "Ms A Lead"
    reply = [m for m in await store.messages(esc.id) if m.kind == "answer_to_asker"][0]
    assert reply.channel == "web" and reply.address == "u1" and answered.status == ANSWERED
    assert reply.payload["conversation"] == "conv-1" and reply.payload["thread"] == "th-1"
    assert "Ms A Lead (Online Safety Lead)" in reply.payload["text"]
    assert "> Yes, via the school account only." in reply.payload["text"]


@pytest.mark.parametrize("steps,bad", [
    ([], "close_then_ack"),
    (["ack"], "ack"),
    (["answer"], "ack"),
    (["close"], "answer"),
    (["close"], "close"),
])
async def test_illegal_transitions_are_refused_clearly(service, store, steps, bad):
    esc = await service.escalate(make_answer(), "q", make_asker())
    do = {"ack": lambda: service.acknowledge(esc.id, "X"), "answer": lambda: service.answer(esc.id, "X", "text"),
          "close": lambda: service.close(esc.id)}
    if bad == "close_then_ack":
        steps, bad = ["close"], "ack"
    for step in steps:
        await do[step]()
    before = await store.get(esc.id)
    with pytest.raises(IllegalTransition, match=f"escalation {esc.id} is {before.status}"):
        await do[bad]()
    assert await store.get(esc.id) == before


async def test_a_stale_writer_loses_to_the_first(service, store):
    esc = await service.escalate(make_answer(), "q", make_asker())
    await service.acknowledge(esc.id, "Ms A Lead")
    stale = replace(esc, status=CLOSED, closed_at=1.0)
    with pytest.raises(Conflict):
        await store.transition(stale, OPEN)


async def test_unknown_id(service):
    with pytest.raises(NotFound):
        await service.get("nope")


async def test_list_filters_by_status_and_school(service, store, clock):
    a = await service.escalate(make_answer(), "q1", make_asker())
    clock.advance(1)
    b = await service.escalate(replace(make_answer(), school="beta", school_name="Beta"), "q2", make_asker())
    await service.acknowledge(a.id, "X")
    assert [e.id for e in await store.list()] == [b.id, a.id]  # newest first
    assert [e.id for e in await store.list(status=ACKNOWLEDGED)] == [a.id]
    assert [e.id for e in await store.list(school="beta")] == [b.id]
    assert await store.list(status=OPEN, school="alpha") == []


async def test_claim_mark_sent_and_retry(service, store, clock):
    esc = await service.escalate(make_answer(), "q", make_asker())
    [m] = await store.claim_due(clock.now, ["slack"], 10, 30, "w1")
    assert m.status == SENDING and m.attempts == 1 and m.claim_token == "w1"
    assert await store.claim_due(clock.now, ["slack"], 10, 30, "w2") == []  # held by w1
    assert await store.mark_retry(m, "boom", clock.now + 100)
    assert await store.claim_due(clock.now + 50, ["slack"], 10, 30, "w1") == []  # not due yet
    [m2] = await store.claim_due(clock.now + 100, ["slack"], 10, 30, "w1")
    assert m2.attempts == 2 and m2.last_error == "boom"
    assert await store.mark_sent(m2, clock.now + 101)
    [done] = await store.messages(esc.id)
    assert done.status == SENT and done.sent_at == clock.now + 101
    assert await store.claim_due(clock.now + 10_000, ["slack"], 10, 30, "w1") == []


async def test_claims_only_channels_it_serves(service, store, clock):
    await service.escalate(make_answer(), "q", make_asker())
    assert await store.claim_due(clock.now, ["email", "log"], 10, 30, "w") == []


async def test_a_dead_workers_claim_is_taken_over_after_its_lease(service, store, clock):
    await service.escalate(make_answer(), "q", make_asker())
    [m] = await store.claim_due(clock.now, ["slack"], 10, 30, "dead")
    assert await store.claim_due(clock.now + 29, ["slack"], 10, 30, "live") == []
    [again] = await store.claim_due(clock.now + 30, ["slack"], 10, 30, "live")
    assert again.id == m.id and again.attempts == 2 and again.claim_token == "live"
    assert not await store.mark_sent(m, clock.now)  # the dead worker's token no longer counts
    assert await store.mark_sent(again, clock.now)


async def test_concurrent_claims_never_share_a_message(service, store, clock):
    for i in range(12):
        await service.escalate(make_answer(), f"q{i}", make_asker())
    batches = await asyncio.gather(*[store.claim_due(clock.now, ["slack"], 5, 30, f"w{i}") for i in range(4)])
    ids = [m.id for batch in batches for m in batch]
    assert len(ids) == 12 and len(set(ids)) == 12


async def test_reroute_records_the_handover_atomically(service, store, clock):
    esc = await service.escalate(make_answer(), "q", make_asker())
    [m] = await store.claim_due(clock.now, ["slack"], 10, 30, "w")
    target = routing.next_target(esc, m, ["slack", "email", "log"])
    new = routing.reroute_message(esc, m, target, clock.now, "unreachable")
    assert await store.reroute(m, "unreachable", new)
    old, replacement = sorted(await store.messages(esc.id), key=lambda x: x.id != m.id)
    assert old.status == REROUTED and old.rerouted_to == replacement.id and old.last_error == "unreachable"
    assert replacement.recipient_role == "lead" and replacement.channel == "email"  # deputy has no slack id
    assert "fallback from lead via slack" in replacement.payload["note"]


async def test_timer_messages_are_inserted_once(service, store, clock):
    esc = await service.escalate(make_answer(), "q", make_asker())
    due = routing.due_messages(esc, clock.now + 3600, settings(), ["slack", "log"])
    assert await store.add_messages(due) == 1
    again = routing.due_messages(esc, clock.now + 3601, settings(), ["slack", "log"])
    assert await store.add_messages(again) == 0


async def test_acknowledging_cancels_pending_reminders(service, store, clock):
    esc = await service.escalate(make_answer(), "q", make_asker())
    await store.add_messages(routing.due_messages(esc, clock.now + 3600, settings(), ["slack"]))
    await service.acknowledge(esc.id, "Ms A Lead")
    status = {m.kind: m.status for m in await store.messages(esc.id)}
    assert status == {"notify_lead": PENDING, "remind": CANCELLED}


async def test_purge_blanks_text_of_old_closed_escalations_only(service, store, clock):
    old = await service.escalate(make_answer(), "about pupil Jo Bloggs", make_asker())
    await service.answer(old.id, "Ms A Lead", "Tell Jo's parents")
    await service.close(old.id)
    still_open = await service.escalate(make_answer(), "open one", make_asker())
    clock.advance(minutes=10)
    recent = await service.escalate(make_answer(), "recent", make_asker())
    await service.close(recent.id)
    assert await store.purge(closed_before=clock.now - 60, now=clock.now) == 1
    purged = await store.get(old.id)
    assert purged.question == "" and purged.answer_text == "" and purged.purged_at == clock.now
    assert purged.status == CLOSED and purged.answered_by == "Ms A Lead"  # the record of what happened stays
    assert all("Jo" not in str(m.payload) for m in await store.messages(old.id))
    assert (await store.get(still_open.id)).question == "open one"
    assert (await store.get(recent.id)).question == "recent"
    assert await store.purge(closed_before=clock.now - 60, now=clock.now) == 0


async def test_migrations_are_idempotent_and_recorded(store):
    latest = max(v for v, _, _ in migrations(store.backend))
    assert await store.schema_version() == latest >= 2
    async with store._tx() as tx:
        await store._apply_migrations(tx)  # a second start: nothing to do, nothing fails
        rows = await tx.fetch("SELECT version FROM schema_version ORDER BY version")
    assert [r["version"] for r in rows] == list(range(1, latest + 1))


async def test_an_older_database_is_upgraded_on_open(store, tmp_path):
    """Build a version-1 database beside the fixture's, put data in it, open it with today's code."""
    from bot.escalations.model import Asker, ContactRef, Escalation

    if store.backend == "sqlite":
        from bot.escalations.sqlite_store import SqliteStore

        def make(target=None):
            return SqliteStore(tmp_path / "old.sqlite3", target_version=target)
    else:
        from bot.escalations.postgres_store import PostgresStore

        schema = store.schema + "_old"

        def make(target=None):
            return PostgresStore(store.url, schema=schema, target_version=target)
    old = await make(1).open()
    assert await old.schema_version() == 1
    async with old._tx() as tx:
        await tx.execute("INSERT INTO escalations (id, school, asker_platform, reason, created_at) "
                         "VALUES (?, ?, ?, ?, ?)", "e-old", "alpha", "web", "low_confidence", 1.0)
    await old.close()
    new = await make().open()
    try:
        assert await new.schema_version() == max(v for v, _, _ in migrations(store.backend))
        got = await new.get("e-old")
        assert got.school == "alpha" and got.purged_at is None and got.status == OPEN
    finally:
        if store.backend == "postgres":
            async with new._tx() as tx:
                await tx.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await new.close()
    assert isinstance(got.asker, Asker) and isinstance(got.lead, ContactRef) and isinstance(got, Escalation)
