"""The Bolt AsyncApp and its listeners: thin glue between Slack's payloads and SlackAnswerer.

Order matters for durability: each question is stored in the inbox before the event is
acknowledged (a duplicate is acknowledged and dropped right there), and the listener answers
from the stored record after the ack. Over HTTP the route in channel.py stores and acks event
callbacks itself, then hands them to Bolt (STORED in the context); over Socket Mode a global
middleware stores before Bolt's ack goes back on the socket. /policy stores, then acks.
Request signatures are verified by channel.py before Bolt sees the request (so a bad request
is logged by id, never with its body), hence request_verification_enabled=False here.
"""
from __future__ import annotations

import asyncio
import logging
import re

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.escalations.model import ASKED_BY_USER, IllegalTransition, NotFound
from bot.render import as_escalation, delivery_line

from . import blocks as bk
from . import home
from .answering import SlackAnswerer
from .events import callback_problem
from .inbox import Inbox, InboxItem
from .lead_modal import answer_modal, submitted
from .notifier import ESC_ACK, ESC_ANSWER, ESC_ANSWER_VIEW

log = logging.getLogger("policybot.slack")

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(\|[^>]*)?>")


def question_event(body: dict, bot_user_id: str | None) -> dict | None:
    """The inbox fields for an event that asks the bot something, else None (other chatter,
    edits, bots' own messages)."""
    if body.get("type") != "event_callback" or callback_problem(body):
        return None
    event = body.get("event") or {}
    if event.get("bot_id") or event.get("subtype") or not event.get("user") or not event.get("ts"):
        return None
    text = event.get("text") or ""
    if event.get("type") == "app_mention":
        kind = "mention"
    elif event.get("type") == "message" and event.get("channel_type") == "im":
        kind = "dm"
    elif event.get("type") == "message" and bot_user_id and f"<@{bot_user_id}" in text:
        kind = "mention"  # the same @mention seen as a channel message: deduped by (channel, ts)
    else:
        return None
    mine = bot_user_id or ""
    words = _MENTION.sub(lambda m: "" if (m.group(1) == mine or kind == "mention" and not mine) else m.group(0), text)
    return {"kind": kind, "team": body.get("team_id") or event.get("team") or "", "channel": event.get("channel", ""),
            "user": event["user"], "ts": event["ts"], "thread_ts": event.get("thread_ts") or event["ts"],
            "question": bk.unescape(words).strip(), "event_id": body.get("event_id")}


# Bolt context key: the question in this request was stored (and acknowledged) before dispatch.
STORED = "policybot_stored"


async def store_question(inbox: Inbox, body: dict, bot_user_id: str | None,
                         retry: object = None) -> tuple[InboxItem | None, bool]:
    """Stores the question an event carries, before anything acknowledges it. (item, True): new;
    (None, True): not a question (nothing to store, carry on); (None, False): a duplicate of a
    stored one (event id, or the same (team, channel, ts)), to be acknowledged and dropped."""
    fields = question_event(body, bot_user_id)
    if fields is None:
        return None, True
    item, new = await inbox.record(**fields)
    if not new:
        log.info("slack duplicate dropped: event=%s retry=%s", fields["event_id"], retry)
        return None, False
    log.info("slack question stored: inbox=%s event=%s kind=%s retry=%s", item.id, fields["event_id"],
             fields["kind"], retry)
    return item, True


