"""The Teams adapter's durable records: incoming activities, conversation references, feedback.

Why: Teams gives up waiting for the HTTP response after 10-15 s and sends the activity again,
so the bot acknowledges at once and answers proactively afterwards. Each activity is stored
first, keyed by (conversation id, activity id): a re-send, or the same activity after a
restart, is recognised and answered once; one stored but not answered (a crash) is answered
on the next start.

Conversation references are kept so the bot can write to a person (the lead) or a
conversation (the asker's thread) later. A person's key is their Teams id and their Entra
object id, and only personal chats are kept under a person's key, so a lead's notice never
lands in a channel.

Retention: questions may name children, so `purge` blanks the text (and card values) of handled
activities older than the retention period; the keys stay, so a late re-send is still dropped.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from adapters.sqlite_file import SqliteFile

from .model import OTHER, Incoming

PENDING, DONE = "pending", "done"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS teams_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    conversation_type TEXT NOT NULL,
    tenant TEXT NOT NULL,
    team TEXT NOT NULL,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    aad_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    text TEXT NOT NULL,
    value TEXT NOT NULL,
    reference TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    created_at REAL NOT NULL,
    done_at REAL,
    purged_at REAL,
    UNIQUE (conversation_id, activity_id)
);
CREATE TABLE IF NOT EXISTS teams_references (
    key TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS teams_feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (inbox_id, user_id)
);
"""

_COLUMNS = ("id, kind, conversation_id, activity_id, conversation_type, tenant, team, channel, user_id, aad_id, "
            "user_name, text, value, reference, status, purged_at")


@dataclass(frozen=True)
class StoredActivity:
    """An Incoming as stored, with its row id (the `ref` on the answer card's buttons)."""

    id: int
    incoming: Incoming
    status: str = PENDING
    purged_at: float | None = None


def _row(r: tuple) -> StoredActivity:
    (id_, kind, conv, act, ctype, tenant, team, channel, user_id, aad_id, name, text, value, ref, status,
     purged_at) = r
    return StoredActivity(id_, Incoming(kind=kind, conversation_id=conv, activity_id=act, conversation_type=ctype,
                                        tenant=tenant, team=team, channel=channel, user_id=user_id, aad_id=aad_id,
                                        user_name=name, text=text, value=json.loads(value),
                                        reference=json.loads(ref)), status, purged_at)


def conversation_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def person_keys(inc: Incoming) -> list[str]:
    return [f"person:{i}" for i in (inc.user_id, inc.aad_id) if i]


class TeamsStore:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time):
        self.db = SqliteFile(path, _SCHEMA)
        self.clock = clock

    def open(self) -> "TeamsStore":
        self.db.open()
        return self

    def close(self) -> None:
        self.db.close()

    async def record(self, inc: Incoming) -> StoredActivity | None:
        """Keeps the activity's conversation reference (the person's too, in a personal chat) and,
        unless it is OTHER (nothing to answer), the activity itself, in one transaction: one disk
        sync before Teams gets its 200. The stored activity when first seen; None for a re-send
        of one already stored, or for OTHER."""
        now = self.clock()
        keys = [conversation_key(inc.conversation_id)] + (person_keys(inc) if inc.personal else [])
        ref = json.dumps(inc.reference)

        def write(conn: sqlite3.Connection):
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO teams_references (key, reference, updated_at) VALUES (?,?,?) ON CONFLICT (key) "
                    "DO UPDATE SET reference=excluded.reference, updated_at=excluded.updated_at",
                    [(k, ref, now) for k in keys])
                item = None
                if inc.kind != OTHER:
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO teams_inbox (conversation_id, activity_id, kind, conversation_type, "
                        "tenant, team, channel, user_id, aad_id, user_name, text, value, reference, created_at) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (inc.conversation_id, inc.activity_id, inc.kind, inc.conversation_type, inc.tenant,
                         inc.team, inc.channel, inc.user_id, inc.aad_id, inc.user_name, inc.text,
                         json.dumps(inc.value), ref, now))
                    item = StoredActivity(cur.lastrowid, inc) if cur.rowcount else None
                conn.execute("COMMIT")
                return item
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        return await self.db.run(write)

    async def mark_done(self, item_id: int) -> None:
        await self.db.run(lambda c: c.execute("UPDATE teams_inbox SET status=?, done_at=? WHERE id=?",
                                              (DONE, self.clock(), item_id)))

    async def get(self, item_id: int) -> StoredActivity | None:
        rows = await self.db.run(lambda c: c.execute(f"SELECT {_COLUMNS} FROM teams_inbox WHERE id=?",
                                                     (item_id,)).fetchall())
        return _row(rows[0]) if rows else None

    async def pending(self) -> list[StoredActivity]:
        rows = await self.db.run(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM teams_inbox WHERE status=? ORDER BY id", (PENDING,)).fetchall())
        return [_row(r) for r in rows]

    async def purge(self, retention_days: float) -> int:
        """Blank text and card values of handled activities older than the retention period."""
        cutoff = self.clock() - retention_days * 86400

        def blank(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE teams_inbox SET text='', value='{}', purged_at=? "
                "WHERE status=? AND purged_at IS NULL AND created_at < ?", (self.clock(), DONE, cutoff)).rowcount

        return await self.db.run(blank)

    # --- conversation references ---

    async def reference(self, key: str) -> dict | None:
        rows = await self.db.run(lambda c: c.execute("SELECT reference FROM teams_references WHERE key=?",
                                                     (key,)).fetchall())
        return json.loads(rows[0][0]) if rows else None

    async def person_reference(self, person_id: str) -> dict | None:
        """A person's personal chat, by Teams user id or Entra object id (what contact files hold)."""
        return await self.reference(f"person:{person_id}") if person_id else None

    # --- feedback ---

    async def add_feedback(self, item_id: int, user_id: str, helpful: bool) -> None:
        """One vote per person per answer; a changed mind replaces the earlier vote."""
        await self.db.run(lambda c: c.execute(
            "INSERT INTO teams_feedback (inbox_id, user_id, helpful, created_at) VALUES (?,?,?,?) "
            "ON CONFLICT (inbox_id, user_id) DO UPDATE SET helpful=excluded.helpful, created_at=excluded.created_at",
            (item_id, user_id, int(helpful), self.clock())))

    async def feedback(self, item_id: int) -> list[tuple[str, bool]]:
        rows = await self.db.run(lambda c: c.execute(
            "SELECT user_id, helpful FROM teams_feedback WHERE inbox_id=? ORDER BY id", (item_id,)).fetchall())
        return [(u, bool(h)) for u, h in rows]
