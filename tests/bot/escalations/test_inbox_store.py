"""The shared inbox in the escalation store, on SQLite and PostgreSQL: dedupe by either key,
claims that two processes never share, leases that expire when a process dies, retry backoff,
retention, references, votes and the import of the adapters' old tables."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.escalations.inbox import ANSWERED, PENDING, Inbox, InboxItem
from bot.escalations.legacy_inbox import import_legacy, import_once

from .conftest import Clock

DAY = 86400.0
Q = "can I message Jenny Smith-Example on snapchat about her homework?"


async def second(store):
    """Another connection to the same database: what a second process would have."""
    if store.backend == "sqlite":
        from bot.escalations.sqlite_store import SqliteStore

        return await SqliteStore(store.path).open()
    from bot.escalations.postgres_store import PostgresStore

    return await PostgresStore(store.url, schema=store.schema).open()


def inbox(store, clock=None, channel="slack", lease=10.0) -> Inbox:
    return Inbox(lambda: store, channel, lease_seconds=lease, retry_base_seconds=5, retry_max_seconds=60,
                 clock=clock or Clock())


async def ask(box: Inbox, i: int, alt: str | None = None, claim: bool = True):
    return await box.record("mention", f"T1:C1:{i}", Q, {"ts": str(i)}, alt_key=alt or f"Ev{i}", claim=claim)


async def test_either_key_dedupes_and_concurrent_callers_get_their_own_outcome(store):
    box = inbox(store)
    # 50 at once, plus a redelivery of Ev7 and the message copy of ts 9 (another event id) in the same burst
    results = await asyncio.gather(*(ask(box, i) for i in range(50)), ask(box, 7), ask(box, 9, "EvCopy9"))
    assert all(new for _, new in results[:50]) and len({item.id for item, _ in results[:50]}) == 50
    assert results[50:] == [(None, False), (None, False)]
    assert len(await store.inbox_items("slack")) == 50
    # another channel's keys are its own
    assert (await inbox(store, channel="teams").record("question", "T1:C1:7", Q))[1]


async def test_a_held_item_is_claimed_by_nobody_until_its_lease_expires(store):
    clock = Clock()
    box = inbox(store, clock)
    item, _ = await ask(box, 1)
    assert item.claim_token and item.attempts == 1
    assert await box.claim_due() == []  # this process holds it (it is answering it now)
    clock.advance(seconds=11)  # ... and died: the lease ran out
    (taken,) = await inbox(store, clock).claim_due()
    assert taken.id == item.id and taken.claim_token != item.claim_token and taken.attempts == 2
    assert not await box.hold(item)  # the first holder (were it only slow) must leave it alone
    assert await inbox(store, clock).hold(taken)


async def test_two_processes_claiming_at_once_never_get_the_same_item(store):
    other = await second(store)
    try:
        a, b = inbox(store), inbox(other)
        for i in range(30):
            await ask(a, i, claim=False)
        got = await asyncio.gather(*([a.claim_due(limit=3) for _ in range(6)] + [b.claim_due(limit=3) for _ in range(6)]))
        ids = [item.id for batch in got for item in batch]
        assert len(ids) == len(set(ids)) == 30
    finally:
        await other.close()


async def test_a_failed_reply_waits_a_growing_backoff_then_anyone_takes_it(store):
    clock = Clock()
    box = inbox(store, clock)
    item, _ = await ask(box, 1)
    assert await box.retry_later(item) == 5
    clock.advance(seconds=4)
    assert await box.claim_due() == []
    clock.advance(seconds=2)
    (again,) = await box.claim_due()
    assert await box.retry_later(again) == 10  # second attempt: doubled


async def test_release_lets_anyone_take_it_at_once_and_answered_items_are_never_claimed(store):
    box = inbox(store)
    item, _ = await ask(box, 1)
    await box.release(item)
    (taken,) = await box.claim_due()
    await box.mark_sending(taken)
    assert (await box.get(taken.ref)).status == "sending"
    await box.mark_answered(taken, reply={"text": "ok"})
    got = await box.get(taken.ref)
    assert got.status == ANSWERED and got.reply == {"text": "ok"} and got.lease_until is None
    assert await box.claim_due() == [] and await box.unanswered() == []
    assert await box.take_over(got) is None and not await box.hold(taken)


async def test_take_over_claims_one_item_only_when_nobody_holds_it(store):
    clock = Clock()
    box = inbox(store, clock)
    item, _ = await ask(box, 1)
    assert await box.take_over(item) is None
    clock.advance(seconds=11)
    assert (await box.take_over(item)).id == item.id
    assert await box.take_over(item) is None  # now held by the one that took it


async def test_purge_blanks_answered_items_past_retention_keeps_keys_and_unanswered_text(store):
    clock = Clock()
    box = inbox(store, clock)
    old, _ = await box.record("question", "old", Q, {"user": "U1"}, content={"value": {"answer": "Jenny"}})
    await box.mark_answered(old, reply={"q": Q})
    waiting, _ = await ask(box, 2)
    clock.advance(seconds=20 * DAY)
    recent, _ = await ask(box, 3)
    await box.mark_answered(recent)
    clock.advance(seconds=11 * DAY)
    await store.purge(clock() - 30 * DAY, clock())
    got = {i.id: i for i in await store.inbox_items()}
    assert (got[old.id].question, got[old.id].content, got[old.id].reply) == ("", {}, None)
    assert got[old.id].purged_at == clock() and got[old.id].data == {"user": "U1"}
    assert got[waiting.id].question == Q and got[recent.id].question == Q and got[recent.id].purged_at is None
    assert await box.record("question", "old", Q) == (None, False)  # still recognised when re-sent


async def test_purged_inbox_text_is_gone_from_the_sqlite_files(tmp_path):
    from bot.escalations.sqlite_store import SqliteStore

    clock = Clock()
    store = await SqliteStore(tmp_path / "db.sqlite3").open()
    try:
        box = inbox(store, clock)
        for i in range(20):
            item, _ = await ask(box, i)
            await box.mark_answered(item)
        marker = b"Jenny Smith-Example"
        assert any(marker in f.read_bytes() for f in tmp_path.iterdir())
        clock.advance(seconds=100 * DAY)
        await store.purge(clock() - 90 * DAY, clock())
        for f in tmp_path.iterdir():  # the database, its WAL and shared-memory files
            assert marker not in f.read_bytes(), f.name
    finally:
        await store.close()


async def test_references_and_votes(store):
    box = inbox(store, channel="teams")
    await box.save_reference(["person:29:a", "person:aad-a"], {"conversation": {"id": "a:1"}})
    await box.save_reference(["person:29:a"], {"conversation": {"id": "a:2"}})
    assert await box.reference("person:29:a") == {"conversation": {"id": "a:2"}}
    assert await box.reference("person:aad-a") == {"conversation": {"id": "a:1"}}
    assert await inbox(store, channel="slack").reference("person:29:a") is None  # per channel
    item, _ = await box.record("question", "k", Q, reference_keys=["conversation:c"], reference={"c": 1})
    assert await box.reference("conversation:c") == {"c": 1}  # written with the item
    await box.add_vote(item, "U1", True)
    await box.add_vote(item, "U2", False)
    await box.add_vote(item, "U1", False)  # a changed mind
    assert sorted(await box.votes(item)) == [("U1", False), ("U2", False)]
    # Two quick presses handled out of order: the later press stands.
    await box.add_vote(item, "U3", False, pressed_at=2000.2)
    await box.add_vote(item, "U3", True, pressed_at=2000.1)
    assert ("U3", False) in await box.votes(item)


def _old_file(path):
    """The adapters' SQLite file as the release before the shared inbox left it."""
    conn = sqlite3.connect(str(path))
    conn.executescript("""
        CREATE TABLE slack_inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT UNIQUE, message_key TEXT UNIQUE,
            kind TEXT NOT NULL, team TEXT NOT NULL, channel TEXT NOT NULL, user TEXT NOT NULL, ts TEXT NOT NULL,
            thread_ts TEXT NOT NULL, question TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            created_at REAL NOT NULL, answered_at REAL, purged_at REAL, response_url TEXT NOT NULL DEFAULT '');
        CREATE TABLE slack_feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, inbox_id INTEGER NOT NULL,
            user TEXT NOT NULL, helpful INTEGER NOT NULL, created_at REAL NOT NULL, UNIQUE (inbox_id, user));
    """)
    conn.executemany("INSERT INTO slack_inbox (id, event_id, message_key, kind, team, channel, user, ts, thread_ts, "
                     "question, status, created_at, answered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     [(40, "EvOld", "T1:C1:1.1", "mention", "T1", "C1", "U1", "1.1", "1.1", Q, "answered", 1.0, 2.0),
                      (41, "EvPending", "T1:C1:1.2", "dm", "T1", "D1", "U1", "1.2", "1.2", Q, "pending", 3.0, None)])
    conn.execute("INSERT INTO slack_feedback (inbox_id, user, helpful, created_at) VALUES (40, 'U2', 1, 4.0)")
    conn.commit()
    conn.close()


