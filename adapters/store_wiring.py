"""The one database connection a server process opens: the escalation store, which also holds
every channel's inbox (bot/escalations/inbox.py).

Why its own module: the escalation service and worker need the store only when escalations are
on (`create_app(escalations=True)`, what `policybot serve` does), but Slack and Teams need it
whenever they are on, to store what arrives before acknowledging it. Whoever needs the store calls
`use_store`; the first call adds the lifecycle that opens it before, and closes it after,
everything else. If it cannot be opened, /readyz says why and the holder raises InboxUnavailable,
so channels refuse to acknowledge what they could not store (Slack and Teams send it again).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import AsyncIterator

from aiohttp import web

from bot.config import Settings
from bot.escalations.factory import open_store
from bot.escalations.inbox import InboxUnavailable
from bot.escalations.store import EscalationStore

from .appkeys import READINESS_CHECKS

log = logging.getLogger("policybot.store")


@dataclass
class StoreHolder:
    """Filled in when the store opens (the app is frozen by then, so the key holds a box)."""

    store: EscalationStore | None = None
    error: str = ""  # why it could not be opened

    def get(self) -> EscalationStore:
        """The open store; InboxUnavailable (with the reason) before it opened or when it failed."""
        if self.store is None:
            raise InboxUnavailable(self.error or "the database is not open yet")
        return self.store


STORE = web.AppKey("store", StoreHolder)


def use_store(app: web.Application, settings: Settings) -> StoreHolder:
    """The app's store holder; the first call installs its lifecycle first in the cleanup order, so
    the store is open before any channel or worker starts and closed after they stop."""
    if STORE not in app:
        app[STORE] = holder = StoreHolder()
        app.cleanup_ctx.insert(0, _lifecycle(settings, holder))
    return app[STORE]


def _lifecycle(settings: Settings, holder: StoreHolder):
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = open_store(settings)
        try:
            await store.open()
        except Exception as exc:  # noqa: BLE001 - the bot still answers the web chat; readiness says why
            holder.error = f"escalation store unreachable: {type(exc).__name__}: {exc}"
            log.error("%s", holder.error)
            app[READINESS_CHECKS].append(_failed(holder.error))
            yield
            return
        holder.store = store
        try:
            yield
        finally:
            holder.store = None
            holder.error = "the server is stopping"
            await store.close()

    return lifecycle


def _failed(reason: str):
    async def check() -> str:
        return reason

    return check