class _ClientGiven(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and, given our client (with its
    retry handlers) as well, warns at every start that the token "will be unused". It is the same
    token; this drops exactly that line and nothing else."""

    TEXT = warning_client_prioritized_and_token_skipped()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.TEXT


def _pressed_at(body: dict) -> float | None:
    """When the person pressed the button: Slack's action_ts (bolt may handle two quick presses in
    either order, and the later press must win). None when the payload has none."""
    try:
        return float(body["actions"][0]["action_ts"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def build_bolt_app(answerer: SlackAnswerer, client: AsyncWebClient, signing_secret: str,
                   ack_budget: float = 2.0) -> AsyncApp:
    bolt_log = logging.getLogger("policybot.slack.bolt")
    if not any(isinstance(f, _ClientGiven) for f in bolt_log.filters):
        bolt_log.addFilter(_ClientGiven())
    app = AsyncApp(client=client, signing_secret=signing_secret, request_verification_enabled=False,
                   logger=bolt_log, process_before_response=False)
    inbox = answerer.inbox

    @app.middleware
    async def store_before_ack(body: dict, context, next):
        if context.get(STORED):  # the HTTP route stored it and acknowledged already (channel.py)
            return await next()
        item, new = await store_question(inbox, body, context.get("bot_user_id"), context.get("retry_num"))
        if not new:
            return BoltResponse(status=200, body="")
        context["inbox_item"] = item
        return await next()

    async def answer_stored(context) -> None:
        item: InboxItem | None = context.get("inbox_item")
        if item is not None:
            await answerer.handle_new(item)

    app.event("app_mention")(answer_stored)
    app.event("message")(answer_stored)

    @app.event("app_home_opened")
    async def home_opened(body: dict, event: dict) -> None:
        """Publishes the Home tab for this workspace's schools (the Messages tab needs nothing)."""
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        team = body.get("team_id") or event.get("team") or ""
        places = answerer.schools.places_in(team)
        if not places:
            view = home.not_set_up_view()
        elif await answerer.wait_ready():
            bot = answerer.runtime.bot
            view = home.home_view(bot.kb, places, bot.settings.current_date())
        else:
            view = home.not_loaded_view()
        await client.views_publish(user_id=event["user"], view=view)
        log.info("slack home published: team=%s user=%s schools=%s", team, event["user"],
                 ",".join(slug for slug, _ in places) or "-")

    @app.command("/policy")
    async def policy_command(ack, body: dict) -> None:
        record = asyncio.ensure_future(inbox.record(
            kind="command", team=body.get("team_id", ""), channel=body.get("channel_id", ""),
            user=body.get("user_id", ""), ts="cmd-" + body.get("trigger_id", ""), thread_ts="",
            question=(body.get("text") or "").strip(), response_url=body.get("response_url") or ""))
        # Slack's 3 s: ack within the budget even when the database is locked; the record (and so
        # the answer) completes when the lock is released. Commands are not redelivered.
        done, _ = await asyncio.wait({record}, timeout=ack_budget)
        await ack()
        if not done:
            log.warning("slack /policy acknowledged before it was stored (database busy); answering when stored")
        item, new = await record
        if new:
            await answerer.handle_new(item)

    async def stored_item(body: dict) -> InboxItem | None:
        try:
            return await inbox.get(int(body["actions"][0]["value"]))
        except (KeyError, IndexError, ValueError):
            return None

    async def tell(body: dict, text: str) -> None:
        await client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"],
                                        text=bk.escape(text))

    async def purged(body: dict, item: InboxItem) -> bool:
        """A button on an answer older than the retention period: its question text is gone."""
        if item.purged_at is None:
            return False
        await tell(body, "That question is older than the retention period and its text has been removed; "
                         "please ask it again.")
        return True

    async def feedback(ack, body: dict, helpful: bool) -> None:
        await ack()
        item = await stored_item(body)
        if item is None:
            return
        shared = await answerer.record_feedback(item, body["user"]["id"], helpful, _pressed_at(body))
        log.info("slack feedback: inbox=%s helpful=%s recorded=%s", item.id, helpful, "shared" if shared else "inbox")
        await tell(body, "Thanks, your feedback is recorded.")

    @app.action(bk.HELPFUL)
    async def helpful(ack, body: dict) -> None:
        await feedback(ack, body, True)

    @app.action(bk.NOT_HELPFUL)
    async def not_helpful(ack, body: dict) -> None:
        await feedback(ack, body, False)

    @app.action(bk.ASK_LEAD)
    async def ask_lead(ack, body: dict) -> None:
        await ack()
        item = await stored_item(body)
        if item is None or await purged(body, item):
            return
        answer = await answerer.answer_for(item)
        if answer is None:
            return
        delivery = await answerer.escalate(item, answer, reason=ASKED_BY_USER)
        log.info("slack asked lead: inbox=%s escalation=%s delivery=%s", item.id, delivery.escalation_id or "-",
                 delivery.state)
        await tell(body, delivery_line(as_escalation(answer), delivery))

    @app.action(bk.POST_TO_CHANNEL)
    async def post_to_channel(ack, body: dict) -> None:
        await ack()
        item = await stored_item(body)
        if item is None or item.user != body["user"]["id"] or await purged(body, item):
            return
        answer = await answerer.answer_for(item)
        if answer is None:
            return
        blocks = [bk.context(f"<@{item.user}> asked with /policy: {bk.escape(item.question)}")]
        blocks += bk.answer_blocks(answer, ref=str(item.id))
        await client.chat_postMessage(channel=item.channel, text=bk.escape(bk.fallback_text(answer)),
                                      blocks=blocks[: bk.MAX_BLOCKS], unfurl_links=False, unfurl_media=False)
        log.info("slack posted to channel: inbox=%s channel=%s", item.id, item.channel)

    register_lead_actions(app, answerer, client)
    return app