async def test_old_adapter_tables_are_imported_once_then_dropped(store, tmp_path):
    from adapters.slack.inbox import LEGACY_TABLES, legacy_rows

    path = tmp_path / "old.sqlite3"
    _old_file(path)
    assert await import_legacy(store, path, LEGACY_TABLES, legacy_rows, "slack inbox") == 2
    box = inbox(store)
    old = await box.get(40)  # the number on buttons posted before the upgrade
    assert old.legacy_id == 40 and old.ref == 40 and old.status == ANSWERED and old.alt_key == "EvOld"
    assert await box.votes(old) == [("U2", True)]
    (pending,) = await box.claim_due()  # answered by the next sweep
    assert pending.ref == 41 and pending.status == PENDING and pending.data["channel"] == "D1"
    assert await box.record("mention", "T1:C1:1.1", Q, alt_key="EvOld") == (None, False)  # still deduped
    new, _ = await ask(box, 9)
    assert new.id > 41 and new.ref == new.id  # new numbers never name an old item
    with sqlite3.connect(str(path)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'slack_%'").fetchall() == []
    assert await import_legacy(store, path, LEGACY_TABLES, legacy_rows, "slack inbox") == 0


async def test_an_interrupted_import_repeated_adds_nothing_twice(store, tmp_path):
    from adapters.slack.inbox import legacy_rows
    from bot.escalations.legacy_inbox import read_tables

    path = tmp_path / "old.sqlite3"
    _old_file(path)
    rows = read_tables(path, ("slack_inbox", "slack_feedback"))
    items, votes, refs = legacy_rows(rows)
    assert await store.import_legacy_inbox(items, votes, refs) == 2
    assert await store.import_legacy_inbox(items, votes, refs) == 0  # the crash came before the drop
    assert len(await store.inbox_items("slack")) == 2


async def test_no_old_file_is_nothing_to_import(store, tmp_path):
    assert await import_legacy(store, tmp_path / "none.sqlite3", ("slack_inbox",), lambda r: ([], [], []), "x") == 0
    assert not (tmp_path / "none.sqlite3").exists()


async def test_a_failed_start_up_import_is_logged_and_the_tables_kept(store, tmp_path, caplog):
    """import_once, as the channels call it at start: a failure answers 0 and keeps the old
    tables for the next start; no store, nothing to do."""
    from adapters.slack.inbox import LEGACY_TABLES

    path = tmp_path / "old.sqlite3"
    _old_file(path)

    def broken(rows):
        raise ValueError("unexpected row")

    assert await import_once(store, path, LEGACY_TABLES, broken, "slack inbox") == 0
    assert "slack inbox: the old tables" in caplog.text and "ValueError" in caplog.text
    with sqlite3.connect(str(path)) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'slack_inbox'").fetchone() == (1,)
    assert await import_once(None, path, LEGACY_TABLES, broken, "slack inbox") == 0


async def test_a_sweep_keeps_going_after_a_failed_pass(caplog):
    from bot.escalations.inbox import sweep_forever

    passes = []

    async def replay():
        passes.append(len(passes))
        if len(passes) == 1:
            raise ConnectionError("database away")
        return 0

    task = asyncio.create_task(sweep_forever(replay, 0.01, "slack"))
    while len(passes) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "slack replay pass failed: ConnectionError" in caplog.text
