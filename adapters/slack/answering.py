"""Answers one stored question: school from the mapping, decision from the core, reply to Slack.

Why separate from the Bolt listeners: the same path serves a fresh event (after the ack) and a
question taken from the shared inbox by a sweep (its process died, or Slack was down), and it
marks the question answered only once Slack has the reply, so a crash in between means answering
again, never losing it. It answers only while its process holds the question's claim, so two
processes sharing the database never both answer it.

No double reply after a crash: a thread or DM reply is posted with message metadata naming its
inbox id, and the question is marked "sending" first. A replayed "sending" question is looked up
in its thread / DM (conversations.replies / .history with include_all_metadata) and posted only
if no reply carries its id. If the lookup itself fails the reply is posted (a duplicate is better
than no answer). Ephemeral /policy answers are not in any history, so they cannot be looked up:
a crash in that window re-sends the ephemeral answer.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.rate_limit import rate_limited_text
from adapters.runtime import BotRuntime, NotReady
from bot.decide.answer import URGENT, Answer, QuestionError, sent_unasked
from bot.escalations.cancellation import release_on_cancel
from bot.escalations.inbox import sweep_forever
from bot.escalations.delivery import Delivery, not_recorded
from bot.escalations.model import Asker

from . import blocks as bk
from .inbox import SENDING, Inbox, InboxItem
from .mapping import SchoolMap

log = logging.getLogger("policybot.slack")

NOT_SET_UP = ("policybot isn't set up for this workspace or channel yet, so I can't answer here. "
              "Ask whoever runs policybot to add it to SLACK_TEAM_SCHOOLS.")
# The message metadata type on every reply, and how far a replay looks for one (pages of 200).
REPLY_EVENT = "policybot_answer"
LOOKUP_PAGES = 5


def slack_response_url(url: str, also: tuple[str, ...] = ()) -> bool:
    """An https URL on hooks.slack.com (or, for tests, a base named in `also`): the only places a
    command's answer is sent, so a forged response_url cannot make the bot post elsewhere."""
    parts = urlsplit(url)
    return ((parts.scheme == "https" and parts.hostname == "hooks.slack.com")
            or any(url.startswith(base) for base in also if base))


def reply_metadata(item_id: int) -> dict:
    return {"event_type": REPLY_EVENT, "event_payload": {"inbox_id": item_id}}


def carries(message: dict, item_id: int) -> bool:
    meta = message.get("metadata") or {}
    return meta.get("event_type") == REPLY_EVENT and (meta.get("event_payload") or {}).get("inbox_id") == item_id


