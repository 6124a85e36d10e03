"""EscalationService: the platform-neutral API the adapters (Slack, Teams, web, CLI) call.

Each call is one store transaction that changes the escalation AND writes the outbox messages
the change causes, so a crash can never leave an escalation nobody was told about, or an
answer that never goes back to the asker. Delivery itself is the worker's job (outbox.py).
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..decide.answer import URGENT as URGENT_DECISION
from ..decide.answer import Answer
from ..knowledge.notes import LEAD_ANSWER
from ..knowledge.notes_write import Keep, Kept, KnowledgeWriteError, save as save_knowledge
from . import routing
from .delivery import QUEUED, Delivery, not_recorded, summarise
from .conversations import Turn, conversation_key, new_turn_id
from .gaps import Gap, gaps
from .feedback import ANSWERED_EVENT, FeedbackRecord, SchoolFeedback, report
from .model import (ACKNOWLEDGED, ANSWER_TO_ASKER, ANSWERED, ASKED_BY_USER, CLOSED, REASONS, URGENT, Asker,
                    Candidate, Escalation, NotFound, OutboxMessage, check_transition)
from .notify import NotifierRegistry
from .store import EscalationStore

log = logging.getLogger("policybot.escalations")
DELIVERY_POLL_SECONDS = 0.05
STORE_DOWN = "its escalation database is unavailable"


def new_escalation_id() -> str:
    """Short enough to type in `policybot escalations ack ID`, random enough not to guess."""
    return "e" + uuid.uuid4().hex[:9]


def attribution(esc: Escalation, by: str) -> str:
    """'Ms A Lead (Online Safety Lead)' when `by` is the lead or deputy by name, else `by` as typed."""
    for contact in (esc.lead, esc.deputy):
        if contact.name and by.strip().lower() == contact.name.lower():
            return contact.display
    return by.strip()


def answer_text_for_asker(esc: Escalation, by: str, text: str) -> str:
    """The reply delivered to the asker's conversation: the lead's words quoted, attributed by name."""
    quoted = "\n".join("> " + line for line in text.strip().splitlines())
    return (f"{attribution(esc, by)} at {esc.school_name} has answered the question you asked "
            f"(ref {esc.id}):\n\n{quoted}")


def author_of(esc: Escalation, by: str, user_id: str = "") -> tuple[str, str]:
    """(name, role) for a note's author: the lead's or deputy's own name and role when `by` is
    their name or `user_id` their Slack / Teams id, else `by` as given and no role."""
    for contact in (esc.lead, esc.deputy):
        named = contact.name and by.strip().lower() == contact.name.lower()
        same_id = user_id and user_id in (contact.slack_user_id, contact.teams_user_id)
        if named or same_id:
            return (contact.name or by.strip(), contact.role)
    return by.strip(), ""


@dataclass(frozen=True)
class KeepOutcome:
    """What became of the lead's "keep this" choices, in words for the lead."""

    kept: Kept | None = None
    error: str = ""

    @property
    def message(self) -> str:
        if self.error:
            return f"Your answer was sent, but it was NOT saved as guidance: {self.error}."
        k = self.kept
        if k is None or not (k.note_id or k.phrasing_for or k.notes):
            return ""
        parts = []
        if k.note_id:
            parts.append(f"Saved as guidance {k.note_id} in {k.note_file}")
        if k.phrasing_for:
            parts.append(f"the question was added as a phrasing of {k.phrasing_for} in {k.phrasing_file}")
        parts.extend(k.notes)
        live = " It is used from the next time policybot loads its knowledge (restart or reload)." if (
            k.note_id or k.phrasing_for) else ""
        said = "; ".join(parts)
        return said[:1].upper() + said[1:] + "." + live


