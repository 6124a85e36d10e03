"""The Teams Notifier for the escalation outbox: a proactive card to the lead, and the lead's
answer back in the asker's conversation.

Why the fallback works as it does: Teams lets a bot write to someone only in a conversation it
already has a reference for, which exists once the person has messaged or installed the bot.
Without one, this raises PermanentError with a note saying so; the worker then hands the
notice to the next contact in the chain (email among them), and the note, which tells the lead
to open the bot once in Teams, travels into that email.
"""
from __future__ import annotations

import logging

from bot.escalations.model import ANSWER_TO_ASKER, Escalation, OutboxMessage
from bot.escalations.notify import NotifierRegistry, PermanentError, RetryableError, render

from . import cards
from .delivery import Send, retryable
from .model import Outgoing, SendError
from .store import TeamsStore, conversation_key

log = logging.getLogger("policybot.teams")


def open_bot_hint(name: str) -> str:
    return (f"{name} has not opened policybot in Microsoft Teams yet, so Teams cannot reach them. "
            "Open policybot once in Teams (Apps, search for policybot, Open, then say hello) "
            "and later notices will arrive there.")


class TeamsNotifier:
    def __init__(self, store: TeamsStore, send: Send):
        self.store, self.send_to = store, send
        self._sent: set[str] = set()

    async def send(self, message: OutboxMessage, escalation: Escalation) -> None:
        if message.idempotency_key in self._sent:
            return
        if message.kind == ANSWER_TO_ASKER:
            reference, out = await self._to_asker(message, escalation)
        else:
            reference, out = await self._to_contact(message, escalation)
        try:
            await self.send_to(reference, out)
        except SendError as exc:
            kind = RetryableError if retryable(exc) else PermanentError
            raise kind(f"teams {exc.status or 'unreachable'}") from None
        self._sent.add(message.idempotency_key)
        log.info("teams notice sent: escalation=%s message=%s kind=%s", escalation.id, message.id, message.kind)

    async def _to_contact(self, message: OutboxMessage, esc: Escalation) -> tuple[dict, Outgoing]:
        if not message.address:
            raise PermanentError(f"no Teams id for {message.recipient_role}")
        reference = await self.store.person_reference(message.address)
        if reference is None:
            raise PermanentError(open_bot_hint(message.recipient_name or message.recipient_role))
        subject, _ = render(message, esc)
        # A new message in the person's chat, not a reply to whatever they last said.
        reference = {k: v for k, v in reference.items() if k != "activityId"}
        return reference, Outgoing(text=subject, card=cards.lead_card(esc, message.kind))

    async def _to_asker(self, message: OutboxMessage, esc: Escalation) -> tuple[dict, Outgoing]:
        p = message.payload
        conversation = p.get("conversation") or esc.asker.conversation
        reference = await self.store.reference(conversation_key(conversation)) if conversation else None
        if reference is None:
            raise PermanentError("no Teams conversation to answer in")
        if p.get("thread"):
            reference = {**reference, "activityId": p["thread"]}  # in the question's thread
        text = p.get("text", "")
        by = p.get("attribution") or esc.answered_by
        # The card quotes the lead's own words; the text fallback is the full attributed reply.
        return reference, Outgoing(text=text, card=cards.answer_to_asker_card(esc, esc.answer_text or text, by))


def register_teams_notifier(registry: NotifierRegistry, store: TeamsStore, send: Send) -> TeamsNotifier:
    """Deliver "teams" outbox messages (lead notices, answers back to askers)."""
    notifier = TeamsNotifier(store, send)
    registry.register("teams", notifier)
    return notifier
