"""The multi-process backend: PostgreSQL via asyncpg (DATABASE_URL).

Several bot processes can each run a worker: claims use SELECT ... FOR UPDATE SKIP LOCKED,
so two workers never take the same message, and migrations take an advisory lock, so two
processes starting together do not both apply them.
"""
from __future__ import annotations

import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Mapping, Sequence

import asyncpg

from .model import OutboxMessage, PENDING, SENDING
from .store import EscalationStore, Tx, row_to_message

_PLACEHOLDER = re.compile(r"\?")
_MIGRATION_LOCK = 0x706F6C6963790005  # any constant shared by all policybot processes


def pg_sql(sql: str) -> str:
    """`?` placeholders -> `$1, $2, ...` (our SQL never has a literal question mark)."""
    counter = iter(range(1, 10**6))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


class _PgTx(Tx):
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        return list(await self.conn.fetch(pg_sql(sql), *args))

    async def execute(self, sql: str, *args: Any) -> int:
        status = await self.conn.execute(pg_sql(sql), *args)
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0


class PostgresStore(EscalationStore):
    backend = "postgres"
    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, schema: str | None = None, target_version: int | None = None):
        """`schema`: use (and create) this schema instead of public (tests isolate themselves so);
        `target_version` (tests only) stops migrations at that version."""
        self.url, self.schema = url, schema
        self.target_version = target_version or 10**9
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> "PostgresStore":
        if self._pool is not None:
            return self
        settings = {"search_path": self.schema} if self.schema else {}
        if self.schema:
            conn = await asyncpg.connect(self.url)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=5, server_settings=settings)
        async with self._tx() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock(?)", _MIGRATION_LOCK)
            await self._apply_migrations(tx)
        return self

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        if self._pool is None:
            raise RuntimeError("the store is not open; call `await store.open()` first")
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgTx(conn)

    async def _raise_inbox_ids(self, tx: Tx, floor: int) -> None:
        await tx.fetch("SELECT setval(pg_get_serial_sequence('inbox', 'id'), "
                       "GREATEST(?::bigint, (SELECT COALESCE(MAX(id), 0) FROM inbox), 1))", floor)

    async def claim_due(self, now: float, channels: Sequence[str], limit: int, lease_seconds: float,
                        token: str) -> list[OutboxMessage]:
        if not channels:
            return []
        async with self._tx() as tx:
            rows = await tx.fetch(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, lease_until = ?, claim_token = ? "
                "WHERE id IN (SELECT id FROM outbox WHERE channel = ANY(?::text[]) "
                "AND ((status = ? AND next_attempt_at <= ?) OR (status = ? AND lease_until <= ?)) "
                "ORDER BY next_attempt_at, created_at LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *",
                SENDING, now + lease_seconds, token, list(channels), PENDING, now, SENDING, now, limit)
        return sorted((row_to_message(r) for r in rows), key=lambda m: (m.next_attempt_at, m.created_at))
