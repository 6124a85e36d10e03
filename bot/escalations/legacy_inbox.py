"""Moves what the chat adapters kept in their own SQLite tables into the shared inbox, once.

Why: before the shared inbox (migration 0005) the Slack inbox and the Teams store kept their
rows in tables of the SQLite file at POLICYBOT_DB_PATH, even when the escalation store was
PostgreSQL. A deployment upgraded with questions still pending there must not lose them, and
buttons on answers posted before the upgrade must keep working. So at its first start each
channel hands its old tables here: every row is copied into the escalation store in one
transaction (pending ones are then answered by the next sweep; answered ones keep their dedupe
keys and their old id as legacy_id), and only then are the old tables dropped (with
secure_delete, so their question text does not linger in the file's free pages). A crash between
the two steps repeats the copy on the next start, which adds nothing twice (legacy_id is unique).

The channel says which tables are its own and how a row becomes an item (`convert`); this module
only reads and drops them.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Callable, Iterable

from .store import EscalationStore

log = logging.getLogger("policybot.inbox")

Convert = Callable[[dict[str, list[dict]]], tuple[list, list, list]]


def read_tables(path: Path | str, names: Iterable[str]) -> dict[str, list[dict]]:
    """Rows of those of `names` that exist in the SQLite file at `path` ({} when there is no file)."""
    path = Path(path)
    if str(path) == ":memory:" or not path.is_file():
        return {}
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        conn.row_factory = sqlite3.Row
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {name: [dict(r) for r in conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid')]
                for name in names if name in have}
    finally:
        conn.close()


def drop_tables(path: Path | str, names: Iterable[str]) -> None:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("BEGIN IMMEDIATE")
        for name in names:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def import_legacy(store: EscalationStore, path: Path | str, tables: tuple[str, ...], convert: Convert,
                        what: str) -> int:
    """Copies the channel's old tables from the file at `path` into `store`, then drops them;
    returns how many items were new in the store (0 when there was nothing to import)."""
    rows = await asyncio.to_thread(read_tables, path, tables)
    if not rows:
        return 0
    items, votes, references = convert(rows)
    added = await store.import_legacy_inbox(items, votes, references)
    await asyncio.to_thread(drop_tables, path, list(rows))
    pending = sum(1 for i in items if i.status != "answered")
    log.info("%s: imported %d item(s) (%d unanswered), %d vote(s) and %d reference(s) from the old tables "
             "%s in %s; those tables are dropped", what, added, pending, len(votes), len(references),
             ",".join(rows), path)
    return added


async def import_once(store: EscalationStore | None, path: Path | str, tables: tuple[str, ...], convert: Convert,
                      what: str) -> int:
    """import_legacy for a channel's start-up: nothing without a store, and a failure logged rather
    than raised (answering new questions must not wait on it); the next start tries again."""
    if store is None:
        return 0
    try:
        return await import_legacy(store, path, tables, convert, what)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.error("%s: the old tables in %s could not be imported (%s: %s); tried again at the next start",
                  what, path, type(exc).__name__, exc)
        return 0
