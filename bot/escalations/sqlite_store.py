"""The embedded backend: one SQLite file in WAL mode, via aiosqlite (sqlite3 on its own thread).

Every transaction is BEGIN IMMEDIATE, so it takes SQLite's single write lock up front: two
worker processes on the same file serialise their claims instead of both reading the same
due message. busy_timeout makes the second one wait rather than fail.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Mapping, Sequence

import aiosqlite

from .model import OutboxMessage, PENDING, SENDING
from .store import EscalationStore, StoreUnavailable, Tx, row_to_message

# aiosqlite logs every statement with its parameters at DEBUG: question text, which logs must never
# carry unless POLICYBOT_LOG_QUESTIONS says so. Its own logger stays at INFO whatever the root's level.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


def _why(path: Path, exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return f"the SQLite file {path} is damaged or not a database ({text}); restore it from a backup or move it aside"
    if "locked" in text or "busy" in text:
        return f"the SQLite file {path} is locked by another process ({text}); try again when it has finished"
    return f"cannot open the SQLite file {path}: {type(exc).__name__}: {text}"


class _SqliteTx(Tx):
    def __init__(self, conn: aiosqlite.Connection):
        self.conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        async with self.conn.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    async def execute(self, sql: str, *args: Any) -> int:
        async with self.conn.execute(sql, args) as cursor:
            return max(cursor.rowcount, 0)


class SqliteStore(EscalationStore):
    backend = "sqlite"

    def __init__(self, path: Path | str, target_version: int | None = None, busy_seconds: float = 10.0):
        """`target_version` (tests only) stops migrations at that version, to build an old database."""
        self.path = Path(path)
        self.busy_ms = int(busy_seconds * 1000)
        self.target_version = target_version or 10**9
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> "SqliteStore":
        """Opens the file (WAL) and migrates it. Two processes opening a new file at the same moment
        (`serve --workers N`) can meet SQLite's "locked" while one switches it to WAL, which the busy
        timeout does not cover: that open is tried again, with a growing pause, for up to the busy
        timeout."""
        waited, pause = 0.0, 0.02
        while True:
            try:
                return await self._open_once()
            except StoreUnavailable as exc:
                if "locked by another process" not in str(exc) or waited >= self.busy_ms / 1000:
                    raise
            await asyncio.sleep(pause)
            waited += pause
            pause = min(pause * 2, 1.0)

    async def _open_once(self) -> "SqliteStore":
        if self._conn is not None:
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # aiosqlite runs sqlite3 on a thread of its own, which keeps the process alive until the
            # connection is closed: so any failure from here on closes it before raising.
            self._conn = await aiosqlite.connect(self.path, isolation_level=None,
                                                 timeout=max(self.busy_ms / 1000, 0.001))
            self._conn.row_factory = sqlite3.Row
            await self._conn.execute(f"PRAGMA busy_timeout = {self.busy_ms}")
            await self._conn.execute("PRAGMA journal_mode = WAL")
            await self._conn.execute("PRAGMA synchronous = FULL")  # a commit survives power loss, not just a crash
            await self._conn.execute("PRAGMA foreign_keys = ON")
            # blanked question text is overwritten on disk, not left in free pages
            await self._conn.execute("PRAGMA secure_delete = ON")
            async with self._tx() as tx:
                await self._apply_migrations(tx)
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StoreUnavailable(_why(self.path, exc)) from None
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        if self._conn is None:
            raise RuntimeError("the store is not open; call `await store.open()` first")
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                # The original exception (a cancel, above all) must come out, not a failed rollback's.
                with contextlib.suppress(Exception):
                    await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def _raise_inbox_ids(self, tx: Tx, floor: int) -> None:
        await tx.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'inbox', 0 "
                         "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'inbox')")
        await tx.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'inbox'", floor)

    async def _after_purge(self) -> None:
        """Copies the blanked pages into the main file and empties the write-ahead log, so neither
        keeps the purged text."""
        async with self._lock:
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def claim_due(self, now: float, channels: Sequence[str], limit: int, lease_seconds: float,
                        token: str) -> list[OutboxMessage]:
        if not channels:
            return []
        marks = ", ".join("?" * len(channels))
        async with self._tx() as tx:
            rows = await tx.fetch(
                f"SELECT id FROM outbox WHERE channel IN ({marks}) AND ((status = ? AND next_attempt_at <= ?) "
                "OR (status = ? AND lease_until <= ?)) ORDER BY next_attempt_at, created_at LIMIT ?",
                *channels, PENDING, now, SENDING, now, limit)
            claimed = []
            for row in rows:
                await tx.execute("UPDATE outbox SET status = ?, attempts = attempts + 1, lease_until = ?, "
                                 "claim_token = ? WHERE id = ?", SENDING, now + lease_seconds, token, row["id"])
                claimed.append(row_to_message(await tx.fetchone("SELECT * FROM outbox WHERE id = ?", row["id"])))
        return claimed
