"""The escalation store: one async interface, two backends (SQLite, PostgreSQL), shared SQL.

Every state change and the outbox messages it causes are written in ONE transaction, so a
crash leaves either both or neither: an escalation can never exist without its notification,
nor an answer without its delivery to the asker. Backends differ only in how they open a
transaction, their placeholders, and how the worker claims messages (see the subclasses).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from abc import ABC, abstractmethod
from importlib import resources
from typing import Any, Iterable, Mapping, Sequence

from .conversations import MAX_TURNS, Turn
from .feedback import ANSWERED_EVENT, VOTE_EVENT, FeedbackRecord
from .inbox import ANSWERED, UNANSWERED, InboxItem
from .model import (CANCELLED, CLOSED, FAILED, OPEN, PENDING, REROUTED, SENDING, SENT, Asker, Candidate, ContactRef, Escalation, NotFound, OutboxMessage, check_transition)

log = logging.getLogger("policybot.escalations.store")

# An authoring draft not edited for this long is deleted by the purge (the lead uploads it again).
DRAFT_KEEP_DAYS = 30

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StoreUnavailable(RuntimeError):
    """The store could not be opened (a corrupted or locked SQLite file, an unreachable server);
    the message says which, fit for a person. Nothing the open started is left running."""


class Conflict(RuntimeError):
    """The escalation changed under us (another process acted first); re-read and decide again."""


class Tx(ABC):
    """One open transaction; SQL uses `?` placeholders whatever the backend."""

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Mapping[str, Any]]: ...

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; returns the number of rows it changed."""

    async def fetchone(self, sql: str, *args: Any) -> Mapping[str, Any] | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None


