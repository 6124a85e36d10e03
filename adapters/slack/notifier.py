"""The Slack Notifier for the escalation outbox: the lead's DM, and the lead's answer in the asker's thread.

Why here: the escalation worker is channel-neutral; this turns an outbox message into Slack
calls and Slack's errors into Retryable/Permanent for the worker's fallback. Wire it with
`register_slack_notifier(registry, client)`; the lead's buttons are handled in app.py.
"""
from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.escalations.model import ANSWER_TO_ASKER, Escalation, OutboxMessage
from bot.escalations.notify import NotifierRegistry, PermanentError, RetryableError

from . import blocks as bk

log = logging.getLogger("policybot.slack")

ESC_ACK, ESC_ANSWER, ESC_ANSWER_VIEW = "escalation_ack", "escalation_answer", "escalation_answer_modal"
# Slack errors that will never succeed for this recipient or message: fall back to the next contact
# now. Everything else (ratelimited or 5xx after the client's own retries, unknown codes) is retried.
PERMANENT = {"user_not_found", "users_not_found", "channel_not_found", "not_in_channel", "is_archived",
             "invalid_auth", "not_authed", "token_revoked", "account_inactive", "cannot_dm_bot",
             "user_disabled", "missing_scope", "team_access_not_granted", "restricted_action",
             "invalid_blocks", "msg_too_long"}


def lead_blocks(esc: Escalation, kind: str) -> list[dict]:
    out: list[dict] = []
    if esc.urgent:
        out.append(bk.section(f":rotating_light: *URGENT: live safeguarding concern ({bk.escape(esc.concern or 'unspecified')})*. "
                              "The asker has been told to speak to the designated safeguarding lead in person now."))
    title = {"remind": "Reminder: a question is waiting for you",
             "notify_deputy": "A question the lead has not picked up"}.get(kind, "A staff question needs your answer")
    asker = f"<@{esc.asker.user_id}>" if esc.asker.platform == "slack" and esc.asker.user_id else \
        bk.escape(esc.asker.display_name or "a member of staff")
    out.append(bk.section(f"*{title}* ({bk.escape(esc.school_name)}, escalation `{esc.id}`)\n"
                          f"Asked by {asker}. Why: {esc.reason.replace('_', ' ')}."))
    question = esc.question or "(text removed under the retention policy)"
    out.append(bk.section("\n".join("> " + line for line in bk.escape(question).splitlines() or [""])))
    found = "\n".join(f"• {bk.escape(c.clause_id)}: {bk.escape(c.ref)}" for c in esc.candidates) or "(none)"
    out.append(bk.context(f"Closest clauses the bot found (they may not answer it):\n{found}"))
    out.append({"type": "actions", "elements": [bk.button("Acknowledge", ESC_ACK, esc.id),
                                                  bk.button("Answer", ESC_ANSWER, esc.id, "primary")]})
    return out


class SlackNotifier:
    def __init__(self, client: AsyncWebClient):
        self.client = client
        self._sent: set[str] = set()

    async def send(self, message: OutboxMessage, escalation: Escalation) -> None:
        if message.idempotency_key in self._sent:
            return
        try:
            if message.kind == ANSWER_TO_ASKER:
                await self._answer_to_asker(message, escalation)
            else:
                await self._to_contact(message, escalation)
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            kind = PermanentError if error in PERMANENT else RetryableError
            raise kind(f"slack {error or exc.response.status_code}") from None
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            # connection refused/reset or dropped mid-response, after the client's own retries
            raise RetryableError(f"slack unavailable: {type(exc).__name__}") from None
        self._sent.add(message.idempotency_key)
        log.info("slack notice sent: escalation=%s message=%s kind=%s", escalation.id, message.id, message.kind)

    async def _to_contact(self, message: OutboxMessage, esc: Escalation) -> None:
        if not message.address:
            raise PermanentError(f"no slack user id for {message.recipient_role}")
        dm = await self.client.conversations_open(users=message.address)
        fallback = f"{'URGENT: ' if esc.urgent else ''}A question from {esc.school_name} needs your answer ({esc.id})"
        await self.client.chat_postMessage(channel=dm["channel"]["id"], text=bk.escape(fallback),
                                           blocks=lead_blocks(esc, message.kind), unfurl_links=False,
                                           unfurl_media=False)

    async def _answer_to_asker(self, message: OutboxMessage, esc: Escalation) -> None:
        p = message.payload
        channel = p.get("conversation") or esc.asker.conversation
        if not channel:
            raise PermanentError("no slack conversation to answer in")
        text = bk.escape(p.get("text", ""))
        await self.client.chat_postMessage(channel=channel, thread_ts=p.get("thread") or None, text=bk.cut(text, 3000),
                                           blocks=[bk.section(text)], unfurl_links=False, unfurl_media=False)


def register_slack_notifier(registry: NotifierRegistry, client: AsyncWebClient) -> SlackNotifier:
    """For the lead's wiring: deliver "slack" outbox messages (lead DMs, answers back to askers)."""
    notifier = SlackNotifier(client)
    registry.register("slack", notifier)
    return notifier
