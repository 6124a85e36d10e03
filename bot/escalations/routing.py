"""Who is told, on which channel, and when: pure functions of an escalation, the clock and the
channels that have a notifier. No I/O, so every rule is tested with a made-up `now`.

Rules (issue 5):
* ordinary escalation -> the lead; a reminder to the lead after `reminder_minutes` if nobody has
  acknowledged; `deputy_after_minutes` after that, the deputy.
* urgent -> lead and deputy at once, marked urgent, and again every `urgent_renotify_minutes`
  until someone acknowledges (re-notifications are cancelled by the acknowledgement).
* a contact who cannot be reached (delivery keeps failing, or no address) -> the next contact's
  chat, then email (lead's, then deputy's), then the log as the last resort, so a message is
  never left with nowhere to go. Each hand-over is a new outbox message, recorded.

Every message a timer makes has a deterministic idempotency key ("<id>:remind"), so several
workers evaluating the same timer insert it once.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from .model import (ANSWER_TO_ASKER, NOTIFY_DEPUTY, NOTIFY_LEAD, OPEN, REMIND, URGENT_NOTICE, Escalation,
                    OutboxMessage)

CHAT_CHANNELS = ("slack", "teams")  # channels a contact has a personal id on (Contact fields)
ROLES = ("lead", "deputy")


@dataclass(frozen=True)
class Target:
    role: str      # "lead", "deputy", "log" or "asker"
    channel: str
    address: str
    name: str


LOG_TARGET = Target("log", "log", "", "the log")


def targets(esc: Escalation, first_role: str, channels: Iterable[str]) -> list[Target]:
    """The fallback chain for a message first meant for `first_role`: each contact's chat ids
    (the asker's platform first), then their email, then the log."""
    available = set(channels)
    order = [first_role] + [r for r in ROLES if r != first_role]
    chats = sorted((c for c in CHAT_CHANNELS if c in available), key=lambda c: c != esc.asker.platform)
    chain = []
    for group in (chats, ["email"] if "email" in available else []):
        for role in order:
            contact = esc.contact(role)
            for channel in group:
                address = contact.address(channel)
                if address:
                    chain.append(Target(role, channel, address, contact.display))
    chain.append(LOG_TARGET)
    return chain


def message_for(esc: Escalation, kind: str, target: Target, key: str, now: float, *,
                cancel_on_ack: bool = False, origin_role: str | None = None, note: str = "",
                new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:16]) -> OutboxMessage:
    payload = {"origin_role": origin_role or target.role}
    if note:
        payload["note"] = note
    return OutboxMessage(id=new_id(), escalation_id=esc.id, kind=kind, recipient_role=target.role,
                         recipient_name=target.name, channel=target.channel, address=target.address,
                         idempotency_key=key, payload=payload, cancel_on_ack=cancel_on_ack,
                         next_attempt_at=now, created_at=now)


def _first(esc: Escalation, role: str, channels: Iterable[str]) -> tuple[Target, str]:
    """The role's own best address (chat, then email); if it has none, the next in its chain."""
    chain = targets(esc, role, channels)
    own = next((t for t in chain if t.role == role), None)
    if own:
        return own, ""
    return chain[0], f"{role} has no reachable address; sent to {chain[0].name}"


def _urgent_round(esc: Escalation, n: int, channels: Iterable[str], now: float) -> list[OutboxMessage]:
    """One round of urgent notices to lead and deputy (one message if both resolve to the same place)."""
    out, seen = [], set()
    for role in ROLES:
        target, note = _first(esc, role, channels)
        if (target.channel, target.address) in seen:
            continue
        seen.add((target.channel, target.address))
        out.append(message_for(esc, URGENT_NOTICE, target, f"{esc.id}:urgent:{n}:{role}", now,
                               cancel_on_ack=n > 0, origin_role=role, note=note))
    return out


def initial_messages(esc: Escalation, channels: Iterable[str], now: float) -> list[OutboxMessage]:
    """What is sent the moment an escalation is made."""
    channels = list(channels)
    if esc.urgent:
        return _urgent_round(esc, 0, channels, now)
    target, note = _first(esc, "lead", channels)
    return [message_for(esc, NOTIFY_LEAD, target, f"{esc.id}:notify_lead", now, origin_role="lead", note=note)]


def due_messages(esc: Escalation, now: float, settings, channels: Iterable[str]) -> list[OutboxMessage]:
    """Timer messages due at `now` for a still-open escalation (the store ignores ones already made)."""
    if esc.status != OPEN:
        return []
    channels = list(channels)
    age = now - esc.created_at
    if esc.urgent:
        n = int(age // (settings.urgent_renotify_minutes * 60))
        return _urgent_round(esc, n, channels, now) if n >= 1 else []
    out = []
    if age >= settings.reminder_minutes * 60:
        target, note = _first(esc, "lead", channels)
        out.append(message_for(esc, REMIND, target, f"{esc.id}:remind", now, cancel_on_ack=True,
                               origin_role="lead", note=note))
    if age >= (settings.reminder_minutes + settings.deputy_after_minutes) * 60:
        target, note = _first(esc, "deputy", channels)
        out.append(message_for(esc, NOTIFY_DEPUTY, target, f"{esc.id}:notify_deputy", now, cancel_on_ack=True,
                               origin_role="deputy", note=note))
    return out


def next_target(esc: Escalation, message: OutboxMessage, channels: Iterable[str]) -> Target | None:
    """Where a message goes after its current contact/channel has been given up on; None when
    there is nowhere further (the log is the end of every chain; the asker has no fallback)."""
    if message.kind == ANSWER_TO_ASKER or message.channel == "log":
        return None
    chain = targets(esc, message.payload.get("origin_role", message.recipient_role), channels)
    here = (message.recipient_role, message.channel, message.address)
    for i, t in enumerate(chain):
        if (t.role, t.channel, t.address) == here:
            return chain[i + 1] if i + 1 < len(chain) else None
    return chain[-1]  # its channel is no longer served here: straight to the last resort


def reroute_message(esc: Escalation, message: OutboxMessage, target: Target, now: float, why: str) -> OutboxMessage:
    """The replacement for a given-up message: same kind, next contact, its own key."""
    return message_for(esc, message.kind, target, f"{message.idempotency_key}>{target.role}:{target.channel}", now,
                       cancel_on_ack=message.cancel_on_ack,
                       origin_role=message.payload.get("origin_role", message.recipient_role),
                       note=f"fallback from {message.recipient_role} via {message.channel}: {why}")


def backoff_seconds(attempts: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base * 2^(attempts-1)),
    so many messages failing together (SMTP down) do not retry in lock-step."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay / 2 + rng() * delay / 2
