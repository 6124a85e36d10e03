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
from bot.escalations.model import Escalation, OutboxMessage
from bot.escalations.notify import NotifierRegistry, default_registry
from bot.escalations.service import EscalationService
from bot.escalations.factory import open_store
from bot.escalations.worker import run_worker

from .appkeys import READINESS_CHECKS

log = logging.getLogger("policybot.escalations.server")

# A consumer gets the service and the registry once the store is open: it registers its
# notifier and keeps the service for its "Ask <lead>" buttons.
EscalationConsumer = Callable[[EscalationService, NotifierRegistry], None]


@dataclass
class EscalationHolder:
    """Filled in when the store opens (the app is frozen by then, so the key holds a box)."""

    service: EscalationService | None = None
    error: str = ""


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
    # First in the cleanup order: channels replaying stored questions at start need the service.
    app.cleanup_ctx.insert(0, _lifecycle(settings))


def _lifecycle(settings: Settings):
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        holder = app[ESCALATIONS]
        store = open_store(settings)
        try:
            await store.open()
        except Exception as exc:  # noqa: BLE001 - the bot still answers; readiness says why
            holder.error = f"escalation store unreachable: {type(exc).__name__}: {exc}"
            log.error("%s", holder.error)
            app[READINESS_CHECKS].append(_failed(holder.error))
            yield
            return
        registry = default_registry(settings)
        registry.register("web", WebNotifier())
        holder.service = service = EscalationService(store, registry)
        for consumer in app[ESCALATION_CONSUMERS]:
            consumer(service, registry)
        app[READINESS_CHECKS].append(_store_check(service))
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(settings, stop, registry, store))
        log.info("escalations: store %s, notifiers %s, worker running",
                 "PostgreSQL" if settings.database_url else settings.db_path, ",".join(registry.channels()))
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker, timeout=settings.shutdown_grace_seconds)
            await store.close()

    return lifecycle


def _failed(reason: str):
    async def check() -> str:
        return reason

    return check


def _store_check(service: EscalationService):
    async def check() -> str:
        try:
            await service.list(limit=1)
        except Exception as exc:  # noqa: BLE001
            return f"escalation store unreachable: {type(exc).__name__}"
        return ""

    return check
