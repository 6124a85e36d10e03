"""Which escalation store to open: the one module that knows both backends, apart from the
interface (store.py) they import, so neither backend imports the module that imports it."""
from __future__ import annotations

from .store import EscalationStore


def open_store(settings) -> EscalationStore:
    """The configured backend (not yet opened): PostgreSQL when DATABASE_URL is set, else SQLite."""
    if settings.database_url:
        from .postgres_store import PostgresStore

        return PostgresStore(settings.database_url)
    from .sqlite_store import SqliteStore

    return SqliteStore(settings.db_path, busy_seconds=getattr(settings, "db_busy_seconds", 10.0))

