"""The outbox worker: claims due messages, delivers them through the channel's notifier, marks
them sent; retries with backoff; falls back to the next contact; runs the routing timers and
the retention purge.

Delivery guarantee (tested by killing a real worker with SIGKILL, test_crash.py):
* Nothing is lost. A message is committed with the change that caused it, and is only marked
  `sent` after the notifier returned. A worker that dies holding a claim (`sending`) leaves a
  lease that expires; any worker then claims the message again.
* Nothing is sent twice where the channel lets us tell. A crash before the send: the retry is
  the first send. A crash after the notifier returned but before `sent` was committed is the
  one window no SMTP-style channel can close; the message is sent again with the same
  idempotency key (for email: the same Message-ID, which mail systems show as one message),
  so the failure mode is a recognisable duplicate, never a loss. `mark_sent` only succeeds for
  the claim holder, so a slow worker whose lease lapsed cannot overwrite another's progress.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from typing import Callable

from . import routing
from .cancellation import raise_if_cancelling, stop_task
from .model import ANSWER_TO_ASKER, OPEN, Escalation, NotFound, OutboxMessage
from .notify import NotifierRegistry, PermanentError
from .store import EscalationStore

log = logging.getLogger("policybot.escalations.worker")

PAUSE_POINTS = ("after_claim", "after_send")
PURGE_EVERY_SECONDS = 3600.0


class OutboxWorker:
    def __init__(self, store: EscalationStore, registry: NotifierRegistry, settings, *,
                 clock: Callable[[], float] = time.time, rng: Callable[[], float] = random.random,
                 batch: int = 20, purge_every: float = PURGE_EVERY_SECONDS):
        if settings.worker_test_pause and settings.worker_test_pause not in PAUSE_POINTS:
            raise ValueError(f"POLICYBOT_WORKER_TEST_PAUSE={settings.worker_test_pause!r} must be one of "
                             f"{', '.join(PAUSE_POINTS)}")
        self.store, self.registry, self.settings = store, registry, settings
        self.clock, self.rng, self.batch, self.purge_every = clock, rng, batch, purge_every
        self.token = uuid.uuid4().hex  # identifies this worker's claims
        self._last_purge: float | None = None
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        """New messages are due now (an escalation was just made in this process): don't wait
        out the poll interval. Safe to call from the event loop at any time."""
        if self._wake is not None:
            self._wake.set()

    async def tick(self) -> int:
        """One pass: timers, then every due message, then (hourly) the purge. Returns messages handled."""
        await self.run_timers()
        handled = await self.deliver_due()
        now = self.clock()
        if self._last_purge is None or now - self._last_purge >= self.purge_every:
            await self.purge()
            self._last_purge = now
        return handled

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set. A failing tick (database briefly away) is logged and retried."""
        log.info("outbox worker started: channels=%s", ",".join(self.registry.channels()))
        self._wake = asyncio.Event()
        while not stop.is_set():
            self._wake.clear()
            try:
                handled = await self.tick()
            except Exception:  # noqa: BLE001 - the worker must outlive a bad moment
                log.exception("outbox worker pass failed; retrying")
                handled = 0
            if handled >= self.batch:
                continue  # more may be due right now
            stopped, woken = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({stopped, woken}, timeout=self.settings.worker_poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            woken.cancel()
        log.info("outbox worker stopped")

    async def run_timers(self) -> int:
        """Queue reminders, deputy notices and urgent re-notifications that have come due."""
        now, channels, made = self.clock(), self.registry.channels(), 0
        for esc in await self.store.open_escalations():
            due = routing.due_messages(esc, now, self.settings, channels)
            if due:
                new = await self.store.add_messages(due)
                if new:
                    log.info("escalation %s: %d timed notice(s) queued (%s)", esc.id, new,
                             ",".join(sorted({m.kind for m in due})))
                made += new
        return made

    async def deliver_due(self) -> int:
        claimed = await self.store.claim_due(self.clock(), self.registry.channels(), self.batch,
                                             self.settings.delivery_lease_seconds, self.token)
        for message in claimed:
            await self._deliver(message)
        return len(claimed)

    async def purge(self) -> int:
        now = self.clock()
        count = await self.store.purge(now - self.settings.retention_days * 86400, now)
        if count:
            log.info("retention: blanked question/answer text of %d closed escalation(s)", count)
        return count

    async def _deliver(self, m: OutboxMessage) -> None:
        try:
            esc = await self.store.get(m.escalation_id)
        except NotFound:
            await self.store.reroute(m, "escalation missing", None)
            return
        if m.cancel_on_ack and esc.status != OPEN:
            await self.store.mark_cancelled(m, f"escalation {esc.status} before it was sent")
            return
        self._pause("after_claim", m)
        notifier = self.registry.get(m.channel)
        try:
            if notifier is None:
                raise PermanentError(f"no notifier for channel {m.channel!r} in this process")
            async with self._lease_kept(m):
                await notifier.send(m, esc)
        except PermanentError as exc:
            await self._give_up(m, esc, str(exc))
        except Exception as exc:  # noqa: BLE001 - unknown failures are retried, never lost
            error = f"{type(exc).__name__}: {exc}"[:300]
            if m.attempts >= self.settings.max_delivery_attempts and m.kind != ANSWER_TO_ASKER:
                await self._give_up(m, esc, f"{m.attempts} attempts failed, last: {error}")
            else:
                delay = routing.backoff_seconds(m.attempts, self.settings.retry_base_seconds,
                                                self.settings.retry_max_seconds, self.rng)
                await self.store.mark_retry(m, error, self.clock() + delay)
                log.warning("delivery failed, retrying: escalation=%s message=%s channel=%s attempt=%d in=%.1fs",
                            esc.id, m.id, m.channel, m.attempts, delay)
        else:
            self._pause("after_send", m)
            if await self.store.mark_sent(m, self.clock()):
                log.info("delivered: escalation=%s message=%s kind=%s to=%s channel=%s", esc.id, m.id, m.kind,
                         m.recipient_role, m.channel)
            else:
                log.warning("delivered but the claim had lapsed: escalation=%s message=%s", esc.id, m.id)

    @contextlib.asynccontextmanager
    async def _lease_kept(self, m: OutboxMessage):
        """While a notifier works, renew the claim's short lease, so a live worker keeps its
        message however slow the channel, and a dead one's (an urgent notice claimed by a
        process that was killed) is taken over within one lease, not minutes later."""
        lease = self.settings.delivery_lease_seconds

        async def renew() -> None:
            while True:
                await asyncio.sleep(lease / 3)
                try:
                    await self.store.renew_lease(m, self.clock() + lease)
                except Exception as exc:  # noqa: BLE001 - a failed renewal only shortens the lease
                    raise_if_cancelling(exc)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            await stop_task(task)

    async def _give_up(self, m: OutboxMessage, esc: Escalation, why: str) -> None:
        """Hand the message to the next contact in its chain (recorded), or fail it if none is left."""
        target = routing.next_target(esc, m, self.registry.channels())
        replacement = routing.reroute_message(esc, m, target, self.clock(), why) if target else None
        await self.store.reroute(m, why, replacement)
        if replacement:
            log.warning("delivery rerouted: escalation=%s message=%s from=%s/%s to=%s/%s new_message=%s",
                        esc.id, m.id, m.recipient_role, m.channel, target.role, target.channel, replacement.id)
        else:
            log.error("delivery failed for good: escalation=%s message=%s kind=%s channel=%s", esc.id, m.id,
                      m.kind, m.channel)

    def _pause(self, point: str, m: OutboxMessage) -> None:
        """Tests only: stop dead here (the crash test SIGKILLs us while we hang)."""
        if self.settings.worker_test_pause == point:
            print(f"PAUSED {point} {m.id} {m.idempotency_key}", flush=True)
            while True:
                time.sleep(3600)
