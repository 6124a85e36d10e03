"""The retention purge each chat adapter's durable store runs: at start, then hourly.

Why shared: questions may name children, so every store that keeps question text (the Slack
inbox, the Teams store) blanks it POLICYBOT_RETENTION_DAYS after it was handled, on the same
schedule the escalation worker keeps; a failed pass is logged and tried again next time,
never allowed to stop the answers.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Protocol

log = logging.getLogger("policybot.retention")

PURGE_EVERY_SECONDS = 3600.0


class Purgeable(Protocol):
    async def purge(self, retention_days: float) -> int: ...


async def retention_loop(store: Purgeable, retention_days: float, *, what: str = "chat store",
                         every: float = PURGE_EVERY_SECONDS,
                         sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Runs `store.purge` now and then every `every` seconds, until cancelled."""
    while True:
        try:
            purged = await store.purge(retention_days)
            if purged:
                log.info("%s: blanked the text of %d handled question(s) older than %g days",
                         what, purged, retention_days)
        except Exception as exc:  # noqa: BLE001 - retried next pass
            log.error("%s: retention purge failed: %s", what, type(exc).__name__)
        await sleep(every)