def migrations(backend: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for a backend, in order, from the package's migrations/<backend>/."""
    folder = resources.files(__package__) / "migrations" / backend
    out = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            out.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def split_sql(script: str) -> list[str]:
    """Statements of a migration file (no semicolons inside our statements; comments dropped)."""
    body = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


_ESC_COLUMNS = ("id, school, school_name, dedupe_key, asker_platform, asker_user_id, asker_conversation, "
                "asker_thread, asker_display_name, question, candidates, reason, urgent, concern, lead, deputy, "
                "status, holder, answer_text, answered_by, created_at, acknowledged_at, answered_at, closed_at")
_MSG_COLUMNS = ("id, escalation_id, kind, recipient_role, recipient_name, channel, address, payload, "
                "idempotency_key, cancel_on_ack, status, attempts, next_attempt_at, lease_until, claim_token, "
                "last_error, created_at, sent_at, rerouted_to")


_FB_COLUMNS = ("id, answer_ref, event, school, platform, asker_id, decision, clauses, helpful, question, "
               "created_at, purged_at")


def _fb_values(f: FeedbackRecord) -> tuple:
    return (f.id, f.answer_ref, f.event, f.school, f.platform, f.asker_id, f.decision, json.dumps(list(f.clauses)),
            None if f.helpful is None else int(f.helpful), f.question, f.created_at, f.purged_at)


def row_to_feedback(r: Mapping[str, Any]) -> FeedbackRecord:
    return FeedbackRecord(
        id=r["id"], answer_ref=r["answer_ref"], event=r["event"], school=r["school"], platform=r["platform"],
        asker_id=r["asker_id"], decision=r["decision"], clauses=tuple(json.loads(r["clauses"])),
        helpful=None if r["helpful"] is None else bool(r["helpful"]), question=r["question"],
        created_at=r["created_at"], purged_at=r["purged_at"])


_INBOX_COLUMNS = ("channel, kind, dedupe_key, alt_key, question, data, content, reply, status, claim_token, "
                  "lease_until, attempts, created_at, answered_at, purged_at, legacy_id")
_OPEN = f"status IN ({', '.join(repr(s) for s in UNANSWERED)})"  # constants, not input


def _inbox_values(i: InboxItem) -> tuple:
    return (i.channel, i.kind, i.dedupe_key, i.alt_key, i.question, json.dumps(i.data), json.dumps(i.content),
            None if i.reply is None else json.dumps(i.reply), i.status, i.claim_token, i.lease_until, i.attempts,
            i.created_at, i.answered_at, i.purged_at, i.legacy_id)


def row_to_inbox(r: Mapping[str, Any]) -> InboxItem:
    return InboxItem(
        id=r["id"], channel=r["channel"], kind=r["kind"], dedupe_key=r["dedupe_key"], question=r["question"],
        data=json.loads(r["data"]), alt_key=r["alt_key"], content=json.loads(r["content"]),
        reply=None if r["reply"] is None else json.loads(r["reply"]), status=r["status"],
        claim_token=r["claim_token"], lease_until=r["lease_until"], attempts=r["attempts"],
        created_at=r["created_at"], answered_at=r["answered_at"], purged_at=r["purged_at"],
        legacy_id=r["legacy_id"])


def _esc_values(e: Escalation) -> tuple:
    a = e.asker
    return (e.id, e.school, e.school_name, e.dedupe_key, a.platform, a.user_id, a.conversation, a.thread,
            a.display_name, e.question, json.dumps([c.as_dict() for c in e.candidates]), e.reason, int(e.urgent),
            e.concern, json.dumps(e.lead.as_dict()), json.dumps(e.deputy.as_dict()), e.status, e.holder,
            e.answer_text, e.answered_by, e.created_at, e.acknowledged_at, e.answered_at, e.closed_at)


def _msg_values(m: OutboxMessage) -> tuple:
    return (m.id, m.escalation_id, m.kind, m.recipient_role, m.recipient_name, m.channel, m.address,
            json.dumps(m.payload), m.idempotency_key, int(m.cancel_on_ack), m.status, m.attempts,
            m.next_attempt_at, m.lease_until, m.claim_token, m.last_error, m.created_at, m.sent_at, m.rerouted_to)


def row_to_escalation(r: Mapping[str, Any]) -> Escalation:
    return Escalation(
        id=r["id"], school=r["school"], school_name=r["school_name"], dedupe_key=r["dedupe_key"],
        asker=Asker(r["asker_platform"], r["asker_user_id"], r["asker_conversation"], r["asker_thread"],
                    r["asker_display_name"]),
        question=r["question"], candidates=tuple(Candidate(**c) for c in json.loads(r["candidates"])),
        reason=r["reason"], urgent=bool(r["urgent"]), concern=r["concern"],
        lead=ContactRef.from_dict(json.loads(r["lead"])), deputy=ContactRef.from_dict(json.loads(r["deputy"])),
        status=r["status"], holder=r["holder"], answer_text=r["answer_text"], answered_by=r["answered_by"],
        created_at=r["created_at"], acknowledged_at=r["acknowledged_at"], answered_at=r["answered_at"],
        closed_at=r["closed_at"], purged_at=r["purged_at"])


def row_to_message(r: Mapping[str, Any]) -> OutboxMessage:
    return OutboxMessage(
        id=r["id"], escalation_id=r["escalation_id"], kind=r["kind"], recipient_role=r["recipient_role"],
        recipient_name=r["recipient_name"], channel=r["channel"], address=r["address"],
        payload=json.loads(r["payload"]), idempotency_key=r["idempotency_key"],
        cancel_on_ack=bool(r["cancel_on_ack"]), status=r["status"], attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"], lease_until=r["lease_until"], claim_token=r["claim_token"],
        last_error=r["last_error"], created_at=r["created_at"], sent_at=r["sent_at"], rerouted_to=r["rerouted_to"])



def _select(table: str, **filters: str | None) -> tuple[str, list[str]]:
    """SELECT * FROM table with an equality test for each filter given (None: no test)."""
    given = {column: value for column, value in filters.items() if value}
    where = " AND ".join(f"{column} = ?" for column in given)
    return f"SELECT * FROM {table}" + (f" WHERE {where}" if where else ""), list(given.values())

class EscalationStore(ABC):
    """The async interface the service, the worker, the channels' inbox and the CLI use; backends
    implement `_tx`, `_migrate`, `claim_due` and `_raise_inbox_ids`."""

    backend: str = ""
    # Appended to the inbox claim's inner SELECT: PostgreSQL skips rows another process is
    # claiming; SQLite's BEGIN IMMEDIATE already lets one writer in at a time.
    _skip_locked: str = ""

    # -- lifecycle ---------------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> "EscalationStore":
        """Connect and apply pending migrations (idempotent: opening twice changes nothing)."""

    @abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> "EscalationStore":
        return await self.open()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @abstractmethod
    def _tx(self) -> Any:
        """An async context manager yielding a Tx; commits on success, rolls back on error."""

    async def _apply_migrations(self, tx: Tx) -> None:
        """Run, inside the caller's (locked) transaction, every migration newer than the recorded version."""
        await tx.execute("CREATE TABLE IF NOT EXISTS schema_version "
                         "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        row = await tx.fetchone("SELECT MAX(version) AS v FROM schema_version")
        current = (row["v"] if row else None) or 0
        for version, name, sql in migrations(self.backend):
            if version <= current or version > getattr(self, "target_version", 10**9):
                continue
            for statement in split_sql(sql):
                await tx.execute(statement)
            await tx.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                             version, name, _now_text())

    async def schema_version(self) -> int:
        async with self._tx() as tx:
            row = await tx.fetchone("SELECT MAX(version) AS v FROM schema_version")
        return (row["v"] if row else None) or 0

    # -- escalations -------------------------------------------------------------------------
    async def create(self, escalation: Escalation, messages: Sequence[OutboxMessage] = ()) -> tuple[Escalation, bool]:
        """Insert an escalation and its first messages in one transaction. With a dedupe_key that
        exists already, nothing is written and the existing escalation is returned: (it, False)."""
        async with self._tx() as tx:
            if escalation.dedupe_key:
                row = await tx.fetchone("SELECT * FROM escalations WHERE dedupe_key = ?", escalation.dedupe_key)
                if row:
                    return row_to_escalation(row), False
            inserted = await tx.execute(
                f"INSERT INTO escalations ({_ESC_COLUMNS}) VALUES ({', '.join('?' * 24)}) "
                "ON CONFLICT DO NOTHING", *_esc_values(escalation))
            if not inserted:  # a concurrent create with the same dedupe_key won the race
                row = await tx.fetchone("SELECT * FROM escalations WHERE dedupe_key = ?", escalation.dedupe_key)
                if row is None:
                    raise Conflict(f"escalation id {escalation.id} already exists")
                return row_to_escalation(row), False
            for m in messages:
                await self._insert_message(tx, m)
        return escalation, True

    async def get(self, escalation_id: str) -> Escalation:
        async with self._tx() as tx:
            row = await tx.fetchone("SELECT * FROM escalations WHERE id = ?", escalation_id)
        if row is None:
            raise NotFound(escalation_id)
        return row_to_escalation(row)

    async def list(self, status: str | None = None, school: str | None = None, limit: int = 100) -> list[Escalation]:
        """Newest first."""
        sql, args = _select("escalations", status=status, school=school)
        async with self._tx() as tx:
            rows = await tx.fetch(sql + " ORDER BY created_at DESC, id LIMIT ?", *args, limit)
        return [row_to_escalation(r) for r in rows]

    async def transition(self, updated: Escalation, expected_status: str,
                         messages: Iterable[OutboxMessage] = ()) -> Escalation:
        """Write a status change (compare-and-set on the status read before) plus the messages it
        causes, in one transaction. Leaving `open` cancels pending reminders (cancel_on_ack)."""
        check_transition(updated.id, expected_status, updated.status)
        async with self._tx() as tx:
            changed = await tx.execute(
                "UPDATE escalations SET status = ?, holder = ?, answer_text = ?, answered_by = ?, "
                "acknowledged_at = ?, answered_at = ?, closed_at = ? WHERE id = ? AND status = ?",
                updated.status, updated.holder, updated.answer_text, updated.answered_by,
                updated.acknowledged_at, updated.answered_at, updated.closed_at, updated.id, expected_status)
            if not changed:
                row = await tx.fetchone("SELECT status FROM escalations WHERE id = ?", updated.id)
                if row is None:
                    raise NotFound(updated.id)
                raise Conflict(f"escalation {updated.id} changed to {row['status']} meanwhile")
            if expected_status == OPEN:
                await tx.execute("UPDATE outbox SET status = ?, last_error = ? WHERE escalation_id = ? "
                                 "AND cancel_on_ack = 1 AND status = ?",
                                 CANCELLED, f"escalation became {updated.status}", updated.id, PENDING)
            for m in messages:
                await self._insert_message(tx, m)
        return updated

    async def open_escalations(self) -> list[Escalation]:
        """Everything not yet acknowledged: what the routing timers look at."""
        async with self._tx() as tx:
            rows = await tx.fetch("SELECT * FROM escalations WHERE status = ? ORDER BY created_at", OPEN)
        return [row_to_escalation(r) for r in rows]

    async def purge(self, closed_before: float, now: float) -> int:
        """Blank question and answer text (and the answer copy in outbox payloads) of escalations
        closed before `closed_before`, and the question text of feedback rows (answers given)
        before it; returns how many escalations were purged. Ids, timestamps and
        decisions stay, so the record of what happened survives without the personal text."""
        cond = "status = ? AND closed_at < ? AND purged_at IS NULL"
        async with self._tx() as tx:
            await tx.execute(f"UPDATE outbox SET payload = '{{}}' WHERE escalation_id IN "
                             f"(SELECT id FROM escalations WHERE {cond})", CLOSED, closed_before)
            purged = await tx.execute(f"UPDATE escalations SET question = '', answer_text = '', purged_at = ? "
                                      f"WHERE {cond}", now, CLOSED, closed_before)
            # Feedback keeps its question text as long: blanked once the answer is that old.
            await tx.execute("UPDATE feedback SET question = '', purged_at = ? WHERE created_at < ? "
                             "AND purged_at IS NULL AND question IS NOT NULL AND question <> ''", now, closed_before)
            # The web chat's conversations hold question and reply text only: gone once that old.
            await tx.execute("DELETE FROM conversation_turns WHERE created_at < ?", closed_before)
            # The channels' inbox: the words of items answered that long ago; keys and ids stay, so a
            # late redelivery is still recognised. Unanswered items keep theirs (still to be answered).
            blanked = await tx.execute("UPDATE inbox SET question = '', content = '{}', reply = NULL, purged_at = ? "
                                       "WHERE status = ? AND answered_at < ? AND purged_at IS NULL", now, ANSWERED,
                                       closed_before)
            # Authoring drafts nobody has edited for DRAFT_KEEP_DAYS: abandoned, not personal text.
            await tx.execute("DELETE FROM authoring_drafts WHERE updated_at < ?", now - DRAFT_KEEP_DAYS * 86400)
        if blanked:
            log.info("retention: blanked the text of %d answered inbox item(s)", blanked)
        await self._after_purge()
        return purged

    async def _after_purge(self) -> None:
        """Backend hook: SQLite moves the blanked pages out of its write-ahead log."""

    # -- the channels' inbox (see inbox.py) ---------------------------------------------------
    async def inbox_record(self, item: InboxItem,
                           references: tuple[list[str], dict] | None = None) -> InboxItem | None:
        """Stores a new item (and, in the same transaction, where its channel can write back:
        `references` = (keys, reference)); None when its dedupe key or alt key is known already."""
        async with self._tx() as tx:
            if references:
                await self._save_references(tx, *references, item.created_at)
            attempts = 1 if item.claim_token else 0
            row = await tx.fetchone(
                f"INSERT INTO inbox ({_INBOX_COLUMNS}) VALUES ({', '.join('?' * 16)}) ON CONFLICT DO NOTHING "
                "RETURNING *", *_inbox_values(replace(item, attempts=attempts)))
        return row_to_inbox(row) if row else None

    async def inbox_get(self, channel: str, ref: int) -> InboxItem | None:
        """By the number the channel shows: the id, or for an imported item its old id (new ids
        are all above the imported ones, see import_legacy_inbox)."""
        async with self._tx() as tx:
            row = await tx.fetchone("SELECT * FROM inbox WHERE channel = ? AND (id = ? OR legacy_id = ?) "
                                    "ORDER BY id LIMIT 1", channel, ref, ref)
        return row_to_inbox(row) if row else None

    async def inbox_find(self, channel: str, dedupe_key: str) -> InboxItem | None:
        async with self._tx() as tx:
            row = await tx.fetchone("SELECT * FROM inbox WHERE channel = ? AND dedupe_key = ?", channel, dedupe_key)
        return row_to_inbox(row) if row else None

    async def inbox_items(self, channel: str | None = None) -> list[InboxItem]:
        """Every item (of one channel), oldest first: for tests and inspection."""
        sql, args = _select("inbox", channel=channel)
        async with self._tx() as tx:
            rows = await tx.fetch(sql + " ORDER BY id", *args)
        return [row_to_inbox(r) for r in rows]

    async def inbox_unanswered(self, channel: str) -> list[InboxItem]:
        async with self._tx() as tx:
            rows = await tx.fetch(f"SELECT * FROM inbox WHERE channel = ? AND {_OPEN} ORDER BY id", channel)
        return [row_to_inbox(r) for r in rows]

    async def inbox_claim(self, channel: str, now: float, lease_until: float, token: str,
                          limit: int) -> list[InboxItem]:
        """Atomically takes up to `limit` unanswered items of the channel that nobody holds (no
        lease, or one that expired); two processes never get the same item."""
        async with self._tx() as tx:
            rows = await tx.fetch(
                "UPDATE inbox SET claim_token = ?, lease_until = ?, attempts = attempts + 1 WHERE id IN "
                f"(SELECT id FROM inbox WHERE channel = ? AND {_OPEN} AND (lease_until IS NULL OR lease_until <= ?) "
                f"ORDER BY id LIMIT ?{self._skip_locked}) AND {_OPEN} AND (lease_until IS NULL OR lease_until <= ?) "
                "RETURNING *", token, lease_until, channel, now, limit, now)
        return sorted((row_to_inbox(r) for r in rows), key=lambda i: i.id)

    async def inbox_take(self, item_id: int, now: float, lease_until: float, token: str) -> InboxItem | None:
        """Claims one item if it is unanswered and nobody holds it; None otherwise."""
        async with self._tx() as tx:
            row = await tx.fetchone(
                "UPDATE inbox SET claim_token = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ? "
                f"AND {_OPEN} AND (lease_until IS NULL OR lease_until <= ?) RETURNING *",
                token, lease_until, item_id, now)
        return row_to_inbox(row) if row else None

    async def inbox_renew(self, item_id: int, token: str, lease_until: float) -> bool:
        """The holder is alive and still answering; False when it no longer holds the item."""
        if not token:
            return False
        async with self._tx() as tx:
            return bool(await tx.execute(f"UPDATE inbox SET lease_until = ? WHERE id = ? AND claim_token = ? "
                                         f"AND {_OPEN}", lease_until, item_id, token))

    async def inbox_release(self, item_id: int, token: str, lease_until: float | None) -> bool:
        """The holder lets go: anyone may take the item from `lease_until` on (None: at once)."""
        async with self._tx() as tx:
            return bool(await tx.execute(f"UPDATE inbox SET lease_until = ? WHERE id = ? AND claim_token = ? "
                                         f"AND {_OPEN}", lease_until, item_id, token))

    async def inbox_mark(self, item_id: int, status: str, now: float | None, reply: dict | None) -> None:
        """SENDING (the claim stays), or ANSWERED at `now` with the reply kept (claim cleared)."""
        async with self._tx() as tx:
            if status == ANSWERED:
                await tx.execute("UPDATE inbox SET status = ?, answered_at = ?, reply = ?, lease_until = NULL "
                                 "WHERE id = ?", status, now, None if reply is None else json.dumps(reply), item_id)
            else:
                await tx.execute(f"UPDATE inbox SET status = ? WHERE id = ? AND {_OPEN}", status, item_id)

    async def inbox_vote(self, item_id: int, voter: str, helpful: bool, now: float) -> None:
        """One vote per person per item; a later press (by `now`, when it was pressed) replaces an
        earlier one, never the reverse, whatever order two quick presses are handled in."""
        async with self._tx() as tx:
            await tx.execute("INSERT INTO inbox_votes (inbox_id, voter, helpful, created_at) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (inbox_id, voter) DO UPDATE SET helpful = excluded.helpful, "
                             "created_at = excluded.created_at WHERE inbox_votes.created_at <= excluded.created_at",
                             item_id, voter, int(helpful), now)

    async def inbox_votes(self, item_id: int) -> list[tuple[str, bool]]:
        async with self._tx() as tx:
            rows = await tx.fetch("SELECT voter, helpful FROM inbox_votes WHERE inbox_id = ? ORDER BY created_at, "
                                  "voter", item_id)
        return [(r["voter"], bool(r["helpful"])) for r in rows]

    async def _save_references(self, tx: Tx, keys: list[str], reference: dict, now: float) -> None:
        for key in keys:
            await tx.execute("INSERT INTO channel_references (key, reference, updated_at) VALUES (?, ?, ?) "
                             "ON CONFLICT (key) DO UPDATE SET reference = excluded.reference, "
                             "updated_at = excluded.updated_at", key, json.dumps(reference), now)

    async def save_references(self, keys: list[str], reference: dict, now: float) -> None:
        async with self._tx() as tx:
            await self._save_references(tx, keys, reference, now)

    async def reference(self, key: str) -> dict | None:
        async with self._tx() as tx:
            row = await tx.fetchone("SELECT reference FROM channel_references WHERE key = ?", key)
        return json.loads(row["reference"]) if row else None

    async def import_legacy_inbox(self, items: Sequence[InboxItem], votes: Sequence[tuple[str, int, str, bool, float]],
                                  references: Sequence[tuple[str, dict, float]]) -> int:
        """The adapters' old SQLite tables, in one transaction (bot/escalations/legacy_inbox.py):
        items keep their old id as legacy_id, and new ids are raised above every old one first, so
        a number on a button posted before the upgrade names one item only. Votes are
        (channel, old id, voter, helpful, at). Idempotent: importing again adds nothing. Returns
        how many items were new."""
        floor = max((i.legacy_id or 0 for i in items), default=0)
        added = 0
        async with self._tx() as tx:
            if floor:
                await self._raise_inbox_ids(tx, floor)
            for item in items:
                added += await tx.execute(
                    f"INSERT INTO inbox ({_INBOX_COLUMNS}) VALUES ({', '.join('?' * 16)}) ON CONFLICT DO NOTHING",
                    *_inbox_values(item))
            for channel, old_id, voter, helpful, at in votes:
                row = await tx.fetchone("SELECT id FROM inbox WHERE channel = ? AND legacy_id = ?", channel, old_id)
                if row is not None:
                    await tx.execute("INSERT INTO inbox_votes (inbox_id, voter, helpful, created_at) "
                                     "VALUES (?, ?, ?, ?) ON CONFLICT (inbox_id, voter) DO NOTHING",
                                     row["id"], voter, int(helpful), at)
            for key, reference, at in references:
                await tx.execute("INSERT INTO channel_references (key, reference, updated_at) VALUES (?, ?, ?) "
                                 "ON CONFLICT (key) DO NOTHING", key, json.dumps(reference), at)
        return added

    @abstractmethod
    async def _raise_inbox_ids(self, tx: Tx, floor: int) -> None:
        """Make every inbox id given from now on greater than `floor`."""

    # -- the web chat's conversations (see conversations.py) ---------------------------------
    async def add_turn(self, turn: Turn) -> None:
        async with self._tx() as tx:
            await tx.execute("INSERT INTO conversation_turns (id, conversation_key, school, question, reply, "
                             "escalation_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                             turn.id,
                             turn.conversation_key, turn.school, turn.question, json.dumps(turn.reply),
                             turn.escalation_id, turn.created_at)

    async def attach_escalation(self, conversation_key: str, turn_id: str, escalation_id: str) -> bool:
        """The asker pressed "Ask <lead>" under a turn: its lead answer belongs to that turn.
        Only a turn of that same conversation (False otherwise, nothing changed)."""
        async with self._tx() as tx:
            return bool(await tx.execute("UPDATE conversation_turns SET escalation_id = ? WHERE id = ? AND "
                                         "conversation_key = ?", escalation_id, turn_id, conversation_key))

    async def turns(self, conversation_key: str, limit: int = MAX_TURNS) -> list[Turn]:
        """The conversation's newest `limit` turns, oldest first."""
        async with self._tx() as tx:
            rows = await tx.fetch("SELECT * FROM conversation_turns WHERE conversation_key = ? "
                                  "ORDER BY created_at DESC, id DESC LIMIT ?", conversation_key, limit)
        return [Turn(r["id"], r["conversation_key"], r["school"], r["question"], json.loads(r["reply"]),
                     r["escalation_id"], r["created_at"]) for r in reversed(rows)]

    # -- the authoring view's drafts (see adapters/authoring_api.py) --------------------------
    async def draft_save(self, draft_id: str, school: str, body: dict, revision: int, now: float) -> None:
        """Store a draft, or its newer revision (an older revision never overwrites a newer one)."""
        async with self._tx() as tx:
            await tx.execute("INSERT INTO authoring_drafts (id, school, body, revision, created_at, updated_at) "
                             "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body, "
                             "revision = excluded.revision, updated_at = excluded.updated_at "
                             "WHERE authoring_drafts.revision <= excluded.revision",
                             draft_id, school, json.dumps(body), revision, now, now)

    async def draft_load(self, draft_id: str) -> tuple[dict, float] | None:
        """(the draft's body, when it was created), or None."""
        async with self._tx() as tx:
            row = await tx.fetchone("SELECT body, created_at FROM authoring_drafts WHERE id = ?", draft_id)
        return (json.loads(row["body"]), row["created_at"]) if row else None

    async def draft_delete(self, draft_id: str) -> bool:
        async with self._tx() as tx:
            return bool(await tx.execute("DELETE FROM authoring_drafts WHERE id = ?", draft_id))

    # -- feedback (see feedback.py for the design) ------------------------------------------
    async def record_answer(self, record: FeedbackRecord) -> bool:
        """The ANSWERED row for an answer a channel gave; False (nothing written) when that
        answer_ref is recorded already (a replayed question is counted once)."""
        async with self._tx() as tx:
            return bool(await tx.execute(
                f"INSERT INTO feedback ({_FB_COLUMNS}) VALUES ({', '.join('?' * 12)}) ON CONFLICT DO NOTHING",
                *_fb_values(record)))

    async def record_vote(self, vote_id: str, answer_ref: str, platform: str, voter: str, helpful: bool,
                          now: float) -> FeedbackRecord | None:
        """One vote per person per answer; a later press (by `now`, when it was pressed) replaces
        an earlier one, never the reverse: two quick presses may be handled in either order. The
        vote takes school, decision and clauses from the answer's ANSWERED row; None (nothing
        written) when there is no such answer."""
        async with self._tx() as tx:
            row = await tx.fetchone("SELECT * FROM feedback WHERE answer_ref = ? AND event = ?",
                                    answer_ref, ANSWERED_EVENT)
            if row is None:
                return None
            vote = FeedbackRecord(vote_id, answer_ref, VOTE_EVENT, row["school"], platform, voter, row["decision"],
                                  tuple(json.loads(row["clauses"])), helpful, None, now)
            await tx.execute(
                f"INSERT INTO feedback ({_FB_COLUMNS}) VALUES ({', '.join('?' * 12)}) "
                "ON CONFLICT (answer_ref, event, asker_id) DO UPDATE SET helpful = excluded.helpful, "
                "created_at = excluded.created_at WHERE feedback.created_at <= excluded.created_at",
                *_fb_values(vote))
        return vote

    async def feedback(self, school: str | None = None, since: float | None = None,
                       answer_ref: str | None = None) -> list[FeedbackRecord]:
        """Feedback rows, oldest first, optionally for one school / answer, from `since` on."""
        sql, args = _since(*_select("feedback", school=school, answer_ref=answer_ref), since)
        async with self._tx() as tx:
            rows = await tx.fetch(sql + " ORDER BY created_at, id", *args)
        return [row_to_feedback(r) for r in rows]

    async def escalations_since(self, school: str | None = None, since: float | None = None) -> list[Escalation]:
        """Every escalation (any status), oldest first, optionally for one school, from `since` on."""
        sql, args = _since(*_select("escalations", school=school), since)
        async with self._tx() as tx:
            rows = await tx.fetch(sql + " ORDER BY created_at, id", *args)
        return [row_to_escalation(r) for r in rows]

    # -- outbox ------------------------------------------------------------------------------
    async def _insert_message(self, tx: Tx, m: OutboxMessage) -> bool:
        """Insert unless a message with the same idempotency key exists (then: False)."""
        return bool(await tx.execute(
            f"INSERT INTO outbox ({_MSG_COLUMNS}) VALUES ({', '.join('?' * 19)}) "
            "ON CONFLICT (idempotency_key) DO NOTHING", *_msg_values(m)))

    async def add_messages(self, messages: Iterable[OutboxMessage]) -> int:
        """Insert timer-made messages (reminders...); duplicates by key are ignored, so several
        workers running the same timers create each message once. Returns how many were new."""
        async with self._tx() as tx:
            return sum([await self._insert_message(tx, m) for m in messages])

    async def messages(self, escalation_id: str | None = None, status: str | None = None) -> list[OutboxMessage]:
        sql, args = _select("outbox", escalation_id=escalation_id, status=status)
        async with self._tx() as tx:
            rows = await tx.fetch(sql + " ORDER BY created_at, id", *args)
        return [row_to_message(r) for r in rows]

    @abstractmethod
    async def claim_due(self, now: float, channels: Sequence[str], limit: int, lease_seconds: float,
                        token: str) -> list[OutboxMessage]:
        """Atomically take up to `limit` messages for these channels that are pending and due, or
        `sending` with an expired lease (their worker died): status -> sending, attempts + 1,
        lease_until = now + lease, claim_token = token. Concurrent workers never get the same one."""

    async def renew_lease(self, m: OutboxMessage, lease_until: float) -> bool:
        """The claim holder is alive and still sending: push its lease on. False when the claim
        was lost (another worker took the message over)."""
        async with self._tx() as tx:
            return bool(await tx.execute(
                "UPDATE outbox SET lease_until = ? WHERE id = ? AND claim_token = ? AND status = ?",
                lease_until, m.id, m.claim_token, SENDING))

    async def mark_sent(self, m: OutboxMessage, now: float) -> bool:
        """Record the message (and so its idempotency key) as delivered. Only the claim holder
        can: if the lease expired and another worker took it, returns False."""
        async with self._tx() as tx:
            return bool(await tx.execute(
                "UPDATE outbox SET status = ?, sent_at = ?, lease_until = NULL, last_error = '' "
                "WHERE id = ? AND claim_token = ? AND status = ?", SENT, now, m.id, m.claim_token, SENDING))

    async def mark_retry(self, m: OutboxMessage, error: str, next_attempt_at: float) -> bool:
        async with self._tx() as tx:
            return bool(await tx.execute(
                "UPDATE outbox SET status = ?, next_attempt_at = ?, lease_until = NULL, last_error = ? "
                "WHERE id = ? AND claim_token = ? AND status = ?",
                PENDING, next_attempt_at, error[:500], m.id, m.claim_token, SENDING))

    async def mark_cancelled(self, m: OutboxMessage, why: str) -> bool:
        async with self._tx() as tx:
            return bool(await tx.execute(
                "UPDATE outbox SET status = ?, lease_until = NULL, last_error = ? "
                "WHERE id = ? AND claim_token = ? AND status = ?", CANCELLED, why, m.id, m.claim_token, SENDING))

    async def reroute(self, m: OutboxMessage, error: str, replacement: OutboxMessage | None) -> bool:
        """Give up on this contact/channel: mark the message rerouted (or failed when there is no
        one left) and insert its replacement, in one transaction, so the hand-over is recorded
        and cannot be half-done."""
        async with self._tx() as tx:
            changed = await tx.execute(
                "UPDATE outbox SET status = ?, lease_until = NULL, last_error = ?, rerouted_to = ? "
                "WHERE id = ? AND claim_token = ? AND status = ?",
                REROUTED if replacement else FAILED, error[:500], replacement.id if replacement else "",
                m.id, m.claim_token, SENDING)
            if changed and replacement:
                await self._insert_message(tx, replacement)
            return bool(changed)


def _since(sql: str, args: list, since: float | None) -> tuple[str, list]:
    """The select narrowed to rows created at or after `since` (unchanged when None)."""
    if since is None:
        return sql, args
    return sql + (" AND" if args else " WHERE") + " created_at >= ?", [*args, since]


def _now_text() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")
