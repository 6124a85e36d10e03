"""Retries for Bot Connector calls, which botbuilder-python does not retry at all.

Why these statuses: Teams throttles with 429 (and says when to come back in Retry-After),
answers 412 when a conversation is being written concurrently, and its gateways answer
502/504 (500/503 too) when briefly unwell; all of these succeed later. 4xx otherwise (the
bot was removed, the conversation is gone) will not, so they fail at once. Backoff is
exponential with jitter so many sends failing together do not retry in lock-step.
"""
from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from bot.escalations.routing import backoff_seconds

from .model import Outgoing, SendError

log = logging.getLogger("policybot.teams")

RETRY_STATUSES = frozenset({412, 429, 500, 502, 503, 504})
# Longest wait a Retry-After is allowed to impose on one attempt (a bad header can't stall us).
MAX_RETRY_AFTER = 60.0

Send = Callable[[dict, Outgoing], Awaitable[str]]


def retryable(exc: SendError) -> bool:
    return exc.status is None or exc.status in RETRY_STATUSES


@dataclass
class RetryingSender:
    """Calls `send` up to 1 + `retries` times. Logs carry ids and statuses, never the text."""

    send: Send
    retries: int = 4
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    rng: Callable[[], float] = random.random
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    async def __call__(self, reference: dict, message: Outgoing) -> str:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.send(reference, message)
            except SendError as exc:
                if attempt > self.retries or not retryable(exc):
                    raise
                delay = (min(exc.retry_after, MAX_RETRY_AFTER) if exc.retry_after is not None
                         else backoff_seconds(attempt, self.base_seconds, self.max_seconds, self.rng))
                log.warning("teams send failed, retrying: conversation=%s status=%s attempt=%d in=%.2fs",
                            (reference.get("conversation") or {}).get("id", "-"), exc.status, attempt, delay)
                await self.sleep(delay)
