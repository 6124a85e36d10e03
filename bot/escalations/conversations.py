"""The web chat's conversations: what a browser asked, the reply it was shown, and (through
the escalation it caused) any lead answer that came later, so a reload or a closed tab loses
nothing, least of all the lead's answer.

Why keyed by a hash: the conversation id lives in the browser's localStorage and is the only
key to its history (unguessable: 128 random bits or more). The store keeps only its SHA-256,
so the database, its backups and `escalations show` never hold a key that would open anyone's
history. Turns are deleted by the retention purge POLICYBOT_RETENTION_DAYS after they were
written, with the rest of the stored question text.
"""
from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

# 32-128 characters of [A-Za-z0-9_-]: the page sends 32 hex digits (128 random bits).
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
TURN_ID = re.compile(r"^t[0-9a-f]{16}$")
MAX_TURNS = 200  # the history served: the newest this many turns


def valid_conversation_id(value: object) -> bool:
    return isinstance(value, str) and bool(CONVERSATION_ID.match(value))


def conversation_key(conversation_id: str) -> str:
    """What the store keeps instead of the id itself."""
    return hashlib.sha256(conversation_id.encode("ascii")).hexdigest()


def new_turn_id() -> str:
    return "t" + uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class Turn:
    """One question in a conversation and the reply the asker was shown (the /api/ask JSON)."""

    id: str
    conversation_key: str
    school: str
    question: str
    reply: dict
    escalation_id: str | None = None
    created_at: float = 0.0
