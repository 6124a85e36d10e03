"""Plain values passed between the Bot Framework module and the rest of the Teams adapter.

Why: botbuilder-python is archived upstream (its successor is the Microsoft 365 Agents SDK).
Only `framework.py` touches Bot Framework types; everything else sees these dataclasses and
a conversation reference kept as a plain JSON dict, so moving SDK is a one-module change.
"""
from __future__ import annotations

from dataclasses import dataclass, field

QUESTION, SUBMIT, INSTALL, OTHER = "question", "submit", "install", "other"
PERSONAL = "personal"


@dataclass(frozen=True)
class Incoming:
    """One activity from Teams, reduced to what the bot needs.

    kind: QUESTION (a message with text), SUBMIT (a card's Action.Submit values), INSTALL (the
    bot was added: a personal chat or a team), OTHER (nothing to answer).
    """

    kind: str
    conversation_id: str
    activity_id: str
    conversation_type: str          # "personal", "channel" or "groupChat"
    tenant: str
    team: str
    channel: str
    user_id: str                    # the Teams user id ("29:...")
    aad_id: str                     # the Entra object id, which school contact files hold
    user_name: str
    text: str = ""                  # mention of the bot stripped, markup removed
    value: dict = field(default_factory=dict)
    reference: dict = field(default_factory=dict)   # the conversation reference, serialised
    invoke: bool = False            # an invoke activity: Teams waits for an invoke response body

    @property
    def personal(self) -> bool:
        return self.conversation_type == PERSONAL


@dataclass(frozen=True)
class Outgoing:
    """What the bot sends: text (always, the fallback for clients without cards), an optional
    Adaptive Card, or a typing indicator."""

    text: str = ""
    card: dict | None = None
    typing: bool = False


class Unauthorized(Exception):
    """The request's token is missing, forged, expired, signed with an unknown key, or for
    another bot: answered 401 and the bot code never runs."""


class BadActivity(ValueError):
    """The body is not an activity (answered 400)."""


class SendError(Exception):
    """A Bot Connector call failed. `status` is the HTTP status (None: no response)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
