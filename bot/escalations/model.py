"""The escalation record, its outbox messages, and the legal status transitions.

Times are float epoch seconds (UTC) throughout: both backends store them the same way and
tests drive them with an injected clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..knowledge.load import Contact

# Reasons an escalation exists (the Answer's reasons plus the asker's own button).
LOW_CONFIDENCE, POLICY_SILENT, OUT_OF_SCOPE = "low_confidence", "policy_silent", "out_of_scope"
ASKED_BY_USER, URGENT = "asked_by_user", "urgent"
REASONS = (LOW_CONFIDENCE, POLICY_SILENT, OUT_OF_SCOPE, ASKED_BY_USER, URGENT)

OPEN, ACKNOWLEDGED, ANSWERED, CLOSED = "open", "acknowledged", "answered", "closed"
STATUSES = (OPEN, ACKNOWLEDGED, ANSWERED, CLOSED)
# Answering implies acknowledging, and a lead may close without answering (dealt with in person).
TRANSITIONS: dict[str, frozenset[str]] = {
    OPEN: frozenset({ACKNOWLEDGED, ANSWERED, CLOSED}),
    ACKNOWLEDGED: frozenset({ANSWERED, CLOSED}),
    ANSWERED: frozenset({CLOSED}),
    CLOSED: frozenset(),
}

# Outbox message kinds and statuses.
NOTIFY_LEAD, REMIND, NOTIFY_DEPUTY, URGENT_NOTICE, ANSWER_TO_ASKER = (
    "notify_lead", "remind", "notify_deputy", "urgent", "answer_to_asker")
KINDS = (NOTIFY_LEAD, REMIND, NOTIFY_DEPUTY, URGENT_NOTICE, ANSWER_TO_ASKER)
# pending -> sending -> sent; or -> rerouted (gave up on this contact, a new message took over),
# cancelled (a reminder made moot by an acknowledgement), failed (permanent, nobody left to try).
PENDING, SENDING, SENT, REROUTED, CANCELLED, FAILED = (
    "pending", "sending", "sent", "rerouted", "cancelled", "failed")


class IllegalTransition(ValueError):
    """A status change the workflow does not allow (e.g. answering a closed escalation)."""

    def __init__(self, escalation_id: str, current: str, wanted: str):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (it is closed)"
        super().__init__(f"escalation {escalation_id} is {current}; it cannot become {wanted} "
                         f"(from {current} it can become: {allowed})")
        self.current, self.wanted = current, wanted


class NotFound(LookupError):
    """No escalation with that id."""

    def __init__(self, escalation_id: str):
        super().__init__(f"no escalation with id {escalation_id!r}")


def check_transition(escalation_id: str, current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(escalation_id, current, wanted)


def iso(ts: float | None) -> str:
    """A stored time for people: '2026-11-25 10:40:00Z', or '-' when unset."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass(frozen=True)
class Asker:
    """Who asked, and where the answer must go back to (the platform's own references)."""

    platform: str            # "slack", "teams", "web", "cli", ...: also the channel of the answer back
    user_id: str
    conversation: str = ""   # channel / conversation id
    thread: str = ""         # thread / reply-to reference inside the conversation
    display_name: str = ""


# The escalation keeps the school's Contact as it was when the question came in (a frozen
# value stored with the record), so routing and attribution do not change under it if the
# knowledge base is edited later.
ContactRef = Contact


@dataclass(frozen=True)
class Candidate:
    """A clause the bot found closest: enough for the lead to look it up, not the clause text."""

    clause_id: str
    ref: str  # "Policy title, section"

    def as_dict(self) -> dict[str, str]:
        return {"clause_id": self.clause_id, "ref": self.ref}


@dataclass(frozen=True)
class Escalation:
    id: str
    school: str
    school_name: str
    asker: Asker
    question: str
    candidates: tuple[Candidate, ...]
    reason: str
    urgent: bool
    lead: ContactRef
    deputy: ContactRef
    status: str = OPEN
    concern: str = ""
    holder: str = ""            # who has taken it on (set on acknowledge/answer)
    answer_text: str = ""
    answered_by: str = ""
    dedupe_key: str | None = None
    created_at: float = 0.0
    acknowledged_at: float | None = None
    answered_at: float | None = None
    closed_at: float | None = None
    purged_at: float | None = None

    def contact(self, role: str) -> ContactRef:
        return self.lead if role == "lead" else self.deputy


@dataclass(frozen=True)
class OutboxMessage:
    """One notification to deliver, written in the same transaction as the change that caused it.

    `idempotency_key` is unique in the store and is handed to the notifier on every attempt,
    so a retried or re-claimed message is recognisably the same message (email: its Message-ID).
    """

    id: str
    escalation_id: str
    kind: str
    recipient_role: str      # "lead", "deputy", "asker", or "log" for the last resort
    channel: str             # notifier name: "email", "log", "slack", "teams", "web", ...
    address: str             # the recipient's address on that channel
    idempotency_key: str
    recipient_name: str = ""
    payload: dict = field(default_factory=dict)
    cancel_on_ack: bool = False  # a reminder: pointless once someone has acknowledged
    status: str = PENDING
    attempts: int = 0
    next_attempt_at: float = 0.0
    lease_until: float | None = None
    claim_token: str = ""
    last_error: str = ""
    created_at: float = 0.0
    sent_at: float | None = None
    rerouted_to: str = ""
