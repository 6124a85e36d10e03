"""Settings -> the Slack `Channel` for `policybot serve`: client, inbox, Bolt app, route, lifecycle.

Why here: the server only knows Channels. Slack is on when SLACK_SIGNING_SECRET and
SLACK_BOT_TOKEN are set (Socket Mode too when SLACK_APP_TOKEN is), otherwise off with the line
naming them; a bad SLACK_TEAM_SCHOOLS stops the start (ConfigError from mapping.load).

The ack path (HTTP): the signature is checked here, then an Events API callback's question is
stored (the shared inbox, one commit) and the 200 sent without going through Bolt; Bolt runs after the
ack, and AcksFirst holds answering back while acks are arriving (answers are CPU work sharing
the GIL with the loop). Commands, buttons and url_verification go through Bolt for their ack.
Measured by bench/slack_load.py.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler, AsyncServerErrorRetryHandler)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters import json_reader
from adapters.appkeys import RATE_LIMITER, RUNTIME
from adapters.channel import Channel
from adapters.escalation_wiring import ESCALATION_CONSUMERS
from adapters.request_log import REQUEST_ID
from adapters.store_wiring import StoreHolder, use_store
from bot.config import Settings
from bot.escalations.inbox import Inbox as SharedInbox
from bot.escalations.legacy_inbox import import_once

from . import mapping
from .answering import SlackAnswerer, slack_response_url
from .app import STORED, build_bolt_app, store_question
from .events import callback_problem, form_problem
from .inbox import LEGACY_TABLES, Inbox, legacy_rows
from .manifest import EVENTS_PATH
from .socket_mode import SOCKET_PING_SECONDS, SocketModeSupervisor, socket_logger

log = logging.getLogger("policybot.slack")

OFF_BECAUSE = "set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN"
# The escalation service reaches the adapter through ESCALATION_CONSUMERS (adapters/escalation_wiring.py).
SLACK_ADAPTER = web.AppKey("slack_adapter", SlackAnswerer)
BOLT_APP = web.AppKey("slack_bolt_app", AsyncApp)


class AnyServerErrorRetryHandler(AsyncServerErrorRetryHandler):
    """slack-sdk's server-error handler retries only 500 and 503; a gateway's 502/504 is as temporary."""

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and response.status_code >= 500


def web_client(settings: Settings, interval: RetryIntervalCalculator | None = None) -> AsyncWebClient:
    """The Web API client with retries on: 429 honours Retry-After; 5xx and connection errors back off."""
    interval = interval or BackoffRetryIntervalCalculator(backoff_factor=0.5)
    n = settings.slack_api_retries
    return AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, retry_handlers=[
        AsyncConnectionErrorRetryHandler(max_retry_count=n, interval_calculator=interval),
        AsyncRateLimitErrorRetryHandler(max_retry_count=n),
        AnyServerErrorRetryHandler(max_retry_count=n, interval_calculator=interval)])


def transport(settings: Settings) -> str:
    """"socket" when SLACK_APP_TOKEN is set (no public URL needed), else "http"."""
    return "socket" if settings.slack_app_token else "http"


def socket_mode_handler(bolt_app: AsyncApp, settings: Settings, ping_interval: float = SOCKET_PING_SECONDS):
    """The aiohttp Socket Mode handler (constructed only; the supervisor connects it). Its envelopes
    go through the same Bolt app, so the inbox is written (store_before_ack) before the ack is sent."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    return AsyncSocketModeHandler(bolt_app, app_token=settings.slack_app_token, logger=socket_logger(),
                                  ping_interval=ping_interval)


def _use_escalations(answerer: SlackAnswerer, client, service, registry) -> None:
    """Slack's "Ask <lead>" and escalated answers create escalations; "slack" outbox messages
    (lead DMs, answers back in the asker's thread) go out through this workspace's client."""
    from .notifier import register_slack_notifier

    answerer.escalations = service
    register_slack_notifier(registry, client)


SOCKET_MODE = web.AppKey("slack_socket_mode", SocketModeSupervisor)
# Longest the ack path waits for the inbox write (Slack gives up after 3 s). Past it an event gets
# 503 (Slack redelivers) and a command is acknowledged anyway; either is answered once stored.
ACK_BUDGET_SECONDS = 2.0


