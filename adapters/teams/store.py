"""Teams' view of the shared inbox (bot/escalations/inbox.py): incoming activities, conversation
references and the votes the shared feedback record could not take. No SQL here: the rows live
in the escalation store, shared by every process behind the same database.

Why: Teams gives up waiting for the HTTP response after 10-15 s and sends the activity again,
so the bot acknowledges at once and answers proactively afterwards. Each activity is stored
first, keyed by (conversation id, activity id): a re-send, to this process or another, or the
same activity after a restart, is recognised and answered once; one stored but not answered (a
crash) is taken by the next sweep of any process.

Conversation references are kept so the bot can write to a person (the lead) or a
conversation (the asker's thread) later, from whichever process delivers the notice. A person's
key is their Teams id and their Entra object id, and only personal chats are kept under a
person's key, so a lead's notice never lands in a channel.

Retention: the escalation store's purge blanks the text (and card values) of handled activities
older than the retention period; the keys stay, so a late re-send is still dropped.
"""
from __future__ import annotations

import contextlib
import json
from typing import AsyncIterator

from bot.escalations.inbox import ANSWERED, PENDING, Inbox as SharedInbox, InboxItem as Stored, ItemView

from .model import OTHER, Incoming

CHANNEL = "teams"
DONE = ANSWERED

_DATA = ("conversation_id", "activity_id", "conversation_type", "tenant", "team", "channel", "user_id", "aad_id",
         "user_name")


class StoredActivity(ItemView):
    """An Incoming as stored; `id` is the `ref` on the answer card's buttons."""

    @property
    def incoming(self) -> Incoming:
        d = self.stored.data
        return Incoming(kind=self.stored.kind, text=self.stored.question, value=self.stored.content.get("value", {}),
                        reference=d.get("reference", {}), **{k: d.get(k, "") for k in _DATA})


def conversation_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def person_keys(inc: Incoming) -> list[str]:
    return [f"person:{i}" for i in (inc.user_id, inc.aad_id) if i]


def activity_key(conversation_id: str, activity_id: str) -> str:
    """One key for the pair (conversation ids hold ':' and ';', so they are not joined by hand)."""
    return json.dumps([conversation_id, activity_id])


class TeamsStore:
    def __init__(self, shared: SharedInbox):
        self.shared = shared

    async def record(self, inc: Incoming) -> StoredActivity | None:
        """Keeps the activity's conversation reference (the person's too, in a personal chat) and,
        unless it is OTHER (nothing to answer), the activity itself, in one transaction: one commit
        before Teams gets its 200. The stored activity when first seen; None for a re-send of one
        already stored, or for OTHER."""
        keys = [conversation_key(inc.conversation_id)] + (person_keys(inc) if inc.personal else [])
        if inc.kind == OTHER:
            await self.shared.save_reference(keys, inc.reference)
            return None
        data = {k: getattr(inc, k) for k in _DATA} | {"reference": inc.reference}
        stored, new = await self.shared.record(inc.kind, activity_key(inc.conversation_id, inc.activity_id),
                                               inc.text, data, content={"value": inc.value},
                                               reference_keys=keys, reference=inc.reference)
        return StoredActivity(stored) if new else None

    @contextlib.asynccontextmanager
    async def holding(self, item: StoredActivity) -> AsyncIterator[bool]:
        async with self.shared.holding(item.stored) as mine:
            yield mine

    async def mark_done(self, item: StoredActivity) -> None:
        await self.shared.mark_answered(item.stored)

    async def retry_later(self, item: StoredActivity) -> float:
        return await self.shared.retry_later(item.stored)

    async def release(self, item: StoredActivity) -> None:
        await self.shared.release(item.stored)

    async def claim_one(self) -> StoredActivity | None:
        claimed = await self.shared.claim_due(limit=1)
        return StoredActivity(claimed[0]) if claimed else None

    async def get(self, item_id: int) -> StoredActivity | None:
        stored = await self.shared.get(item_id)
        return StoredActivity(stored) if stored else None

    async def pending(self) -> list[StoredActivity]:
        return [StoredActivity(s) for s in await self.shared.unanswered()]

    # --- conversation references ---

    async def reference(self, key: str) -> dict | None:
        return await self.shared.reference(key)

    async def person_reference(self, person_id: str) -> dict | None:
        """A person's personal chat, by Teams user id or Entra object id (what contact files hold)."""
        return await self.reference(f"person:{person_id}") if person_id else None

    # --- feedback the shared record could not take ---

    async def add_feedback(self, item: StoredActivity, user_id: str, helpful: bool, pressed_at: float) -> None:
        """One vote per person per answer; a later press replaces an earlier one."""
        await self.shared.add_vote(item.stored, user_id, helpful, pressed_at)

    async def feedback(self, item: StoredActivity) -> list[tuple[str, bool]]:
        return await self.shared.votes(item.stored)


# --- the adapters' old SQLite file (before the shared inbox): read once, by legacy_inbox ---

LEGACY_TABLES = ("teams_inbox", "teams_references", "teams_feedback")


def legacy_rows(tables: dict[str, list[dict]]) -> tuple[list[Stored], list[tuple], list[tuple]]:
    """The old `teams_inbox` / `teams_references` / `teams_feedback` rows as shared-inbox items
    (old id kept as legacy_id, so card buttons posted before still match), votes and references."""
    items = []
    for r in tables.get("teams_inbox", []):
        data = {k: r.get(k) or "" for k in _DATA} | {"reference": json.loads(r.get("reference") or "{}")}
        items.append(Stored(0, CHANNEL, r["kind"], activity_key(r["conversation_id"], r["activity_id"]),
                            r.get("text") or "", data, content={"value": json.loads(r.get("value") or "{}")},
                            status=DONE if r["status"] == "done" else PENDING, created_at=r["created_at"],
                            answered_at=r.get("done_at"), purged_at=r.get("purged_at"), legacy_id=r["id"]))
    votes = [(CHANNEL, r["inbox_id"], r["user_id"], bool(r["helpful"]), r["created_at"])
             for r in tables.get("teams_feedback", [])]
    references = [(f"{CHANNEL}:{r['key']}", json.loads(r["reference"]), r["updated_at"])
                  for r in tables.get("teams_references", [])]
    return items, votes, references
