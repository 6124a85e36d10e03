"""What the Teams bot does with a stored activity: answer a question, act on a card button,
greet on install. Everything it sends goes out proactively, after the HTTP 200.

Why proactive: Teams stops waiting for the HTTP response after 10-15 s and sends the activity
again, and an answer (plus any escalation) can take longer under load. So the turn only stores
the activity (store.py) and returns; this module answers from the stored copy and marks it done
once Teams has the reply, while its process holds the activity's claim in the shared inbox. A
crash in between leaves it pending, taken over by the next sweep of any process.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from adapters.place_mapping import PlaceMap
from adapters.rate_limit import rate_limited_text
from adapters.runtime import BotRuntime, NotReady
from bot.decide.answer import Answer, QuestionError, sent_unasked
from bot.escalations.delivery import Delivery, not_recorded
from bot.escalations.cancellation import release_on_cancel
from bot.escalations.inbox import InboxUnavailable, sweep_forever
from bot.escalations.model import ASKED_BY_USER, Asker, Escalation, IllegalTransition, NotFound
from bot.render import as_escalation, delivery_line

from . import cards
from .model import INSTALL, OTHER, QUESTION, SUBMIT, Incoming, Outgoing, SendError
from .store import StoredActivity, TeamsStore

log = logging.getLogger("policybot.teams")

NOT_SET_UP = ("policybot isn't set up for this Microsoft 365 tenant or team yet, so I can't answer here. "
              "Ask whoever runs policybot to add it to TEAMS_TENANT_SCHOOLS.")
PURGED = ("That question is older than the retention period and its text has been removed; "
          "please ask it again.")
# What Teams shows for an invoke (Universal Action) once the bot has taken it.
INVOKE_DONE = {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
               "value": "Received. policybot will reply here."}

Send = Callable[[dict, Outgoing], Awaitable[str]]


@dataclass
class TeamsAnswerer:
    runtime: BotRuntime
    store: TeamsStore
    send: Send
    schools: PlaceMap
    log_questions: bool = False
    escalations: Any = None  # the EscalationService once wired; None: "Ask <lead>" is not offered
    delivery_wait: float = 3.0  # POLICYBOT_DELIVERY_WAIT_SECONDS
    # The server's shared rate limit: key -> seconds to wait (0: go ahead); None: no limit.
    limit: Callable[[str], float] | None = None
    _inflight: set[int] = field(default_factory=set)
    _tasks: set[asyncio.Task] = field(default_factory=set)

    # --- inside the HTTP turn: store, schedule, return ---

    async def receive(self, inc: Incoming) -> dict | None:
        """Keeps the conversation reference (so the person can be reached later) and the
        activity; schedules the work. Never waits on the bot or on Teams. InboxUnavailable when
        it could not be stored: then Teams must not get its 200 (it sends the activity again)."""
        try:
            item = await self.store.record(inc)
        except InboxUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - sqlite3 / asyncpg / OS errors: not stored, not acknowledged
            raise InboxUnavailable(f"not stored: {type(exc).__name__}") from None
        if inc.kind == OTHER:
            return None
        if item is None:
            log.info("teams re-send dropped: conversation=%s activity=%s", inc.conversation_id, inc.activity_id)
        else:
            log.info("teams received: inbox=%s kind=%s tenant=%s conversation_type=%s", item.id, inc.kind,
                     inc.tenant or "-", inc.conversation_type)
            wait = self._over_limit(inc)
            self._spawn(self.handle(item) if not wait else self._limited(item, wait))
        return INVOKE_DONE if inc.invoke else None

    def _over_limit(self, inc: Incoming) -> float:
        """Seconds the asker must wait (0: go ahead): questions only, keyed by the person (their
        Entra object id, else their Teams id, within their tenant). Replays are never limited."""
        if inc.kind != QUESTION or self.limit is None:
            return 0.0
        return self.limit(f"teams:{inc.tenant}:{inc.aad_id or inc.user_id}")

    async def _limited(self, item: StoredActivity, wait: float) -> None:
        """Over the limit: told so (neither answered nor passed on), and done with."""
        log.warning("teams question over the rate limit: inbox=%s tenant=%s", item.id, item.incoming.tenant or "-")
        if await self.notice(item, rate_limited_text(wait)):
            await self.store.mark_done(item)

    def _spawn(self, work) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """At shutdown: cancel what is in flight (it stays pending and is answered on restart)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- after the turn ---

    async def handle(self, item: StoredActivity) -> bool:
        """Act on one stored activity and mark it done, while this process holds it; False when
        another process has it, or the bot or Teams failed (then any process tries again after a
        backoff). Cut short by shutdown: let go at once, for another process or the restart."""
        if item.id in self._inflight:
            return False
        self._inflight.add(item.id)
        try:
            async with self.store.holding(item) as mine:
                if not mine:
                    log.info("teams activity handled by another process: inbox=%s", item.id)
                    return False
                handler = {QUESTION: self._question, SUBMIT: self._submit, INSTALL: self._welcome}[item.incoming.kind]
                try:
                    ok = await handler(item)
                except NotReady:
                    log.error("teams: bot not ready; inbox=%s tried again later", item.id)
                    ok = False
                except asyncio.CancelledError:
                    await release_on_cancel(self.store.release(item), "teams", item.id)
                    raise
                if ok:
                    await self.store.mark_done(item)
                else:
                    wait = await self.store.retry_later(item)
                    log.warning("teams activity not handled, tried again in %.0f s: inbox=%s", wait, item.id)
                return ok
        finally:
            self._inflight.discard(item.id)

    async def replay(self) -> int:
        """Handles, one at a time, what is stored, unfinished and held by nobody (its process died,
        or its retry wait is over); returns how many were done."""
        done = 0
        while (item := await self.store.claim_one()) is not None:
            log.info("teams replay: inbox=%s kind=%s", item.id, item.incoming.kind)
            done += await self.handle(item)
        return done

    async def sweep(self, every: float) -> None:
        """Replays at start and then every `every` seconds, until cancelled."""
        await sweep_forever(self.replay, every, "teams")

    def school_of(self, inc: Incoming) -> str | None:
        return self.schools.school_for(inc.tenant, inc.channel, inc.team)

    async def answer_for(self, inc: Incoming) -> Answer | None:
        """The core's answer for the place the question came from; None when it is not mapped."""
        school = self.school_of(inc)
        if school is None:
            return None
        await self.runtime.wait_loaded()
        return await self.runtime.answer(school, inc.text)

    async def reply(self, item: StoredActivity, message: Outgoing) -> bool:
        """Into the activity's conversation (its thread, in a channel), with retries; a failure
        left after them is logged by id and leaves the activity pending."""
        try:
            await self.send(item.incoming.reference, message)
            return True
        except SendError as exc:
            log.error("teams reply failed: inbox=%s status=%s", item.id, exc.status)
            return False

    async def notice(self, item: StoredActivity, text: str) -> bool:
        return await self.reply(item, Outgoing(text=text, card=cards.notice_card(text)))

    async def _question(self, item: StoredActivity) -> bool:
        inc = item.incoming
        try:
            await self.send(inc.reference, Outgoing(typing=True))
        except SendError:
            pass  # only the "typing..." indicator: the answer itself is still tried below
        try:
            answer = await self.answer_for(inc)
        except QuestionError as exc:
            log.info("teams question refused: inbox=%s", item.id)
            return await self.notice(item, str(exc))
        if answer is None:
            log.info("teams question from unmapped place: inbox=%s tenant=%s team=%s channel=%s", item.id,
                     inc.tenant or "-", inc.team or "-", inc.channel or "-")
            return await self.notice(item, NOT_SET_UP)
        delivery = await self.escalate(item, answer) if sent_unasked(answer) else None
        card = cards.answer_card(answer, ref=str(item.id), lead_name=answer.lead.display,
                                 can_ask=self.escalations is not None, delivery=delivery)
        if self.escalations is not None:  # counted (once) before the card with its buttons goes out
            await self.escalations.record_answer(answer, self.answer_ref(item.id), "teams",
                                                 inc.aad_id or inc.user_id, inc.text)
        ok = await self.reply(item, Outgoing(text=cards.plain_text(answer, delivery), card=card))
        log.info("teams answer: inbox=%s tenant=%s school=%s decision=%s reason=%s clauses=%s%s", item.id,
                 inc.tenant or "-", answer.school, answer.decision, answer.reason,
                 ",".join(c.clause_id for c in answer.citations),
                 f" question={inc.text!r}" if self.log_questions else "")
        return ok

    @staticmethod
    def answer_ref(item_id: int) -> str:
        """The answer's name in the shared feedback record."""
        return f"teams:{item_id}"

    def asker(self, inc: Incoming) -> Asker:
        return Asker("teams", inc.aad_id or inc.user_id, inc.conversation_id, inc.activity_id, inc.user_name)

    async def escalate(self, item: StoredActivity, answer: Answer, reason: str | None = None) -> Delivery:
        """One escalation per Teams message (and one more if the asker presses "Ask <lead>"),
        however often the activity is replayed; and what happened to its notices."""
        if self.escalations is None:
            log.warning("teams: escalation service not wired; inbox=%s not escalated", item.id)
            return not_recorded("escalations are not available on this server")
        inc = item.incoming
        _, delivery = await self.escalations.escalate_and_report(
            answer, inc.text, self.asker(inc), reason=reason,
            dedupe_key=f"teams:{inc.conversation_id}:{inc.activity_id}" + (":asked" if reason else ""),
            wait=self.delivery_wait)
        return delivery

    # --- card buttons ---

    async def _submit(self, item: StoredActivity) -> bool:
        value = item.incoming.value
        action = value.get("policybot")
        handlers = {cards.FEEDBACK_HELPFUL: self._feedback, cards.FEEDBACK_UNHELPFUL: self._feedback,
                    cards.ASK_LEAD: self._ask_lead, cards.ESC_ACK: self._lead_action,
                    cards.ESC_ANSWER: self._lead_action}
        if action not in handlers:
            log.info("teams submit ignored: inbox=%s (not a policybot button)", item.id)
            return True
        return await handlers[action](item, action)

    async def _asked_item(self, item: StoredActivity) -> StoredActivity | None:
        try:
            return await self.store.get(int(item.incoming.value.get("ref", "")))
        except (TypeError, ValueError):
            return None

    async def _feedback(self, item: StoredActivity, action: str) -> bool:
        asked = await self._asked_item(item)
        if asked is None:
            return True
        helpful = action == cards.FEEDBACK_HELPFUL
        voter = item.incoming.aad_id or item.incoming.user_id
        # The shared feedback record (one vote per person per answer, a second press changes it);
        # without the escalation service, or for an answer given before it kept feedback, kept
        # with the activity in the inbox.
        # When the press was received (stored before Teams got its 200): each activity is handled
        # in its own task, so two quick presses may be handled in either order.
        pressed_at = item.stored.created_at
        shared = self.escalations is not None and await self.escalations.record_feedback(
            self.answer_ref(asked.id), "teams", voter, helpful, pressed_at)
        if not shared:
            await self.store.add_feedback(asked, voter, helpful, pressed_at)
        log.info("teams feedback: inbox=%s helpful=%s recorded=%s", asked.id, helpful, "shared" if shared else "store")
        return await self.reply(item, Outgoing(text="Thanks, your feedback is recorded."))

    async def _ask_lead(self, item: StoredActivity, action: str) -> bool:
        asked = await self._asked_item(item)
        if asked is None:
            return True
        if asked.purged_at is not None:
            return await self.notice(item, PURGED)
        answer = await self.answer_for(asked.incoming)
        if answer is None:
            return await self.notice(item, NOT_SET_UP)
        delivery = await self.escalate(asked, answer, reason=ASKED_BY_USER)
        log.info("teams asked lead: inbox=%s escalation=%s delivery=%s", asked.id, delivery.escalation_id or "-",
                 delivery.state)
        return await self.reply(item, Outgoing(text=delivery_line(as_escalation(answer), delivery)))

    async def _lead_action(self, item: StoredActivity, action: str) -> bool:
        inc = item.incoming
        if self.escalations is None:
            return await self.notice(item, "Escalations are not available in this policybot just now.")
        esc_id = str(inc.value.get("escalation", ""))
        by = inc.user_name or inc.user_id
        try:
            esc = await self.escalations.get(esc_id)
            if not may_handle(esc, inc):
                log.warning("teams: escalation=%s action by someone who is not its lead or deputy", esc_id)
                return await self.notice(item, "Only the school's lead or deputy can act on this escalation.")
            if action == cards.ESC_ACK:
                await self.escalations.acknowledge(esc_id, by=by)
                note = "Acknowledged: reminders stop. Type your answer on the card and press Send answer."
            else:
                text = str(inc.value.get("answer", "")).strip()
                if not text:
                    return await self.notice(item, "Type your answer in the box on the card first.")
                keep = cards.keep_from_submit(inc.value)  # ValueError: told, nothing sent
                _, outcome = await self.escalations.answer_and_keep(esc_id, by=by, text=text, keep=keep,
                                                                    user_id=inc.aad_id or inc.user_id)
                note = "Sent: your answer goes to the person who asked, in their conversation, under your name."
                if outcome.message:  # saved as guidance (and where), or why not: the lead must know
                    note += " " + outcome.message
        except (IllegalTransition, NotFound) as exc:
            note = str(exc)
        except ValueError as exc:
            note = f"Not sent: {exc}. Change the choices on the card and press Send answer again."
        log.info("teams lead action: escalation=%s action=%s", esc_id, action)
        return await self.notice(item, note)

    # --- install ---

    async def _welcome(self, item: StoredActivity) -> bool:
        inc = item.incoming
        slug = self.school_of(inc)
        if slug is None:
            return await self.notice(item, NOT_SET_UP)
        await self.runtime.wait_loaded()
        school = self.runtime.bot.kb.schools[slug]
        where = "Ask me here" if inc.personal else "@mention me with your question"
        text = (f"Hello. I answer questions about {school.name}'s online-safety and social-media policy, "
                f"quoting the policy itself. {where}, in your own words. Questions I can't answer safely are "
                f"passed to {school.lead.display}, and I say whether they could be reached. If you are worried about a child right now, speak to the "
                "designated safeguarding lead in person.")
        return await self.notice(item, text)


def may_handle(esc: Escalation, inc: Incoming) -> bool:
    """A contact with a Teams id set must be that person; with none set, whoever got the card."""
    ids = {c.teams_user_id for c in (esc.lead, esc.deputy) if c.teams_user_id}
    return not ids or bool({inc.aad_id, inc.user_id} & ids)
