"""The web chat's questions in the shared inbox: a retried POST /api/ask is answered once.

Why: the page gives each question a request id (`"request"`: 32 hex digits, 128 random bits) and
sends it again if the first attempt got no response (a dropped connection, a worker restarted
behind the port). Without a shared record the retry, reaching this process or another, would be
answered again: a second escalation and a second notice to the lead, a second feedback count, a
second turn in the history. With it, the retry gets the reply the first attempt produced; if
that attempt is still being answered it waits for it, and if its process died (its claim's lease
ran out) the retry takes it over and answers it itself.

The inbox keeps the SHA-256 of the request id (the id itself is the asker's only key to the
stored reply), the school and a hash of the question (a reused id with another question is
refused, 409), and the reply once given; the retention purge blanks the reply with the rest.
Without a store (or with it unreachable) questions are answered as before, without dedupe.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass

from aiohttp import web

from bot.escalations.inbox import ANSWERED, Inbox, InboxItem

from .appkeys import SETTINGS
from .store_wiring import STORE
from .web_security import json_error

log = logging.getLogger("policybot.web")

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
WAIT_POLL_SECONDS = 0.1
BAD_REQUEST_ID = "That request id is not one this page makes (16 or more letters, digits, '-' or '_')."
REUSED = "That request id was already used for another question; please ask again."


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class WebRequest:
    """A question being answered under a request id: the names its escalation, feedback record and
    conversation turn take from it, so a retry that answers again still writes each of them once."""

    inbox: Inbox
    item: InboxItem
    key: str

    @property
    def dedupe_key(self) -> str:
        return f"web:{self.key[:32]}"

    @property
    def feedback_ref(self) -> str:
        return f"web:{self.key[:16]}"

    @property
    def turn_id(self) -> str:
        return f"t{self.key[:16]}"

    async def done(self, reply: dict) -> None:
        """The reply is sent: kept for a retry of the same request (never raises)."""
        try:
            await self.inbox.mark_answered(self.item, reply=reply)
        except Exception as exc:  # noqa: BLE001 - the asker has the reply; only a retry would miss it
            log.error("web reply not kept for retries: inbox=%s error=%s", self.item.id, type(exc).__name__)


def _inbox(request: web.Request) -> Inbox | None:
    holder = request.app.get(STORE)
    if holder is None or holder.store is None:
        return None
    s = request.app[SETTINGS]
    return Inbox(holder.get, "web", lease_seconds=s.delivery_lease_seconds, retry_base_seconds=s.retry_base_seconds,
                 retry_max_seconds=s.retry_max_seconds)


async def begin(request: web.Request, payload: dict, school: str, question: str) -> WebRequest | web.Response | None:
    """Before answering: None (no request id, or no store: answer as usual), a WebRequest (this
    process answers it), or the response to send instead (the reply already given, a 400 / 409,
    or a 503 when another process is still answering it after the wait)."""
    rid = payload.get("request")
    if rid is None:
        return None
    if not isinstance(rid, str) or not REQUEST_ID.match(rid):
        return json_error(400, BAD_REQUEST_ID)
    inbox = _inbox(request)
    if inbox is None:
        return None
    key, data = _sha(rid), {"school": school, "question": _sha(question)}
    try:
        item, new = await inbox.record("ask", key, "", data)
        if new:
            return WebRequest(inbox, item, key)
        return await _again(request, inbox, key, data)
    except Exception as exc:  # noqa: BLE001 - the store failed: answer without dedupe rather than not at all
        log.error("web request not recorded, answering without dedupe: error=%s", type(exc).__name__)
        return None


async def _again(request: web.Request, inbox: Inbox, key: str, data: dict) -> WebRequest | web.Response:
    """The same request id again: its reply, once there is one (waiting up to the shutdown grace
    for the process answering it); taken over if that process died."""
    polls = max(1, int(request.app[SETTINGS].shutdown_grace_seconds / WAIT_POLL_SECONDS))
    for _ in range(polls):
        item = await inbox.find(key)
        if item is None or item.data != data:
            return json_error(409, REUSED)
        if item.status == ANSWERED:
            if item.reply is None:  # purged: older than the retention period
                return json_error(409, REUSED)
            log.info("web request answered before, reply given again: inbox=%s", item.id)
            return web.json_response(item.reply, headers={"X-Policybot-Replayed": "1"})
        taken = await inbox.take_over(item)
        if taken is not None:
            log.info("web request taken over from a process that stopped: inbox=%s", item.id)
            return WebRequest(inbox, taken, key)
        await asyncio.sleep(WAIT_POLL_SECONDS)
    return json_error(503, "That question is still being answered; please try again in a moment.",
                      {"Retry-After": "2"})
