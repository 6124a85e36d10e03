"""The embedded backend: one SQLite file in WAL mode, via aiosqlite (sqlite3 on its own thread).

Every transaction is BEGIN IMMEDIATE, so it takes SQLite's single write lock up front: two
worker processes on the same file serialise their claims instead of both reading the same
due message. busy_timeout makes the second one wait rather than fail.
"""
from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Mapping, Sequence

import aiosqlite

from .model import OutboxMessage, PENDING, SENDING
from .store import EscalationStore, Tx, row_to_message


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

    def __init__(self, path: Path | str, target_version: int | None = None):
        """`target_version` (tests only) stops migrations at that version, to build an old database."""
        self.path = Path(path)
        self.target_version = target_version or 10**9
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> "SqliteStore":
        if self._conn is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        await self._conn.execute("PRAGMA busy_timeout = 10000")
        await self._conn.execute("PRAGMA journal_mode = WAL")
        await self._conn.execute("PRAGMA synchronous = FULL")  # a commit survives power loss, not just a crash
        await self._conn.execute("PRAGMA foreign_keys = ON")
        async with self._tx() as tx:
            await self._apply_migrations(tx)
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
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

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
