"""A fake Slack Web API on loopback (records calls, can fail on demand), request signing, and
the real server with the Slack channel mounted on it."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from aiohttp import web
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from adapters.slack.channel import slack_channel

from ..conftest import running, with_

SECRET = "test-signing-secret"
BOT_USER = "UBOT"


@dataclass
class FakeSlack:
    """Records every Web API call as (method, params); `fail(method, n, status, retry_after)` makes
    the next n calls of that method answer with that HTTP status."""

    calls: list[tuple[str, dict]] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    failures: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    base_url: str = ""

    def fail(self, method: str, n: int, status: int, retry_after: str | None = None) -> None:
        self.failures.setdefault(method, []).extend([(status, retry_after)] * n)

    def of(self, method: str) -> list[dict]:
        return [p for m, p in self.calls if m == method]

    async def wait_for(self, method: str, count: int = 1, polls: int = 1000) -> list[dict]:
        for _ in range(polls):
            if len(self.of(method)) >= count:
                return self.of(method)
            await asyncio.sleep(0.01)
        raise AssertionError(f"{method} called {len(self.of(method))} times, expected {count}: {self.calls}")

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.attempts.append(method)
        if self.failures.get(method):
            status, retry_after = self.failures[method].pop(0)
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return web.json_response({"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"},
                                     status=status, headers=headers)
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        params = {**dict(request.query), **params}  # some methods send their arguments as a query
        for key in ("blocks", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        self.calls.append((method, params))
        out: dict = {"ok": True}
        if method == "auth.test":
            out.update(user_id=BOT_USER, bot_id="BBOT", team_id="T1", team="Test", url="https://x.slack.com/")
        elif method == "chat.postMessage":
            out.update(channel=params.get("channel"), ts=f"{time.time():.6f}")
        elif method == "conversations.open":
            out["channel"] = {"id": "D" + str(params.get("users", "X"))}
        return web.json_response(out)


@pytest.fixture
async def fake_slack():
    fake = FakeSlack()
    app = web.Application()
    app.router.add_post("/api/{method}", fake.handle)
    async with running(app) as base:
        fake.base_url = base + "/api/"
        yield fake


async def eventually(check, polls: int = 1000):
    """Polls an async check until it returns something truthy (bounded by polls, not by a clock)."""
    for _ in range(polls):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def signed(body: str, secret: str = SECRET, ts: int | None = None, retry: int | None = None,
           content_type: str = "application/json") -> dict:
    ts = int(time.time()) if ts is None else ts
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig, "Content-Type": content_type}
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return headers


def event_body(event_id: str, event: dict, team: str = "T1") -> str:
    return json.dumps({"token": "x", "team_id": team, "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id, "event_time": 1, "event": event,
                       "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}]})


def mention(text: str, channel: str = "C1", ts: str = "1700000000.000100", user: str = "U1",
            thread_ts: str | None = None, team: str = "T1") -> dict:
    e = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": channel,
         "team": team, "event_ts": ts}
    if thread_ts:
        e["thread_ts"] = thread_ts
    return e


def channel_message(text: str, channel: str = "C1", ts: str = "1700000000.000100", user: str = "U1") -> dict:
    return {"type": "message", "channel_type": "channel", "user": user, "text": f"<@{BOT_USER}> {text}",
            "ts": ts, "channel": channel, "event_ts": ts}


def dm(text: str, channel: str = "D1", ts: str = "1700000000.000200", user: str = "U1") -> dict:
    return {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts, "channel": channel,
            "event_ts": ts}


def command_form(text: str, team: str = "T1", channel: str = "C1", user: str = "U1", trigger: str = "tr1") -> str:
    return urlencode({"token": "x", "team_id": team, "channel_id": channel, "user_id": user, "command": "/policy",
                      "text": text, "response_url": "http://127.0.0.1:9/none", "trigger_id": trigger,
                      "api_app_id": "A1"})


def action_form(action_id: str, value: str, channel: str = "C1", user: str = "U1", team: str = "T1") -> str:
    payload = {"type": "block_actions", "team": {"id": team}, "user": {"id": user}, "api_app_id": "A1",
               "channel": {"id": channel}, "trigger_id": "tr2", "container": {"type": "message"},
               "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button",
                            "action_ts": "1"}]}
    return urlencode({"payload": json.dumps(payload)})


@pytest.fixture
def slack_settings(settings, fake_slack, tmp_path):
    return with_(settings, slack_signing_secret=SECRET, slack_bot_token="xoxb-test",
                 slack_api_url=fake_slack.base_url, slack_team_schools="T1=tsat,T2:C9=kingsmead",
                 db_path=tmp_path / "policybot.sqlite3", slack_api_retries=3)


@pytest.fixture
async def slack_app(serve_app, slack_settings):
    """slack_app(settings=None) -> (base_url, app) with only the Slack channel mounted."""

    async def start(settings=None):
        s = settings or slack_settings
        return await serve_app(s, channels=[slack_channel(s, retry_interval=FixedValueRetryIntervalCalculator(0.01))])

    return start


async def post(client, base: str, body: str, headers: dict) -> tuple[int, str]:
    async with client.post(f"{base}/slack/events", data=body.encode(), headers=headers) as resp:
        return resp.status, await resp.text()
