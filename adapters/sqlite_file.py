"""One SQLite connection shared by an adapter's tables, used from worker threads.

Why: the chat adapters' durable records (inboxes, conversation references, feedback) live in
the same SQLite file as the escalation store (DATABASE_URL=sqlite:///PATH, or the deprecated
POLICYBOT_DB_PATH). sqlite3 blocks, so every call goes through `run` on a worker thread under one lock; WAL and synchronous=FULL make a row
written before an acknowledgement survive a crash.
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """The file (and its folder) opened for shared use from worker threads, `schema` applied.
    secure_delete: blanked question text is overwritten on disk, not left in free pages."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.executescript(schema)
    return conn


class SqliteFile:
    def __init__(self, path: Path | str, schema: str):
        self.path = Path(path)
        self.schema = schema
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def open(self) -> "SqliteFile":
        self._conn = connect(self.path, self.schema)
        return self

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def call(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Runs `fn(connection)` here (blocking), opening the file on first use."""
        with self._lock:
            if self._conn is None:
                self.open()
            return fn(self._conn)

    async def run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return await asyncio.to_thread(self.call, fn)
