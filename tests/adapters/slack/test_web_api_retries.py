"""The Web API client retries: 429 with Retry-After, 5xx with backoff (observed at the fake API)."""
from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, AsyncServerErrorRetryHandler

from adapters.slack.channel import web_client

from .conftest import event_body, mention, post, signed

TSAT_Q = "can I follow a parent back on insta?"


async def test_rate_limited_reply_is_retried_after_retry_after(slack_app, client, fake_slack):
    fake_slack.fail("chat.postMessage", 1, 429, retry_after="0")
    base, _ = await slack_app()
    body = event_body("Ev429", mention(TSAT_Q, ts="30.1"))
    await post(client, base, body, signed(body))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "30.1"
    assert fake_slack.attempts.count("chat.postMessage") == 2


async def test_server_errors_are_retried(slack_app, client, fake_slack):
    fake_slack.fail("chat.postMessage", 1, 500)
    fake_slack.fail("chat.postMessage", 1, 502)
    base, _ = await slack_app()
    body = event_body("Ev5xx", mention(TSAT_Q, ts="31.1"))
    await post(client, base, body, signed(body))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert fake_slack.attempts.count("chat.postMessage") == 3


def test_client_has_rate_limit_and_server_error_handlers(slack_settings):
    handlers = web_client(slack_settings).retry_handlers
    assert any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in handlers)
    assert any(isinstance(h, AsyncServerErrorRetryHandler) for h in handlers)
    assert all(h.max_retry_count == slack_settings.slack_api_retries for h in handlers)
