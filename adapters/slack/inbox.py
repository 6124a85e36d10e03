"""Durable record of every incoming Slack question, written before Slack gets its ack.

Why: Bolt acknowledges an event before the listener runs, so a crash after the ack would lose
the question and Slack would not resend it. Each question is stored first (with its dedupe keys)
and answered from here; on start, whatever is not marked answered is answered then.
Dedupe: by Slack's event id (redeliveries, across restarts) and by (team, channel, ts), since a
channel @mention also arrives as a `message` event with a different event id.
Retention: questions may name children, so `purge` blanks the text of answered questions after
POLICYBOT_RETENTION_DAYS; the row (id, status, dedupe keys, times) stays, so a late redelivery
of a purged event is still recognised and dropped rather than answered again.
SQLite in its own table next to the escalation store (WAL, synchronous=FULL).

Group commit: every write (and read) goes to one writer thread, which runs whatever has queued
up in one transaction and one fsync, then wakes each caller. A caller still returns only once
its own row is on disk (durability per ack is unchanged), but a burst of 200 events costs a few
fsyncs instead of 200 queued one behind another.
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from adapters.sqlite_file import connect

# pending -> sending (a reply is about to be posted; it may be in Slack already) -> answered
PENDING, SENDING, ANSWERED = "pending", "sending", "answered"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS slack_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT UNIQUE,
    message_key TEXT UNIQUE,
    kind TEXT NOT NULL,
    team TEXT NOT NULL,
    channel TEXT NOT NULL,
    user TEXT NOT NULL,
    ts TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    question TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    created_at REAL NOT NULL,
    answered_at REAL,
    purged_at REAL,
    response_url TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS slack_feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox_id INTEGER NOT NULL,
    user TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (inbox_id, user)
);
"""


@dataclass(frozen=True)
class InboxItem:
    """One question. kind: "mention", "dm" or "command" (answered ephemerally)."""

    id: int
    kind: str
    team: str
    channel: str
    user: str
    ts: str
    thread_ts: str
    question: str
    event_id: str | None = None
    status: str = PENDING
    purged_at: float | None = None  # set once the question text was blanked under the retention policy
    response_url: str = ""  # /policy: where its ephemeral answer goes (Slack's, valid 30 minutes)


_COLUMNS = "id, kind, team, channel, user, ts, thread_ts, question, event_id, status, purged_at, response_url"
# Columns added after the first release: (name, type) added to an existing table on open.
_ADDED = (("purged_at", "REAL"), ("response_url", "TEXT NOT NULL DEFAULT ''"))
DAY = 86400.0


