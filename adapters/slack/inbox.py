"""Slack's view of the shared inbox (bot/escalations/inbox.py): what a Slack question is keyed by
and which of its fields are kept. No SQL here: the rows live in the escalation store.

Why stored before the ack: Bolt acknowledges an event before the listener runs, so a crash after
the ack would lose the question and Slack would not resend it. Each question is stored first
(with its dedupe keys) and answered from here; whatever a process stored and did not answer (it
died, or Slack's API was down) is taken by the next sweep of any process sharing the database.
Dedupe: by Slack's event id (redeliveries, across restarts and processes) and by (team, channel,
ts), since a channel @mention also arrives as a `message` event with a different event id.
Retention: the escalation store's purge blanks the text of questions answered longer ago than
POLICYBOT_RETENTION_DAYS; the keys stay, so a late redelivery of a purged event is still dropped.
"""
from __future__ import annotations

import contextlib
from typing import AsyncIterator

from bot.escalations.inbox import PENDING, SENDING, Inbox as SharedInbox, InboxItem as Stored, ItemView

__all__ = ["PENDING", "SENDING", "Inbox", "InboxItem", "LEGACY_TABLES", "legacy_rows"]

CHANNEL = "slack"


class InboxItem(ItemView):
    """One question. kind: "mention", "dm" or "command" (answered ephemerally). `id` is the
    number on its buttons and in its reply's metadata."""

    @property
    def kind(self) -> str:
        return self.stored.kind

    @property
    def question(self) -> str:
        return self.stored.question

    @property
    def event_id(self) -> str | None:
        return self.stored.alt_key

    def _field(self, name: str) -> str:
        return str(self.stored.data.get(name, ""))

    team = property(lambda self: self._field("team"))
    channel = property(lambda self: self._field("channel"))
    user = property(lambda self: self._field("user"))
    ts = property(lambda self: self._field("ts"))
    thread_ts = property(lambda self: self._field("thread_ts"))
    # /policy: where its ephemeral answer goes (Slack's, valid 30 minutes)
    response_url = property(lambda self: self._field("response_url"))


def message_key(team: str, channel: str, ts: str) -> str:
    return f"{team}:{channel}:{ts}"


class Inbox:
    """The Slack questions in the shared inbox, as the answerer and the Bolt listeners use them."""

    def __init__(self, shared: SharedInbox):
        self.shared = shared

    async def record(self, *, kind: str, team: str, channel: str, user: str, ts: str, thread_ts: str,
                     question: str, event_id: str | None = None, response_url: str = "",
                     claim: bool = True) -> tuple[InboxItem | None, bool]:
        """(item, True) when first seen; (None, False) when the event id or (team, channel, ts) is known."""
        data = {"team": team, "channel": channel, "user": user, "ts": ts, "thread_ts": thread_ts,
                "response_url": response_url}
        stored, new = await self.shared.record(kind, message_key(team, channel, ts), question, data,
                                               alt_key=event_id, claim=claim)
        return (InboxItem(stored), True) if new else (None, False)

    @contextlib.asynccontextmanager
    async def holding(self, item: InboxItem) -> AsyncIterator[bool]:
        async with self.shared.holding(item.stored) as mine:
            yield mine

    async def mark_sending(self, item: InboxItem) -> None:
        """Just before the reply is posted: after a crash, a "sending" question is looked up in Slack
        before it is answered again (answering.SlackAnswerer.already_replied)."""
        await self.shared.mark_sending(item.stored)

    async def mark_answered(self, item: InboxItem) -> None:
        await self.shared.mark_answered(item.stored)

    async def retry_later(self, item: InboxItem) -> float:
        return await self.shared.retry_later(item.stored)

    async def release(self, item: InboxItem) -> None:
        await self.shared.release(item.stored)

    async def claim_one(self) -> InboxItem | None:
        """One unanswered question nobody holds (its process died, or its retry wait is over)."""
        claimed = await self.shared.claim_due(limit=1)
        return InboxItem(claimed[0]) if claimed else None

    async def add_feedback(self, item: InboxItem, user: str, helpful: bool, pressed_at: float | None = None) -> None:
        """One vote per person per answer; a later press replaces an earlier one."""
        await self.shared.add_vote(item.stored, user, helpful, pressed_at)

    async def get(self, item_id: int) -> InboxItem | None:
        stored = await self.shared.get(item_id)
        return InboxItem(stored) if stored else None

    async def unanswered(self) -> list[InboxItem]:
        """Pending and sending questions, oldest first."""
        return [InboxItem(s) for s in await self.shared.unanswered()]

    async def feedback(self, item: InboxItem) -> list[tuple[str, bool]]:
        return await self.shared.votes(item.stored)


# --- the adapters' old SQLite file (before the shared inbox): read once, by legacy_inbox ---

LEGACY_TABLES = ("slack_inbox", "slack_feedback")
_LEGACY_STATUS = {"pending": PENDING, "sending": SENDING, "answered": "answered"}


def legacy_rows(tables: dict[str, list[dict]]) -> tuple[list[Stored], list[tuple], list[tuple]]:
    """The old `slack_inbox` / `slack_feedback` rows as shared-inbox items (their old id kept as
    legacy_id, so buttons and reply metadata posted before still match) and votes."""
    items = []
    for r in tables.get("slack_inbox", []):
        data = {"team": r["team"], "channel": r["channel"], "user": r["user"], "ts": r["ts"],
                "thread_ts": r["thread_ts"], "response_url": r.get("response_url") or ""}
        items.append(Stored(0, CHANNEL, r["kind"], r.get("message_key") or message_key(r["team"], r["channel"], r["ts"]),
                            r["question"], data, alt_key=r.get("event_id"),
                            status=_LEGACY_STATUS.get(r["status"], PENDING), created_at=r["created_at"],
                            answered_at=r.get("answered_at"), purged_at=r.get("purged_at"), legacy_id=r["id"]))
    votes = [(CHANNEL, r["inbox_id"], r["user"], bool(r["helpful"]), r["created_at"])
             for r in tables.get("slack_feedback", [])]
    return items, votes, []