def _origin(url: str) -> str:
    """scheme://host[:port]/ of SLACK_API_URL: where tests' fake Slack also takes response_url posts.
    Slack's own API host never issues response URLs, so this adds nothing in production."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc and parts.hostname != "slack.com" else ""
# Answers start once event acks have been quiet this long (or after ACKS_FIRST_LONGEST at most),
# at most ANSWERS_AT_ONCE at a time: answering is CPU work in threads that share the GIL with the
# loop, and Slack's 3-second ack deadline matters more than a reply a moment sooner.
ACKS_SETTLE_SECONDS, ACKS_FIRST_LONGEST, ANSWERS_AT_ONCE = 0.02, 1.0, 2


class AcksFirst:
    """Counts event acks in flight. `turn()` gives an answer one of `at_once` slots once there have
    been no acks in flight for `settle` seconds, or after `longest` seconds whatever happens (a
    steady stream of events must not starve the answers)."""

    def __init__(self, settle: float = ACKS_SETTLE_SECONDS, longest: float = ACKS_FIRST_LONGEST,
                 at_once: int = ANSWERS_AT_ONCE):
        self.settle, self.longest = settle, longest
        self.in_flight = 0
        self._quiet: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._slots: asyncio.Semaphore | None = None
        self._at_once = at_once

    def _event(self) -> asyncio.Event:
        if self._quiet is None:  # made on the serving loop
            self._quiet = asyncio.Event()
            self._quiet.set()
        return self._quiet

    def begin(self) -> None:
        self.in_flight += 1
        self._event().clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def end(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._timer = asyncio.get_running_loop().call_later(self.settle, self._event().set)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """One answer's turn: a free slot, then quiet acks (or the longest wait)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._at_once)
        async with self._slots:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._event().wait(), self.longest)
            yield


def slack_channel(settings: Settings, *, retry_interval: RetryIntervalCalculator | None = None,
                  socket_ping_interval: float = SOCKET_PING_SECONDS, ack_budget: float = ACK_BUDGET_SECONDS) -> Channel:
    if not (settings.slack_signing_secret and settings.slack_bot_token):
        return Channel("slack", None, OFF_BECAUSE)
    schools = mapping.load(settings.slack_team_schools, settings.knowledge_dir)
    mode = transport(settings)

    def mount(app: web.Application) -> None:
        client = web_client(settings, retry_interval)
        stored_in = use_store(app, settings)  # the shared inbox lives in the escalation store
        inbox = Inbox(shared_inbox(stored_in, settings))
        answerer = SlackAnswerer(app[RUNTIME], inbox, client, schools, settings.log_questions,
                                 delivery_wait=settings.delivery_wait_seconds,
                                 response_url_ok=lambda url: slack_response_url(url, (_origin(settings.slack_api_url),)),
                                 limit=app[RATE_LIMITER].take if RATE_LIMITER in app else None)
        bolt = build_bolt_app(answerer, client, settings.slack_signing_secret, ack_budget)
        verifier = SignatureVerifier(settings.slack_signing_secret)
        app[SLACK_ADAPTER], app[BOLT_APP] = answerer, bolt

        async def events(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            ts = request.headers.get("X-Slack-Request-Timestamp", "")
            sig = request.headers.get("X-Slack-Signature", "")
            if not (ts.isdigit() and sig and verifier.is_valid(body, ts, sig)):
                # ids only: the body may hold a question naming a child
                log.warning("slack: rejected request with a bad or stale signature: request=%s",
                            request.get(REQUEST_ID, "-"))
                return web.json_response({"error": "invalid request"}, status=401)
            try:
                payload = _event_callback(request, body)
            except ValueError as exc:  # malformed, though signed: refused with the reason, by id
                log.warning("slack: refused a malformed request (%s): request=%s", exc, request.get(REQUEST_ID, "-"))
                return web.json_response({"error": f"malformed request: {exc}"}, status=400)
            if payload is not None:
                acks.begin()
                try:
                    return await ack_event(request, body, payload)
                finally:
                    acks.end()
            bolt_resp = await bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_resp)

        async def ack_event(request: web.Request, body: bytes, payload: dict) -> web.StreamResponse:
            """Events API callbacks: store the question, acknowledge, and only then run Bolt (its
            listener answers from the stored record). Keeps Bolt's dispatch off the ack path."""
            retry = request.headers.get("X-Slack-Retry-Num")
            bolt_req = AsyncBoltRequest(body=body.decode("utf-8"), query=request.query_string,
                                        headers=dict(request.headers), context={STORED: True})
            stored = asyncio.create_task(store_question(inbox, payload, await answerer.bot_user_id(payload), retry))
            done, _ = await asyncio.wait({stored}, timeout=ack_budget)
            if done and stored.exception() is not None:
                # Not stored (the database is unreachable or failing): not acknowledged, so Slack
                # delivers it again; ids only in the log.
                log.error("slack: event not stored (%s), asking Slack to retry: request=%s retry=%s",
                          type(stored.exception()).__name__, request.get(REQUEST_ID, "-"), retry)
                return web.json_response({"error": "not stored, please retry"}, status=503,
                                         headers={"Retry-After": "5"})
            if not done:
                # The database is locked (another process is writing): Slack's 3 s would pass. Answer
                # 503 so Slack redelivers; this store carries on and answers once it lands, and the
                # redelivery is then dropped as a duplicate.
                log.warning("slack: event not stored within %.1f s (database busy), asking Slack to retry: "
                            "request=%s retry=%s", ack_budget, request.get(REQUEST_ID, "-"), retry)
                stored.add_done_callback(lambda t: t.cancelled() or t.exception() or after_store(t.result(), bolt_req))
                return web.json_response({"error": "busy, please retry"}, status=503)
            after_store(stored.result(), bolt_req)
            return web.Response(status=200)

        def after_store(result, bolt_req: AsyncBoltRequest) -> None:
            item, new = result
            if new:  # a new question, or an event that is not one (app_home_opened): Bolt runs it
                bolt_req.context["inbox_item"] = item
                task = asyncio.create_task(answer_after_ack(bolt_req), name="slack-event")
                after_ack.add(task)
                task.add_done_callback(after_ack.discard)

        async def answer_after_ack(bolt_req: AsyncBoltRequest) -> None:
            async with acks.turn():
                await bolt.async_dispatch(bolt_req)

        after_ack: set[asyncio.Task] = set()  # Bolt dispatches running after their event's ack
        acks = AcksFirst()
        app.router.add_post(EVENTS_PATH, events)
        if ESCALATION_CONSUMERS in app:
            app[ESCALATION_CONSUMERS].append(lambda service, registry: _use_escalations(answerer, client, service, registry))
        if mode == "socket":
            app[SOCKET_MODE] = SocketModeSupervisor(
                lambda: socket_mode_handler(bolt, settings, socket_ping_interval), check_every=socket_ping_interval)
        app.cleanup_ctx.append(_lifecycle(stored_in, answerer, settings, app.get(SOCKET_MODE), after_ack))

    where = EVENTS_PATH + (" and Socket Mode" if mode == "socket" else "")
    return Channel("slack", mount, where=where)


