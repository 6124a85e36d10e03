"""The durable inbox every channel shares: questions stored before the channel is acknowledged,
answered from the stored copy, and claimed by exactly one process at a time.

Why in the escalation store: several `policybot serve` processes behind one database must share
"seen this already" (a Slack retry, a Teams re-send, a browser's retried POST can reach any of
them), "still to be answered" (a process that dies after the ack leaves the question to another)
and the buttons' references (a Helpful press reaches any process). The channel decides what its
keys and fields are; this module only knows the shape (bot/escalations/migrations, 0005).

Claims: the process that records an item holds it (claim_token, lease_until); while it answers
it renews the lease (`Inbox.holding`). A process that dies holding a claim leaves a lease that
expires, and whichever process sweeps next (`Inbox.claim_due`, every POLICYBOT_WORKER_POLL_SECONDS)
takes the item over. A failed reply (the channel's API down) is left with a lease that expires
after a backoff, so it is tried again by someone, neither lost nor hammered.

Retention: `EscalationStore.purge` blanks the question, content and reply of items answered
longer ago than POLICYBOT_RETENTION_DAYS; the keys stay, so a late redelivery is still dropped.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, AsyncIterator, Awaitable, Callable

from .cancellation import raise_if_cancelling, stop_task

log = logging.getLogger("policybot.inbox")

# pending -> sending (a reply is about to go out; it may be there already) -> answered
PENDING, SENDING, ANSWERED = "pending", "sending", "answered"
UNANSWERED = (PENDING, SENDING)


class InboxUnavailable(RuntimeError):
    """The store behind the inbox is not open (it could not be opened, or not yet): nothing can be
    stored, so the channel must not acknowledge (Slack and Teams then send it again)."""


@dataclass(frozen=True)
class InboxItem:
    """One stored question (or card press, or install) of one channel.

    kind: the channel's own ("mention", "dm", "command"; "question", "submit", "install"; "ask").
    data: the channel's ids for answering it (kept after the purge); content: other words from the
    asker (blanked with the question); reply: the reply given, for channels that hand it out again.
    """

    id: int
    channel: str
    kind: str
    dedupe_key: str
    question: str = ""
    data: dict = field(default_factory=dict)
    alt_key: str | None = None
    content: dict = field(default_factory=dict)
    reply: dict | None = None
    status: str = PENDING
    claim_token: str = ""
    lease_until: float | None = None
    attempts: int = 0
    created_at: float = 0.0
    answered_at: float | None = None
    purged_at: float | None = None
    legacy_id: int | None = None

    @property
    def ref(self) -> int:
        """The number the channel shows (button values, message metadata, feedback refs): the id
        it had in the adapters' old file for an imported item, so buttons posted then still work."""
        return self.legacy_id if self.legacy_id is not None else self.id


@dataclass(frozen=True)
class ItemView:
    """A channel's view of one stored item: the channel adds what its own fields mean (Slack's
    team and ts, Teams' Incoming); what every channel reads is here once."""

    stored: InboxItem

    @property
    def id(self) -> int:
        """The number on the item's buttons and in its reply's metadata."""
        return self.stored.ref

    @property
    def status(self) -> str:
        return self.stored.status

    @property
    def purged_at(self) -> float | None:
        """Set once the question text was blanked under the retention policy."""
        return self.stored.purged_at


StoreSource = Callable[[], Any]  # returns the open EscalationStore, or raises InboxUnavailable


