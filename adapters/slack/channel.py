"""Settings -> the Slack `Channel` for `policybot serve`: client, inbox, Bolt app, route, lifecycle.

Why here: the server only knows Channels. Slack is on when SLACK_SIGNING_SECRET and
SLACK_BOT_TOKEN are set (Socket Mode too when SLACK_APP_TOKEN is), otherwise off with the line
naming them; a bad SLACK_TEAM_SCHOOLS stops the start (ConfigError from mapping.load).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler, AsyncServerErrorRetryHandler)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.appkeys import RUNTIME
from adapters.escalation_wiring import ESCALATION_CONSUMERS
from adapters.request_log import REQUEST_ID
from adapters.server import Channel
from bot.config import Settings

from . import mapping
from .answering import SlackAnswerer
from .app import build_bolt_app
from .inbox import Inbox

log = logging.getLogger("policybot.slack")

EVENTS_PATH = "/slack/events"
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


def socket_mode_handler(bolt_app: AsyncApp, settings: Settings):
    """The aiohttp Socket Mode handler (constructed only; connected by the mount's lifecycle)."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    return AsyncSocketModeHandler(bolt_app, app_token=settings.slack_app_token)


def _use_escalations(answerer: SlackAnswerer, client, service, registry) -> None:
    """Slack's "Ask <lead>" and escalated answers create escalations; "slack" outbox messages
    (lead DMs, answers back in the asker's thread) go out through this workspace's client."""
    from .notifier import register_slack_notifier

    answerer.escalations = service
    register_slack_notifier(registry, client)


def slack_channel(settings: Settings, *, retry_interval: RetryIntervalCalculator | None = None) -> Channel:
    if not (settings.slack_signing_secret and settings.slack_bot_token):
        return Channel("slack", None, OFF_BECAUSE)
    schools = mapping.load(settings.slack_team_schools, settings.knowledge_dir)
    mode = transport(settings)

    def mount(app: web.Application) -> None:
        client = web_client(settings, retry_interval)
        inbox = Inbox(settings.db_path)
        answerer = SlackAnswerer(app[RUNTIME], inbox, client, schools, settings.log_questions)
        bolt = build_bolt_app(answerer, client, settings.slack_signing_secret)
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
            bolt_resp = await bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_resp)

        app.router.add_post(EVENTS_PATH, events)
        if ESCALATION_CONSUMERS in app:
            app[ESCALATION_CONSUMERS].append(lambda service, registry: _use_escalations(answerer, client, service, registry))
        app.cleanup_ctx.append(_lifecycle(inbox, answerer, bolt, settings, mode))

    where = EVENTS_PATH + (" and Socket Mode" if mode == "socket" else "")
    return Channel("slack", mount, where=where)


def _lifecycle(inbox: Inbox, answerer: SlackAnswerer, bolt: AsyncApp, settings: Settings, mode: str):
    """Opens the inbox, replays unanswered questions in the background, connects Socket Mode."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await asyncio.to_thread(inbox.open)
        replay = asyncio.create_task(answerer.replay(), name="slack-replay")
        handler = None
        if mode == "socket":
            handler = socket_mode_handler(bolt, settings)
            await handler.connect_async()
            log.info("slack: Socket Mode connected")
        yield
        if handler is not None:
            await handler.close_async()
        replay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await replay
        inbox.close()

    return lifecycle