def _event_callback(request: web.Request, body: bytes) -> dict | None:
    """The parsed body when it is an Events API callback (JSON, type event_callback), else None
    (Bolt takes it). ValueError, with the reason, for a body Bolt must not see: JSON that does not
    parse, nests too deep or is not an object, a callback of the wrong shape, a form that is not
    one (adapters/slack/events.py)."""
    if request.content_type != "application/json":
        problem = form_problem(_form(body))
        if problem:
            raise ValueError(problem)
        return None
    payload = json_reader.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("the body is not a JSON object")
    if not isinstance(payload.get("type"), str):
        raise ValueError("type is not a string")
    if payload["type"] != "event_callback":
        return None
    problem = callback_problem(payload)
    if problem:
        raise ValueError(problem)
    return payload


def _form(body: bytes) -> dict:
    """A form body as Bolt reads it (one value per key; an interactive `payload` parsed)."""
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None
    if "payload" in fields:
        fields["payload"] = json_reader.loads(fields["payload"])
    return fields


def shared_inbox(stored_in: StoreHolder, settings: Settings) -> SharedInbox:
    """Slack's part of the shared inbox, with the claim lease and retry backoff from the settings."""
    return SharedInbox(stored_in.get, "slack", lease_seconds=settings.delivery_lease_seconds,
                       retry_base_seconds=settings.retry_base_seconds, retry_max_seconds=settings.retry_max_seconds)


async def import_old_inbox(stored_in: StoreHolder, settings: Settings) -> int:
    """The adapters' old SQLite tables (slack_inbox, slack_feedback), copied into the shared inbox
    once and dropped (bot/escalations/legacy_inbox.py)."""
    return await import_once(stored_in.store, settings.db_path, LEGACY_TABLES, legacy_rows, "slack inbox")


def _lifecycle(stored_in: StoreHolder, answerer: SlackAnswerer, settings: Settings,
               socket_mode: SocketModeSupervisor | None, after_ack: set[asyncio.Task]):
    """Imports the old inbox tables once, then answers in the background whatever is stored and held
    by nobody (at start and every POLICYBOT_WORKER_POLL_SECONDS: a process sharing the database may
    have died holding a question), and starts Socket Mode (connecting in the background, so a Slack
    outage doesn't hold up the start). The retention purge is the escalation worker's (store.purge)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await import_old_inbox(stored_in, settings)
        replay = asyncio.create_task(answerer.sweep(settings.worker_poll_seconds), name="slack-replay")
        if socket_mode is not None:
            socket_mode.start()
        yield
        if socket_mode is not None:
            await socket_mode.stop()
        # answers under way get the shutdown grace; one cut short is let go in the inbox and
        # answered by another process, or on the next start
        if after_ack:
            await asyncio.wait(set(after_ack), timeout=settings.shutdown_grace_seconds)
        for task in (replay, *after_ack):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifecycle
