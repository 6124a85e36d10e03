"""The escalation service and its outbox worker inside `policybot serve`.

One store, one notifier registry and one worker per server process. Channels that can
deliver (Slack, later Teams) register their notifier and receive the service through
ESCALATION_CONSUMERS, so this module knows no channel by name. If the store cannot be
opened the server still answers, /readyz says why, and channels are told escalation is
unavailable (they then tell the asker to contact the lead directly) rather than pretending.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from aiohttp import web

from bot.config import Settings
from bot.escalations.delivery import Delivery, not_recorded
from bot.escalations.model import Asker, Escalation, OutboxMessage
from bot.escalations.notify import NotifierRegistry, default_registry
from bot.escalations.outbox import OutboxWorker
from bot.escalations.reach import PERSON_CHANNELS, school_reach, unreachable_warnings
from bot.escalations.service import STORE_DOWN, EscalationService

from .appkeys import READINESS_CHECKS, READINESS_NOTES, RUNTIME, STARTUP_WARNINGS
from .store_wiring import StoreHolder, use_store

log = logging.getLogger("policybot.escalations.server")

# A consumer gets the service and the registry once the store is open: it registers its
# notifier and keeps the service for its "Ask <lead>" buttons.
EscalationConsumer = Callable[[EscalationService, NotifierRegistry], None]


@dataclass
class EscalationHolder:
    """Filled in when the store opens (the app is frozen by then, so the key holds a box)."""

    service: EscalationService | None = None
    error: str = ""  # the store could not be opened

    async def escalate(self, answer, question: str, asker: Asker, reason: str | None, dedupe_key: str,
                       wait: float) -> tuple[Escalation | None, Delivery]:
        """The service's escalate_and_report, or NOT_RECORDED when the store never opened."""
        if self.service is None:
            return None, not_recorded(STORE_DOWN)
        return await self.service.escalate_and_report(answer, question, asker, reason, dedupe_key, wait)


ESCALATIONS = web.AppKey("escalations", EscalationHolder)
ESCALATION_CONSUMERS = web.AppKey("escalation_consumers", list)


class WebNotifier:
    """The web chat has no push channel: the page polls GET /api/escalations/{id}, which
    reads the lead's answer from the record. Delivery therefore only has to succeed."""

    async def send(self, message: OutboxMessage, escalation: Escalation) -> None:
        log.info("answer ready for web asker: escalation=%s message=%s", escalation.id, message.id)


def install(app: web.Application, settings: Settings) -> None:
    app[ESCALATIONS] = EscalationHolder()
    app[ESCALATION_CONSUMERS] = []
    stored = use_store(app, settings)  # opened first (adapters/store_wiring.py)
    # Right after the store in the cleanup order: channels replaying stored questions at start
    # need the service.
    app.cleanup_ctx.insert(1, _lifecycle(settings, stored))


def _lifecycle(settings: Settings, stored: StoreHolder):
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        holder = app[ESCALATIONS]
        store = stored.store
        if store is None:  # could not be opened: the store's lifecycle logged it and told /readyz
            holder.error = stored.error
            yield
            return
        registry = default_registry(settings)
        registry.register("web", WebNotifier())
        outbox = OutboxWorker(store, registry, settings)
        holder.service = service = EscalationService(store, registry, wake=outbox.wake,
                                                      knowledge_dir=settings.knowledge_dir)
        for consumer in app[ESCALATION_CONSUMERS]:
            consumer(service, registry)
        app[READINESS_CHECKS].append(_store_check(holder))
        app[READINESS_NOTES].append(_reach_note(app, registry))
        stop = asyncio.Event()
        worker = asyncio.create_task(outbox.run(stop))
        log.info("escalations: store %s, notifiers %s, worker running",
                 "PostgreSQL" if settings.database_url else settings.db_path, ",".join(registry.channels()))
        app[STARTUP_WARNINGS].append(lambda kb: unreachable_warnings(kb, registry.channels()))
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker, timeout=settings.shutdown_grace_seconds)

    return lifecycle


def _store_check(holder: EscalationHolder):
    async def check() -> str:
        try:
            await holder.service.list(limit=1)
        except Exception as exc:  # noqa: BLE001
            return f"escalation store unreachable: {type(exc).__name__}"
        return holder.service.write_error

    return check


def _reach_note(app: web.Application, registry: NotifierRegistry):
    """/readyz's word on reachability: schools whose escalations would reach nobody. A warning,
    not unreadiness: the bot still answers, and such a school's staff are told to go in person."""
    def note() -> dict:
        kb = app[RUNTIME].bot.kb
        channels = [c for c in registry.channels() if c in PERSON_CHANNELS]
        unreachable = sorted(s for s in kb.schools if not school_reach(kb.schools[s], channels).anyone)
        return {"notice_channels": channels, "unreachable_schools": unreachable}

    return note