@dataclass
class Inbox:
    """One channel's view of the shared inbox, with this process's claims.

    `store` is a callable returning the open store (the server opens it after the channels are
    mounted), so a channel can be built before the database is reachable.
    """

    store: StoreSource
    channel: str
    lease_seconds: float = 10.0          # POLICYBOT_DELIVERY_LEASE_SECONDS
    retry_base_seconds: float = 5.0      # POLICYBOT_RETRY_BASE_SECONDS: first wait after a failed reply
    retry_max_seconds: float = 600.0     # POLICYBOT_RETRY_MAX_SECONDS
    clock: Callable[[], float] = time.time

    def _store(self):
        return self.store()

    def _token(self) -> str:
        return uuid.uuid4().hex

    # --- writes ---

    async def record(self, kind: str, dedupe_key: str, question: str = "", data: dict | None = None, *,
                     alt_key: str | None = None, content: dict | None = None, claim: bool = True,
                     reference_keys: list[str] | None = None,
                     reference: dict | None = None) -> tuple[InboxItem | None, bool]:
        """(item, True) when first seen, held by this process; (None, False) when either key is
        known already (a redelivery, in this process or another). `claim=False` stores it for
        whichever process sweeps first. `reference` is kept under `reference_keys` in the same
        transaction (one commit before the channel gets its acknowledgement)."""
        now = self.clock()
        item = InboxItem(0, self.channel, kind, dedupe_key, question, dict(data or {}), alt_key, dict(content or {}),
                         claim_token=self._token() if claim else "",
                         lease_until=now + self.lease_seconds if claim else None, created_at=now)
        refs = ([f"{self.channel}:{k}" for k in reference_keys], reference) if reference_keys and reference else None
        stored = await self._store().inbox_record(item, refs)
        return (stored, True) if stored is not None else (None, False)

    async def hold(self, item: InboxItem) -> bool:
        """Renews this process's claim on `item`; False when another process has taken it over
        (this one was too slow) or it is answered: the caller must then leave it alone."""
        return await self._store().inbox_renew(item.id, item.claim_token, self.clock() + self.lease_seconds)

    @contextlib.asynccontextmanager
    async def holding(self, item: InboxItem) -> AsyncIterator[bool]:
        """Yields whether this process still holds `item` and, while the body runs, renews the
        lease every third of it, so a long answer is not taken over by another process."""
        if not await self.hold(item):
            yield False
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                try:
                    if not await self.hold(item):
                        return
                except Exception as exc:  # noqa: BLE001 - the next renewal may work
                    raise_if_cancelling(exc)
                    log.warning("inbox lease not renewed: channel=%s inbox=%s error=%s", self.channel, item.id,
                                type(exc).__name__)

        task = asyncio.create_task(renew(), name=f"inbox-lease-{item.id}")
        try:
            yield True
        finally:
            await stop_task(task)

    async def mark_sending(self, item: InboxItem) -> None:
        """Just before the reply goes out: after a crash, a "sending" item is looked up in the
        channel before it is answered again."""
        await self._store().inbox_mark(item.id, SENDING, None, None)

    async def mark_answered(self, item: InboxItem, reply: dict | None = None) -> None:
        """Answered (the reply is in the channel): nobody takes it again; `reply` kept for a retry
        that asks for it (web)."""
        await self._store().inbox_mark(item.id, ANSWERED, self.clock(), reply)

    async def retry_later(self, item: InboxItem) -> float:
        """The reply failed (the channel's API, or the bot, not available): any process may take
        it again after a backoff that doubles with each attempt. Returns the wait."""
        wait = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(item.attempts - 1, 0))
        await self._store().inbox_release(item.id, item.claim_token, self.clock() + wait)
        return wait

    async def release(self, item: InboxItem) -> None:
        """This process stops (its answer was cut short): anyone may take the item at once."""
        await self._store().inbox_release(item.id, item.claim_token, None)

    async def claim_due(self, limit: int = 20) -> list[InboxItem]:
        """Takes unanswered items nobody holds (never claimed, or a lease that expired: a process
        died, or a failed reply's wait is over), oldest first, for this process to answer."""
        now = self.clock()
        return await self._store().inbox_claim(self.channel, now, now + self.lease_seconds, self._token(), limit)

    async def take_over(self, item: InboxItem) -> InboxItem | None:
        """Claims this one item if nobody holds it (its process died); None when someone does or
        it is answered."""
        now = self.clock()
        return await self._store().inbox_take(item.id, now, now + self.lease_seconds, self._token())

    async def add_vote(self, item: InboxItem, voter: str, helpful: bool, pressed_at: float | None = None) -> None:
        """A vote the shared feedback record could not take (an answer it never counted): kept
        here, one per person per item, a later press (`pressed_at`) replacing an earlier one."""
        await self._store().inbox_vote(item.id, voter, helpful, pressed_at if pressed_at is not None else self.clock())

    # --- reads ---

    async def get(self, ref: int) -> InboxItem | None:
        """The item a button names (its `ref`), of this channel only."""
        return await self._store().inbox_get(self.channel, ref)

    async def find(self, dedupe_key: str) -> InboxItem | None:
        return await self._store().inbox_find(self.channel, dedupe_key)

    async def unanswered(self) -> list[InboxItem]:
        """Pending and sending items of this channel, oldest first, held or not."""
        return await self._store().inbox_unanswered(self.channel)

    async def votes(self, item: InboxItem) -> list[tuple[str, bool]]:
        return await self._store().inbox_votes(item.id)

    # --- where the channel can write later ---

    async def save_reference(self, keys: list[str], reference: dict) -> None:
        await self._store().save_references([f"{self.channel}:{k}" for k in keys], reference, self.clock())

    async def reference(self, key: str) -> dict | None:
        return await self._store().reference(f"{self.channel}:{key}")


def with_claim(item: InboxItem, token: str, lease_until: float | None) -> InboxItem:
    return replace(item, claim_token=token, lease_until=lease_until)


async def sweep_forever(replay: Callable[[], Awaitable[int]], every: float, what: str) -> None:
    """Runs a channel's `replay` (answer what is stored and unanswered) at once and then every
    `every` seconds, until cancelled; a failed pass (the database briefly away) is logged and
    the next one tries again."""
    while True:
        try:
            await replay()
        except Exception as exc:  # noqa: BLE001 - the next pass may work
            raise_if_cancelling(exc)
            log.warning("%s replay pass failed: %s", what, type(exc).__name__)
        raise_if_cancelling(None)  # a cancel something inside the pass swallowed
        await asyncio.sleep(every)
