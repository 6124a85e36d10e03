"""What happened to an escalation's notices, in the words a reply may use.

The bot never says "sent to the lead" unless a notifier that reaches the lead accepted the
notice. An escalation's first notices are summarised from the outbox: delivered (to whom, by
which channel), still queued (retrying), or nobody reachable (only the log has it). A question
that could not be recorded at all, or a channel that records nothing (the command line), has
its own state, so the reply can say what to do instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .model import ANSWER_TO_ASKER, CANCELLED, FAILED, PENDING, REROUTED, SENDING, SENT, Escalation, OutboxMessage
from .reach import PERSON_CHANNELS

DELIVERED = "delivered"        # at least one person's notifier accepted a notice
QUEUED = "queued"              # a notice to a person is waiting or being retried; none accepted yet
NOBODY = "nobody_reachable"    # no notice can reach a person; only the log has it
NOT_RECORDED = "not_recorded"  # the escalation store could not record it
NOT_SENT_HERE = "not_sent_here"  # this channel does not send escalations (the command line)
STATES = (DELIVERED, QUEUED, NOBODY, NOT_RECORDED, NOT_SENT_HERE)


@dataclass(frozen=True)
class Notice:
    role: str      # lead / deputy
    name: str
    channel: str   # slack / teams / email
    delivered: bool


@dataclass(frozen=True)
class Delivery:
    state: str
    escalation_id: str = ""
    notices: tuple[Notice, ...] = ()
    error: str = ""  # for NOT_RECORDED: why, in words fit for staff

    @property
    def delivered_to(self) -> tuple[Notice, ...]:
        return tuple(n for n in self.notices if n.delivered)

    @property
    def waiting(self) -> tuple[Notice, ...]:
        return tuple(n for n in self.notices if not n.delivered)

    def as_dict(self) -> dict:
        return {"state": self.state, "escalation_id": self.escalation_id, "error": self.error,
                "notices": [{"role": n.role, "name": n.name, "channel": n.channel, "delivered": n.delivered}
                            for n in self.notices]}


def summarise(esc: Escalation, messages: Iterable[OutboxMessage]) -> Delivery:
    """The state of the notices to people (reminders and answers to the asker aside)."""
    notices, live = [], False
    for m in messages:
        if m.kind == ANSWER_TO_ASKER or m.channel not in PERSON_CHANNELS:
            continue
        if m.status == SENT:
            notices.append(Notice(m.recipient_role, m.recipient_name, m.channel, True))
        elif m.status in (PENDING, SENDING):
            notices.append(Notice(m.recipient_role, m.recipient_name, m.channel, False))
            live = True
        elif m.status in (REROUTED, CANCELLED, FAILED):
            continue  # a replacement message, if any, carries on
    if any(n.delivered for n in notices):
        state = DELIVERED
    elif live:
        state = QUEUED
    else:
        state = NOBODY
    # One line per person and channel, delivered first.
    seen, unique = set(), []
    for n in sorted(notices, key=lambda n: not n.delivered):
        if (n.name, n.channel) not in seen:
            seen.add((n.name, n.channel))
            unique.append(n)
    return Delivery(state, esc.id, tuple(unique))


def not_recorded(error: str) -> Delivery:
    return Delivery(NOT_RECORDED, error=error)


COMMAND_LINE = Delivery(NOT_SENT_HERE)