class EscalationService:
    def __init__(self, store: EscalationStore, registry: NotifierRegistry, clock: Callable[[], float] = time.time,
                 wake: Callable[[], None] | None = None, knowledge_dir: Path | None = None):
        """`registry`: the channels that can be delivered to, which routing picks from.
        `wake`: tells the outbox worker in this process that new messages are due now.
        `knowledge_dir`: where a lead's reusable answers are written (None: they cannot be)."""
        self.store, self.registry, self.clock, self.wake = store, registry, clock, wake
        self.knowledge_dir = knowledge_dir
        self.write_error = ""  # the last failed write, until one succeeds

    async def escalate_and_report(self, answer: Answer, question: str, asker: Asker, reason: str | None = None,
                                  dedupe_key: str | None = None, wait: float = 0.0) -> tuple[Escalation | None, Delivery]:
        """escalate(), then what happened to its notices (see delivery()). A store that fails the
        write is reported as NOT_RECORDED, never as sent, and kept as `write_error` (readiness
        reports it) until a later write succeeds."""
        try:
            esc = await self.escalate(answer, question, asker, reason=reason, dedupe_key=dedupe_key)
        except Exception as exc:  # noqa: BLE001 - any failure to record is the asker's to know
            self.write_error = f"escalation store failed a write: {type(exc).__name__}"
            log.error("escalation not recorded: school=%s decision=%s error=%s", answer.school, answer.decision,
                      type(exc).__name__)
            return None, not_recorded(STORE_DOWN)
        self.write_error = ""
        try:
            return esc, await self.delivery(esc, wait)
        except Exception as exc:  # noqa: BLE001 - recorded, but its notices cannot be read back
            log.error("escalation %s recorded; delivery state unreadable: %s", esc.id, type(exc).__name__)
            return esc, Delivery(QUEUED, esc.id)

    async def delivery(self, esc: Escalation, wait: float = 0.0) -> Delivery:
        """What has happened to the escalation's notices to people, waiting up to `wait`
        seconds while they are still queued (the worker is woken, so a reachable lead is
        usually told within that time and the reply can say so truthfully)."""
        if self.wake is not None:
            self.wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            d = summarise(esc, await self.store.messages(esc.id))
            if d.state != QUEUED or loop.time() >= deadline:
                return d
            await asyncio.sleep(min(DELIVERY_POLL_SECONDS, max(0.0, deadline - loop.time())))

    async def escalate(self, answer: Answer, question: str, asker: Asker, reason: str | None = None,
                       dedupe_key: str | None = None) -> Escalation:
        """Record a question for the school's lead and queue its notifications, atomically.

        `reason`: None takes it from the Answer (urgent / low_confidence / policy_silent /
        out_of_scope; an answered question escalated by the asker is asked_by_user).
        `dedupe_key`: e.g. "slack:<team>:<channel>:<ts>"; the same key returns the first
        escalation again and queues nothing, so a retried webhook never escalates twice.
        """
        urgent = answer.decision == URGENT_DECISION or reason == URGENT
        if reason is None:
            reason = URGENT if urgent else (answer.reason if answer.reason in REASONS else ASKED_BY_USER)
        if reason not in REASONS:
            raise ValueError(f"unknown escalation reason {reason!r}; expected one of {', '.join(REASONS)}")
        now = self.clock()
        esc = Escalation(
            id=new_escalation_id(), school=answer.school, school_name=answer.school_name, asker=asker,
            question=question, reason=reason, urgent=urgent, concern=answer.concern,
            candidates=tuple(Candidate(c.clause_id, f"guidance from {c.author}, {c.date}" if c.source == LEAD_ANSWER
                                       else f"{c.policy}, {c.section}") for c in answer.citations),
            lead=answer.lead, deputy=answer.deputy, dedupe_key=dedupe_key, created_at=now)
        messages = routing.initial_messages(esc, self.registry.channels(), now)
        stored, created = await self.store.create(esc, messages)
        if created:
            log.info("escalation created: id=%s school=%s reason=%s urgent=%s notices=%s", esc.id, esc.school,
                     reason, urgent, ",".join(f"{m.recipient_role}/{m.channel}" for m in messages))
            for m in messages:
                if m.payload.get("note"):
                    log.warning("escalation %s: %s", esc.id, m.payload["note"])
        else:
            log.info("escalation deduplicated: id=%s dedupe_key matched", stored.id)
        return stored

    async def acknowledge(self, escalation_id: str, by: str) -> Escalation:
        """The lead (or deputy) takes it on; stops reminders and urgent re-notifications."""
        esc = await self.store.get(escalation_id)
        check_transition(esc.id, esc.status, ACKNOWLEDGED)
        updated = replace(esc, status=ACKNOWLEDGED, holder=by, acknowledged_at=self.clock())
        await self.store.transition(updated, esc.status)
        log.info("escalation acknowledged: id=%s", esc.id)
        return updated

    async def answer(self, escalation_id: str, by: str, text: str) -> Escalation:
        """Record the lead's answer and queue it to the asker's conversation, in one transaction."""
        if not text or not text.strip():
            raise ValueError("the answer is empty")
        esc = await self.store.get(escalation_id)
        check_transition(esc.id, esc.status, ANSWERED)
        now = self.clock()
        updated = replace(esc, status=ANSWERED, holder=esc.holder or by, answer_text=text.strip(), answered_by=by,
                          acknowledged_at=esc.acknowledged_at or now, answered_at=now)
        a = esc.asker
        reply = OutboxMessage(
            id=uuid.uuid4().hex[:16], escalation_id=esc.id, kind=ANSWER_TO_ASKER, recipient_role="asker",
            recipient_name=a.display_name, channel=a.platform, address=a.user_id,
            idempotency_key=f"{esc.id}:answer_to_asker",
            payload={"text": answer_text_for_asker(esc, by, text), "conversation": a.conversation,
                     "thread": a.thread, "attribution": attribution(esc, by)},
            next_attempt_at=now, created_at=now)
        await self.store.transition(updated, esc.status, [reply])
        log.info("escalation answered: id=%s reply_channel=%s", esc.id, a.platform)
        if self.registry.get(a.platform) is None:
            log.warning("escalation %s: no notifier for %r here; the answer waits in the outbox until one runs",
                        esc.id, a.platform)
        return updated

    async def answer_and_keep(self, escalation_id: str, by: str, text: str, keep: Keep | None = None,
                              user_id: str = "") -> tuple[Escalation, KeepOutcome]:
        """answer(), then what the lead chose to keep: the answer as a reviewed note for the
        school, the question (as the lead reworded it) as a phrasing. The answer goes to the
        asker first, whatever happens to the files; a failed write is the lead's to know (the
        outcome's message), never silent. Without a say-so nothing is written. A request that
        makes no sense (e.g. keep an empty question) is refused before anything is sent."""
        if keep is not None:
            keep.check()
        esc = await self.answer(escalation_id, by, text)
        if keep is None or not keep.wanted:
            return esc, KeepOutcome()
        if self.knowledge_dir is None:
            return esc, KeepOutcome(error="saving answers as guidance is not set up in this process")
        name, role = author_of(esc, by, user_id)
        day = datetime.fromtimestamp(self.clock(), timezone.utc).date().isoformat()
        try:
            kept = await asyncio.to_thread(save_knowledge, self.knowledge_dir, esc.school, keep, answer=esc.answer_text,
                                           author=name, role=role, day=day, escalation_id=esc.id)
        except (KnowledgeWriteError, ValueError) as exc:
            log.error("escalation %s: lead's answer not kept: %s", esc.id, type(exc).__name__)
            return esc, KeepOutcome(error=str(exc))
        except Exception as exc:  # noqa: BLE001 - the lead must hear of any failure
            log.exception("escalation %s: lead's answer not kept", esc.id)
            return esc, KeepOutcome(error=f"{type(exc).__name__}: {exc}")
        log.info("escalation %s: kept note=%s phrasing_for=%s", esc.id, kept.note_id or "-", kept.phrasing_for or "-")
        return esc, KeepOutcome(kept)

    async def close(self, escalation_id: str) -> Escalation:
        esc = await self.store.get(escalation_id)
        check_transition(esc.id, esc.status, CLOSED)
        updated = replace(esc, status=CLOSED, closed_at=self.clock())
        await self.store.transition(updated, esc.status)
        log.info("escalation closed: id=%s", esc.id)
        return updated

    async def get(self, escalation_id: str) -> Escalation:
        return await self.store.get(escalation_id)

    async def list(self, status: str | None = None, school: str | None = None, limit: int = 100) -> list[Escalation]:
        return await self.store.list(status=status, school=school, limit=limit)

    async def messages(self, escalation_id: str) -> list[OutboxMessage]:
        return await self.store.messages(escalation_id)

    # -- feedback (one record for every channel; see feedback.py) -----------------------------
    async def record_answer(self, answer: Answer, answer_ref: str, platform: str, asker_id: str,
                            question: str) -> bool:
        """Count an answer a channel gave (its decision and cited clauses; the question text
        until the retention purge), so its Helpful / Not helpful can be recorded against it.
        Never raises: a failed write is logged by id and the asker still gets the answer."""
        record = FeedbackRecord(uuid.uuid4().hex[:16], answer_ref, ANSWERED_EVENT, answer.school, platform, asker_id,
                                answer.decision, tuple(c.clause_id for c in answer.citations), None, question,
                                self.clock())
        try:
            return await self.store.record_answer(record)
        except Exception as exc:  # noqa: BLE001 - feedback must never stop an answer
            log.error("answer not recorded for feedback: ref=%s error=%s", answer_ref, type(exc).__name__)
            return False

    async def record_feedback(self, answer_ref: str, platform: str, voter: str, helpful: bool,
                              pressed_at: float | None = None) -> bool:
        """A person's Helpful / Not helpful on an answer: one vote per person per answer, a later
        press changing it (`pressed_at`: when the channel received the press, so two quick presses
        handled out of order keep the second). False when the answer is unknown (never recorded,
        e.g. given before feedback was kept) or the store failed (logged)."""
        try:
            vote = await self.store.record_vote(uuid.uuid4().hex[:16], answer_ref, platform, voter, helpful,
                                                pressed_at if pressed_at is not None else self.clock())
        except Exception as exc:  # noqa: BLE001 - the voter is told it was not recorded
            log.error("feedback not recorded: ref=%s error=%s", answer_ref, type(exc).__name__)
            return False
        if vote is None:
            log.warning("feedback for an unknown answer: ref=%s platform=%s", answer_ref, platform)
            return False
        log.info("feedback recorded: ref=%s platform=%s school=%s decision=%s helpful=%s clauses=%s", answer_ref,
                 platform, vote.school, vote.decision, helpful, ",".join(vote.clauses) or "-")
        return True

    # -- the web chat's conversations (see conversations.py) ----------------------------------
    async def record_turn(self, conversation_id: str, school: str, question: str, reply: dict,
                          escalation_id: str | None = None, turn_id: str | None = None) -> str:
        """Keep one question and the reply shown for the browser's conversation; the turn's id,
        or "" when the write failed (logged by id: the asker still has the reply on screen).
        `turn_id` (a retried request's) is kept once however often it is recorded."""
        turn = Turn(turn_id or new_turn_id(), conversation_key(conversation_id), school, question, reply,
                    escalation_id, self.clock())
        try:
            await self.store.add_turn(turn)
        except Exception as exc:  # noqa: BLE001 - history must never stop an answer
            log.error("conversation turn not recorded: school=%s error=%s", school, type(exc).__name__)
            return ""
        return turn.id

    async def attach_escalation(self, conversation_id: str, turn_id: str, escalation_id: str) -> bool:
        """The asker pressed "Ask <lead>" under a turn; False when it is not a turn of theirs."""
        try:
            return await self.store.attach_escalation(conversation_key(conversation_id), turn_id, escalation_id)
        except Exception as exc:  # noqa: BLE001 - the escalation itself is recorded
            log.error("conversation turn not linked: escalation=%s error=%s", escalation_id, type(exc).__name__)
            return False

    async def history(self, conversation_id: str) -> list[tuple[Turn, Escalation | None]]:
        """The conversation's turns, oldest first, each with its escalation as it is now (so a
        lead answer that came after the reply is there). Nothing for an unknown id."""
        out = []
        for turn in await self.store.turns(conversation_key(conversation_id)):
            esc = None
            if turn.escalation_id:
                try:
                    esc = await self.store.get(turn.escalation_id)
                except NotFound:
                    esc = None
            out.append((turn, esc))
        return out

    async def gaps(self, school: str, since: float | None = None) -> list[Gap]:
        """Escalated and "not helpful" questions, grouped by the clause they came nearest."""
        return gaps(await self.store.escalations_since(school=school, since=since),
                    await self.store.feedback(school=school, since=since))

    async def feedback_report(self, school: str | None = None, since: float | None = None) -> dict[str, SchoolFeedback]:
        """Per school: answered, helpful, not helpful, escalated; and per clause."""
        return report(await self.store.feedback(school=school, since=since),
                      await self.store.escalations_since(school=school, since=since))
