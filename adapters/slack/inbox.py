"""Durable record of every incoming Slack question, written before Slack gets its ack.

Why: Bolt acknowledges an event before the listener runs, so a crash after the ack would lose
the question and Slack would not resend it. Each question is stored first (with its dedupe keys)
and answered from here; on start, whatever is not marked answered is answered then.
Dedupe: by Slack's event id (redeliveries, across restarts) and by (team, channel, ts), since a
channel @mention also arrives as a `message` event with a different event id.
SQLite in its own table next to the escalation store (WAL); calls run on a worker thread.
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PENDING, ANSWERED = "pending", "answered"

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
    answered_at REAL
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


_COLUMNS = "id, kind, team, channel, user, ts, thread_ts, question, event_id, status"


class Inbox:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def open(self) -> "Inbox":
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(_SCHEMA)
        self._conn = conn
        return self

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self, fn, *args):
        with self._lock:
            if self._conn is None:
                self.open()
            return fn(self._conn, *args)

    # --- writes ---

    async def record(self, *, kind: str, team: str, channel: str, user: str, ts: str, thread_ts: str,
                     question: str, event_id: str | None = None) -> tuple[InboxItem | None, bool]:
        """(item, True) when first seen; (None, False) when the event id or (team, channel, ts) is known."""
        key = f"{team}:{channel}:{ts}"

        def insert(conn: sqlite3.Connection):
            cur = conn.execute(
                "INSERT OR IGNORE INTO slack_inbox (event_id, message_key, kind, team, channel, user, ts, "
                "thread_ts, question, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (event_id, key, kind, team, channel, user, ts, thread_ts, question, time.time()))
            if cur.rowcount == 0:
                return None, False
            return InboxItem(cur.lastrowid, kind, team, channel, user, ts, thread_ts, question, event_id), True

        return await asyncio.to_thread(self._run, insert)

    async def mark_answered(self, item_id: int) -> None:
        await asyncio.to_thread(self._run, lambda c: c.execute(
            "UPDATE slack_inbox SET status=?, answered_at=? WHERE id=?", (ANSWERED, time.time(), item_id)))

    async def add_feedback(self, item_id: int, user: str, helpful: bool) -> None:
        """One vote per person per answer; a changed mind replaces the earlier vote."""
        await asyncio.to_thread(self._run, lambda c: c.execute(
            "INSERT INTO slack_feedback (inbox_id, user, helpful, created_at) VALUES (?,?,?,?) "
            "ON CONFLICT (inbox_id, user) DO UPDATE SET helpful=excluded.helpful, created_at=excluded.created_at",
            (item_id, user, int(helpful), time.time())))

    # --- reads ---

    async def get(self, item_id: int) -> InboxItem | None:
        rows = await asyncio.to_thread(self._run, lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM slack_inbox WHERE id=?", (item_id,)).fetchall())
        return InboxItem(*rows[0]) if rows else None

    async def unanswered(self) -> list[InboxItem]:
        rows = await asyncio.to_thread(self._run, lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM slack_inbox WHERE status=? ORDER BY id", (PENDING,)).fetchall())
        return [InboxItem(*r) for r in rows]

    async def feedback(self, item_id: int) -> list[tuple[str, bool]]:
        rows = await asyncio.to_thread(self._run, lambda c: c.execute(
            "SELECT user, helpful FROM slack_feedback WHERE inbox_id=? ORDER BY id", (item_id,)).fetchall())
        return [(u, bool(h)) for u, h in rows]