def register_lead_actions(app: AsyncApp, answerer: SlackAnswerer, client: AsyncWebClient) -> None:
    """The lead's Acknowledge / Answer buttons on the escalation DM, and the answer modal."""

    def who(body: dict) -> str:
        user = body.get("user") or {}
        return user.get("name") or user.get("username") or user.get("id", "")

    @app.action(ESC_ACK)
    async def acknowledge(ack, body: dict) -> None:
        await ack()
        if answerer.escalations is None:
            return
        esc_id = body["actions"][0]["value"]
        try:
            await answerer.escalations.acknowledge(esc_id, by=who(body))
            note = "Acknowledged: reminders stop. Use Answer to reply to the asker."
        except (IllegalTransition, NotFound) as exc:
            note = str(exc)
        await client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"], text=bk.escape(note))

    @app.action(ESC_ANSWER)
    async def open_answer(ack, body: dict) -> None:
        await ack()
        esc_id = body["actions"][0]["value"]
        esc = None
        if answerer.escalations is not None:
            try:  # the question and closest clauses, for the "keep for future questions" choices
                esc = await answerer.escalations.get(esc_id)
            except Exception as exc:  # noqa: BLE001 - the plain answer modal still opens
                log.warning("slack answer modal without keep choices: escalation=%s error=%s", esc_id,
                            type(exc).__name__)
        await client.views_open(trigger_id=body["trigger_id"], view=answer_modal(esc_id, esc))

    @app.view(ESC_ANSWER_VIEW)
    async def submit_answer(ack, body: dict, view: dict) -> None:
        text, keep, errors = submitted(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        if answerer.escalations is None:
            return
        user = (body.get("user") or {}).get("id", "")
        try:
            esc, outcome = await answerer.escalations.answer_and_keep(view["private_metadata"], by=who(body),
                                                                      text=text, keep=keep, user_id=user)
        except (IllegalTransition, NotFound, ValueError) as exc:
            await tell_lead(user, str(exc))
            return
        log.info("slack lead answered: escalation=%s kept=%s", esc.id, "error" if outcome.error else
                 ("yes" if outcome.message else "no"))
        if outcome.message:  # saved as guidance (and where), or why it was not: the lead must know
            await tell_lead(user, outcome.message)

    async def tell_lead(user: str, text: str) -> None:
        if not user:
            return
        try:
            dm = await client.conversations_open(users=user)
            await client.chat_postMessage(channel=dm["channel"]["id"], text=bk.escape(text), unfurl_links=False,
                                          unfurl_media=False)
        except Exception as exc:  # noqa: BLE001 - logged by id; the answer itself went out
            log.error("slack: could not tell the lead the outcome: error=%s", type(exc).__name__)