@dataclass
class SlackAnswerer:
    runtime: BotRuntime
    inbox: Inbox
    client: AsyncWebClient
    schools: SchoolMap
    log_questions: bool = False
    # The escalation service once the lead wires it (see channel.SLACK_ADAPTER); None: not wired.
    escalations: Any = None
    delivery_wait: float = 3.0  # POLICYBOT_DELIVERY_WAIT_SECONDS
    # Which response_url a /policy answer may be posted to (Slack's own hooks host by default).
    response_url_ok: Callable[[str], bool] = field(default=lambda url: slack_response_url(url))
    # The server's shared rate limit: key -> seconds to wait (0: go ahead); None: no limit.
    limit: Callable[[str], float] | None = None
    _inflight: set[int] = field(default_factory=set)
    _bot_user: str | None = None

    async def bot_user_id(self, body: dict) -> str | None:
        """The bot's own user id (to strip its @mention) on the ack path: the bot user the event
        names in `authorizations` (no Web API call before the ack), else auth.test once, as Bolt does."""
        for auth in body.get("authorizations") or []:
            if auth.get("is_bot") and auth.get("user_id"):
                return auth["user_id"]
        if self._bot_user is None:
            try:
                self._bot_user = (await self.client.auth_test()).get("user_id")
            except Exception as exc:  # noqa: BLE001
                log.warning("slack auth.test failed: %s", type(exc).__name__)
        return self._bot_user

    def school_of(self, item: InboxItem) -> str | None:
        return self.schools.school_for(item.team, item.channel)

    async def wait_ready(self) -> bool:
        """Waits (bounded) for the bot to finish loading at start; False if it failed or never did."""
        return await self.runtime.wait_loaded()

    async def answer_for(self, item: InboxItem) -> Answer | None:
        school = self.school_of(item)
        if school is None:
            return None
        await self.wait_ready()
        return await self.runtime.answer(school, item.question)

    async def handle_new(self, item: InboxItem) -> bool:
        """A question just asked (not a replay): within the asker's rate limit it is answered;
        over it the asker is told to wait and ask again, and it is neither answered nor passed on."""
        wait = self.limit(f"slack:{item.team}:{item.user}") if self.limit is not None else 0.0
        if not wait:
            return await self.handle(item)
        log.warning("slack question over the rate limit: inbox=%s team=%s user=%s", item.id, item.team, item.user)
        text = rate_limited_text(wait)
        ok = await self.reply(item, bk.escape(text), bk.notice_blocks(text))
        if ok:
            await self.inbox.mark_answered(item)
        return ok

    async def handle(self, item: InboxItem) -> bool:
        """Answer and mark answered, while this process holds the question; False when another
        process has it, or when Slack or the bot failed (then any process tries again after a
        backoff). An answer cut short by shutdown is let go, for another process or the restart."""
        if item.id in self._inflight:
            return False
        self._inflight.add(item.id)
        try:
            async with self.inbox.holding(item) as mine:
                if not mine:
                    log.info("slack question handled by another process: inbox=%s", item.id)
                    return False
                try:
                    ok = await self._handle(item)
                except asyncio.CancelledError:
                    await release_on_cancel(self.inbox.release(item), "slack", item.id)
                    raise
                if not ok:
                    wait = await self.inbox.retry_later(item)
                    log.warning("slack question not answered, tried again in %.0f s: inbox=%s", wait, item.id)
                return ok
        finally:
            self._inflight.discard(item.id)

    async def _handle(self, item: InboxItem) -> bool:
        try:
            answer = await self.answer_for(item)
        except QuestionError as exc:
            log.info("slack question refused: inbox=%s team=%s channel=%s", item.id, item.team, item.channel)
            ok = await self.reply(item, str(exc), bk.notice_blocks(str(exc)))
            if ok:
                await self.inbox.mark_answered(item)
            return ok
        except NotReady:
            log.error("slack question not answered (bot not ready): inbox=%s", item.id)
            return False
        if answer is None:
            log.info("slack question from unmapped place: inbox=%s team=%s channel=%s",
                     item.id, item.team, item.channel)
            ok = await self.reply(item, NOT_SET_UP, bk.notice_blocks(NOT_SET_UP))
        else:
            delivery = await self.escalate(item, answer) if sent_unasked(answer) else None
            extra = ([bk.button("Post to channel", bk.POST_TO_CHANNEL, str(item.id))]
                     if item.kind == "command" and answer.decision != URGENT else None)
            # Counted before the reply goes out, so its Helpful button (pressed as soon as it shows,
            # at whichever process) finds the answer; a retried reply is counted once (answer_ref).
            await self.record_answer(item, answer)
            ok = await self.reply(item, bk.escape(bk.fallback_text(answer, delivery)),
                                  bk.answer_blocks(answer, ref=str(item.id), extra_actions=extra, delivery=delivery))
            log.info("slack answer: inbox=%s kind=%s team=%s channel=%s school=%s decision=%s reason=%s "
                     "clauses=%s%s", item.id, item.kind, item.team, item.channel, answer.school, answer.decision,
                     answer.reason, ",".join(c.clause_id for c in answer.citations),
                     f" question={item.question!r}" if self.log_questions else "")
        if ok:
            await self.inbox.mark_answered(item)
        return ok

    @staticmethod
    def answer_ref(item_id: int) -> str:
        """The answer's name in the shared feedback record."""
        return f"slack:{item_id}"

    async def record_answer(self, item: InboxItem, answer: Answer) -> None:
        """Counts the answer in the shared feedback record (once, however often it is replayed)."""
        if self.escalations is not None:
            await self.escalations.record_answer(answer, self.answer_ref(item.id), "slack", item.user, item.question)

    async def record_feedback(self, item: InboxItem, user: str, helpful: bool, pressed_at: float | None = None) -> bool:
        """Helpful / Not helpful: into the shared feedback record (one vote per person per answer,
        a second press changes it). Without the escalation store (not wired, or the answer was
        given before feedback was kept there) the vote is kept with the question in the inbox."""
        if self.escalations is not None and await self.escalations.record_feedback(
                self.answer_ref(item.id), "slack", user, helpful, pressed_at):
            return True
        await self.inbox.add_feedback(item, user, helpful, pressed_at)
        return False

    def asker(self, item: InboxItem) -> Asker:
        return Asker("slack", item.user, item.channel, "" if item.kind == "dm" else item.thread_ts)

    async def escalate(self, item: InboxItem, answer: Answer, reason: str | None = None) -> Delivery:
        """Creates the escalation (dedupe key per Slack message, so a replay never escalates twice)
        and says what happened to its notices, for the reply to state truthfully."""
        if self.escalations is None:
            log.warning("slack: escalation service not wired; inbox=%s not escalated", item.id)
            return not_recorded("escalations are not available on this server")
        _, delivery = await self.escalations.escalate_and_report(
            answer, item.question, self.asker(item), reason=reason,
            dedupe_key=f"slack:{item.team}:{item.channel}:{item.ts}" + (":asked" if reason else ""),
            wait=self.delivery_wait)
        return delivery

    async def already_replied(self, item: InboxItem) -> bool:
        """Whether a reply carrying this question's inbox id is in its thread (mention) or DM.
        A failed lookup counts as "no" (logged): the question is then answered again."""
        try:
            cursor = None
            for _ in range(LOOKUP_PAGES):
                args = dict(channel=item.channel, oldest=item.ts, inclusive=True, include_all_metadata=True,
                            limit=200, cursor=cursor)
                if item.kind == "mention":
                    page = await self.client.conversations_replies(ts=item.thread_ts, **args)
                else:
                    page = await self.client.conversations_history(**args)
                if any(carries(m, item.id) for m in page.get("messages") or []):
                    return True
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not (page.get("has_more") and cursor):
                    return False
        except SlackApiError as exc:
            log.warning("slack reply lookup failed, answering again: inbox=%s error=%s", item.id,
                        exc.response.get("error"))
        except Exception as exc:  # noqa: BLE001
            log.warning("slack reply lookup failed, answering again: inbox=%s error=%s", item.id, type(exc).__name__)
        return False

    async def reply(self, item: InboxItem, text: str, blocks: list[dict]) -> bool:
        """Threaded in channels, plain in DMs, ephemeral for /policy. Errors left after the client's
        own retries are logged (ids only) and leave the question to be answered on the next start."""
        try:
            if item.kind == "command":
                if await self.respond(item, text, blocks):
                    return True
                await self.client.chat_postEphemeral(channel=item.channel, user=item.user, text=text,
                                                      blocks=blocks)
                return True
            if item.status == SENDING and await self.already_replied(item):
                log.info("slack reply already posted before a restart: inbox=%s", item.id)
                return True
            await self.inbox.mark_sending(item)
            await self.client.chat_postMessage(
                channel=item.channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False,
                thread_ts=item.thread_ts if item.kind == "mention" else None, metadata=reply_metadata(item.id))
            return True
        except SlackApiError as exc:
            log.error("slack reply failed: inbox=%s error=%s", item.id, exc.response.get("error"))
        except Exception as exc:  # noqa: BLE001 - connection errors after retries: keep it pending
            log.error("slack reply failed: inbox=%s error=%s", item.id, type(exc).__name__)
        return False

    async def respond(self, item: InboxItem, text: str, blocks: list[dict]) -> bool:
        """/policy's answer through the command's response_url (works in private channels and DMs
        the bot is not a member of, where chat.postEphemeral fails). False when there is none, it
        is not Slack's, or it has expired (30 minutes, 5 uses): the caller then tries chat.postEphemeral."""
        if not (item.response_url and self.response_url_ok(item.response_url)):
            return False
        response = await AsyncWebhookClient(item.response_url, timeout=10).send(
            text=text, blocks=blocks, response_type="ephemeral", unfurl_links=False, unfurl_media=False)
        if response.status_code == 200:
            return True
        log.warning("slack response_url refused the answer: inbox=%s status=%s", item.id, response.status_code)
        return False

    async def replay(self) -> int:
        """Answers, one at a time, what is stored and unanswered and held by nobody (a process
        that stored it died, or its retry wait is over); returns how many were answered."""
        done = 0
        while (item := await self.inbox.claim_one()) is not None:
            log.info("slack replay: inbox=%s kind=%s", item.id, item.kind)
            done += await self.handle(item)
        return done

    async def sweep(self, every: float) -> None:
        """Replays at start and then every `every` seconds, until cancelled."""
        await sweep_forever(self.replay, every, "slack")