class Inbox:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        # group commit: (operation, future, loop) waiting for the writer thread
        self._queue: list[tuple[Callable, asyncio.Future, asyncio.AbstractEventLoop]] = []
        self._queue_lock = threading.Lock()
        self._writing = False
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slack-inbox")

    def open(self) -> "Inbox":
        conn = connect(self.path, _SCHEMA)
        have = {row[1] for row in conn.execute("PRAGMA table_info(slack_inbox)")}
        for name, kind in _ADDED:
            if name not in have:
                conn.execute(f"ALTER TABLE slack_inbox ADD COLUMN {name} {kind}")
        self._conn = conn
        return self

    def close(self) -> None:
        """Closes the file; queued operations are finished first. The inbox can be opened again."""
        self._writer.shutdown(wait=True)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slack-inbox")
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self, fn, *args):
        """One operation on the caller's thread (maintenance, tests); the async API batches."""
        with self._lock:
            if self._conn is None:
                self.open()
            return fn(self._conn, *args)

    async def _batched(self, fn: Callable[[sqlite3.Connection], object]):
        """Queues `fn` for the writer thread; returns once the transaction holding it is committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._queue_lock:
            self._queue.append((fn, future, loop))
            start = not self._writing
            self._writing = True
        if start:
            loop.run_in_executor(self._writer, self._drain)
        return await future

    def _drain(self) -> None:
        """Writer thread: commits what has queued, in batches, until the queue is empty."""
        while True:
            with self._queue_lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._writing = False
                    return
            results = self._commit(batch)
            for (_, future, loop), (ok, value) in zip(batch, results):
                try:
                    loop.call_soon_threadsafe(_settle, future, ok, value)
                except RuntimeError:  # that caller's loop is closed: nobody is waiting
                    pass

    def _commit(self, batch) -> list[tuple[bool, object]]:
        """Runs the batch in one transaction. If the transaction itself fails (disk full, I/O), every
        operation in it fails: none of them is durable, so none may be acknowledged."""
        with self._lock:
            try:
                if self._conn is None:
                    self.open()
                conn = self._conn
                conn.execute("BEGIN IMMEDIATE")
                results: list[tuple[bool, object]] = []
                for fn, _, _ in batch:
                    try:
                        results.append((True, fn(conn)))
                    except sqlite3.IntegrityError as exc:  # this statement only; the rest stand
                        results.append((False, exc))
                conn.execute("COMMIT")
                return results
            except Exception as exc:  # noqa: BLE001 - handed to every caller in the batch
                if self._conn is not None and self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                return [(False, exc)] * len(batch)

    # --- writes ---

    async def record(self, *, kind: str, team: str, channel: str, user: str, ts: str, thread_ts: str,
                     question: str, event_id: str | None = None,
                     response_url: str = "") -> tuple[InboxItem | None, bool]:
        """(item, True) when first seen; (None, False) when the event id or (team, channel, ts) is known."""
        key = f"{team}:{channel}:{ts}"

        def insert(conn: sqlite3.Connection):
            cur = conn.execute(
                "INSERT OR IGNORE INTO slack_inbox (event_id, message_key, kind, team, channel, user, ts, "
                "thread_ts, question, created_at, response_url) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (event_id, key, kind, team, channel, user, ts, thread_ts, question, self.clock(), response_url))
            if cur.rowcount == 0:
                return None, False
            return InboxItem(cur.lastrowid, kind, team, channel, user, ts, thread_ts, question, event_id,
                             response_url=response_url), True

        return await self._batched(insert)

    async def mark_sending(self, item_id: int) -> None:
        """Just before the reply is posted: after a crash, a "sending" question is looked up in Slack
        before it is answered again (answering.SlackAnswerer.already_replied)."""
        await self._batched(lambda c: c.execute(
            "UPDATE slack_inbox SET status=? WHERE id=? AND status=?", (SENDING, item_id, PENDING)))

    async def mark_answered(self, item_id: int) -> None:
        await self._batched(lambda c: c.execute(
            "UPDATE slack_inbox SET status=?, answered_at=? WHERE id=?", (ANSWERED, self.clock(), item_id)))

    async def purge(self, retention_days: float) -> int:
        """Blanks the question text of questions answered more than `retention_days` ago; returns
        how many. Unanswered ones keep their text (they are still to be answered)."""
        now = self.clock()

        def purge(conn: sqlite3.Connection) -> int:
            n = conn.execute("UPDATE slack_inbox SET question='', purged_at=? "
                             "WHERE status=? AND answered_at < ? AND purged_at IS NULL",
                             (now, ANSWERED, now - retention_days * DAY)).rowcount
            if n:  # copy the blanked pages into the main file and reset the log, so neither keeps the text
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return n

        return await asyncio.to_thread(self._run, purge)

    async def add_feedback(self, item_id: int, user: str, helpful: bool) -> None:
        """One vote per person per answer; a changed mind replaces the earlier vote."""
        await self._batched(lambda c: c.execute(
            "INSERT INTO slack_feedback (inbox_id, user, helpful, created_at) VALUES (?,?,?,?) "
            "ON CONFLICT (inbox_id, user) DO UPDATE SET helpful=excluded.helpful, created_at=excluded.created_at",
            (item_id, user, int(helpful), self.clock())))

    # --- reads ---

    async def get(self, item_id: int) -> InboxItem | None:
        rows = await self._batched(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM slack_inbox WHERE id=?", (item_id,)).fetchall())
        return InboxItem(*rows[0]) if rows else None

    async def unanswered(self) -> list[InboxItem]:
        """Pending and sending questions, oldest first."""
        rows = await self._batched(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM slack_inbox WHERE status IN (?, ?) ORDER BY id", (PENDING, SENDING)).fetchall())
        return [InboxItem(*r) for r in rows]

    async def feedback(self, item_id: int) -> list[tuple[str, bool]]:
        rows = await self._batched(lambda c: c.execute(
            "SELECT user, helpful FROM slack_feedback WHERE inbox_id=? ORDER BY id", (item_id,)).fetchall())
        return [(u, bool(h)) for u, h in rows]


def _settle(future: asyncio.Future, ok: bool, value) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
