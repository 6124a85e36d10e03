"""A fake Slack Web API on loopback (records calls, can fail on demand), request signing, and
the real server with the Slack channel mounted on it."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import itertools

import pytest
from aiohttp import WSMsgType, web
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from adapters.slack.channel import slack_channel

from ..conftest import eventually, opened_store, running, stored, with_  # noqa: F401 - re-exported for the tests

SECRET = "test-signing-secret"
BOT_USER = "UBOT"


@dataclass
class FakeSocketMode:
    """Slack's Socket Mode end on loopback. `apps.connections.open` issues a one-time ticket URL
    (a ticket is good for one connection, as Slack's are); a connection gets `hello`, then whatever
    `send` pushes; the client's acks ({"envelope_id": ...}) are recorded. `close()` ends the
    current connection with a close frame; `go_silent()` makes it stop answering pings and
    delivering anything, the way a half-dead connection looks from the client."""

    url_base: str = ""
    tickets: set[str] = field(default_factory=set)
    refuse_next: int = 0            # handshakes to refuse with HTTP 500 (the ticket is used up anyway)
    connections: list[web.WebSocketResponse] = field(default_factory=list)
    acks: list[dict] = field(default_factory=list)
    silent: set[int] = field(default_factory=set)
    on_ack: object = None            # called with the ack before it is recorded
    _ids: itertools.count = field(default_factory=itertools.count)

    def issue_url(self) -> str:
        ticket = f"t{next(self._ids)}"
        self.tickets.add(ticket)
        return f"{self.url_base}?ticket={ticket}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="unknown or used ticket")
        self.tickets.discard(ticket)
        if self.refuse_next:
            self.refuse_next -= 1
            return web.Response(status=500, text="try again")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        index = len(self.connections)
        self.connections.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"},
                            "debug_info": {"host": "fake", "approximate_connection_time": 3600}})
        async for msg in ws:
            if index in self.silent:
                continue
            if msg.type == WSMsgType.PING:
                await ws.pong(msg.data)
            elif msg.type == WSMsgType.TEXT:
                ack = json.loads(msg.data)
                if callable(self.on_ack):
                    result = self.on_ack(ack)
                    if asyncio.iscoroutine(result):
                        await result
                self.acks.append(ack)
        return ws

    @property
    def current(self) -> web.WebSocketResponse:
        return self.connections[-1]

    async def wait_connections(self, n: int, polls: int = 2000) -> None:
        for _ in range(polls):
            if len(self.connections) >= n and not self.connections[n - 1].closed:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.connections)} Socket Mode connections, expected {n}")

    async def send(self, message: dict) -> None:
        await self.current.send_json(message)

    async def wait_ack(self, envelope_id: str, polls: int = 1000) -> dict:
        for _ in range(polls):
            for ack in self.acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            await asyncio.sleep(0.01)
        raise AssertionError(f"no ack for {envelope_id}: {self.acks}")

    async def close(self) -> None:
        await self.current.close()

    def go_silent(self) -> None:
        self.silent.add(len(self.connections) - 1)


def envelope(envelope_id: str, body: str | dict, kind: str = "events_api", retry: int = 0) -> dict:
    payload = json.loads(body) if isinstance(body, str) else body
    return {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry, "retry_reason": "timeout" if retry else ""}


@dataclass
class FakeSlack:
    """Records every Web API call as (method, params); `fail(method, n, status, retry_after, error)`
    makes the next n calls of that method answer with that HTTP status and Slack error code
    (status 200 with an error: Slack's usual `{"ok": false, "error": ...}`)."""

    calls: list[tuple[str, dict]] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    failures: dict[str, list[tuple[int, str | None, str | None]]] = field(default_factory=dict)
    base_url: str = ""
    socket: FakeSocketMode = field(default_factory=FakeSocketMode)
    # channel -> messages posted there, as conversations.history / .replies return them
    messages: dict[str, list[dict]] = field(default_factory=dict)
    # thread_ts whose next chat.postMessage never gets an answer (the poster is killed meanwhile)
    hang_threads: set[str] = field(default_factory=set)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next_ts(self) -> str:
        return f"1800000000.{next(self._ts):06d}"

    def conversation(self, params: dict, thread: bool) -> dict:
        """conversations.replies (thread) or .history: oldest/inclusive, limit/cursor paging, and
        metadata only with include_all_metadata, as Slack does."""
        wanted = params.get("ts")
        oldest = float(params.get("oldest") or 0)
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        found = [m for m in self.messages.get(params.get("channel", ""), [])
                 if (m["ts"] == wanted or m.get("thread_ts") == wanted if thread
                     else m.get("thread_ts") in (None, m["ts"]))
                 and (float(m["ts"]) > oldest or inclusive and float(m["ts"]) == oldest)]
        if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
            found = [{k: v for k, v in m.items() if k != "metadata"} for m in found]
        start, limit = int(params.get("cursor") or 0), int(params.get("limit") or 100)
        page, more = found[start:start + limit], start + limit < len(found)
        return {"messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    @property
    def response_url(self) -> str:
        """A /policy command's response_url, as Slack issues one (here: on the fake)."""
        return self.base_url.replace("/api/", "/response/") + "cmd-1"

    async def respond(self, request: web.Request) -> web.Response:
        """A post to a command's response_url: recorded as the "response_url" method."""
        self.attempts.append("response_url")
        if self.failures.get("response_url"):
            status, _, _ = self.failures["response_url"].pop(0)
            return web.Response(status=status, text="expired_url")
        self.calls.append(("response_url", {**await request.json(), "_url": str(request.url)}))
        return web.Response(text="ok")

    def fail(self, method: str, n: int, status: int, retry_after: str | None = None,
             error: str | None = None) -> None:
        self.failures.setdefault(method, []).extend([(status, retry_after, error)] * n)

    def of(self, method: str) -> list[dict]:
        return [p for m, p in self.calls if m == method]

    async def wait_for(self, method: str, count: int = 1, polls: int = 1000) -> list[dict]:
        for _ in range(polls):
            if len(self.of(method)) >= count:
                return self.of(method)
            await asyncio.sleep(0.01)
        raise AssertionError(f"{method} called {len(self.of(method))} times, expected {count}: {self.calls}")

    async def wait_for_to(self, channel: str, count: int = 1, polls: int = 1500) -> list[dict]:
        """chat.postMessage calls into `channel` (a DM's id is "D" + the user's), once there are `count`."""
        for _ in range(polls):
            found = [p for p in self.of("chat.postMessage") if p.get("channel") == channel]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"fewer than {count} messages to {channel}: {self.calls}")

    async def wait_for_attempt(self, method: str, polls: int = 1500) -> None:
        """Until `method` has been called at all (answered or not)."""
        for _ in range(polls):
            if method in self.attempts:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{method} never called: {self.attempts}")

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.attempts.append(method)
        if self.failures.get(method):
            status, retry_after, error = self.failures[method].pop(0)
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            error = error or ("ratelimited" if status == 429 else "fatal_error")
            return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        params = {**dict(request.query), **params}  # some methods send their arguments as a query
        for key in ("blocks", "view", "metadata"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        if method == "chat.postMessage" and params.get("thread_ts") in self.hang_threads:
            self.hang_threads.discard(params["thread_ts"])
            await asyncio.Event().wait()  # until the server stops: the reply never lands
        self.calls.append((method, params))
        out: dict = {"ok": True}
        if method == "auth.test":
            out.update(user_id=BOT_USER, bot_id="BBOT", team_id="T1", team="Test", url="https://x.slack.com/")
        elif method == "chat.postMessage":
            message = {"type": "message", "ts": self.next_ts(), "bot_id": "BBOT", "text": params.get("text", "")}
            for key in ("thread_ts", "metadata"):
                if params.get(key):
                    message[key] = params[key]
            self.messages.setdefault(params.get("channel", ""), []).append(message)
            out.update(channel=params.get("channel"), ts=message["ts"], message=message)
        elif method in ("conversations.replies", "conversations.history"):
            out.update(self.conversation(params, thread=method == "conversations.replies"))
        elif method == "conversations.open":
            out["channel"] = {"id": "D" + str(params.get("users", "X"))}
        elif method == "apps.connections.open":
            out["url"] = self.socket.issue_url()
        return web.json_response(out)


@pytest.fixture
async def fake_slack():
    fake = FakeSlack()
    app = web.Application()
    app.router.add_post("/api/{method}", fake.handle)
    app.router.add_get("/api/{method}", fake.handle)  # conversations.history / .replies are GETs
    app.router.add_get("/link/", fake.socket.handle)
    app.router.add_post("/response/{id}", fake.respond)
    async with running(app) as base:
        fake.base_url = base + "/api/"
        fake.socket.url_base = base.replace("http://", "ws://") + "/link/"
        yield fake
        for ws in fake.socket.connections:  # let the server shut down without waiting on sockets
            await ws.close()


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


def command_form(text: str, team: str = "T1", channel: str = "C1", user: str = "U1", trigger: str = "tr1",
                 response_url: str = "http://127.0.0.1:9/none") -> str:
    return urlencode({"token": "x", "team_id": team, "channel_id": channel, "user_id": user, "command": "/policy",
                      "text": text, "response_url": response_url, "trigger_id": trigger,
                      "api_app_id": "A1"})


_PRESSES = itertools.count(1)


def action_form(action_id: str, value: str, channel: str = "C1", user: str = "U1", team: str = "T1") -> str:
    """A button press as Slack posts it; action_ts is when it was pressed, later for each press
    (as Slack's own is: the bot keeps the later of two presses by it)."""
    pressed = f"{time.time() + next(_PRESSES) * 1e-3:.6f}"
    payload = {"type": "block_actions", "team": {"id": team}, "user": {"id": user}, "api_app_id": "A1",
               "channel": {"id": channel}, "trigger_id": "tr2", "container": {"type": "message"},
               "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button",
                            "action_ts": pressed}]}
    return urlencode({"payload": json.dumps(payload)})


@pytest.fixture
def slack_settings(settings, fake_slack, database):
    """Slack on, against the fake Web API; the database is SQLite or PostgreSQL (each test runs on both)."""
    return with_(settings, slack_signing_secret=SECRET, slack_bot_token="xoxb-test",
                 slack_api_url=fake_slack.base_url, slack_team_schools="T1=tsat,T2:C9=kingsmead",
                 slack_api_retries=3, **database)


@contextlib.asynccontextmanager
async def slack_inbox(settings, clock=None):
    """Slack's part of the shared inbox on a connection of its own (another process's view)."""
    from adapters.slack.channel import shared_inbox
    from adapters.slack.inbox import Inbox
    from adapters.store_wiring import StoreHolder

    async with opened_store(settings) as store:
        shared = shared_inbox(StoreHolder(store), settings)
        if clock is not None:
            shared.clock = clock
        yield Inbox(shared)


@pytest.fixture
async def slack_app(serve_app, slack_settings):
    """slack_app(settings=None, escalations=False) -> (base_url, app) with only the Slack channel mounted
    (and, with escalations=True, the escalation store and worker)."""

    async def start(settings=None, escalations=False, **channel_options):
        s = settings or slack_settings
        channel_options.setdefault("retry_interval", FixedValueRetryIntervalCalculator(0.01))
        return await serve_app(s, channels=[slack_channel(s, **channel_options)], escalations=escalations)

    return start


async def post(client, base: str, body: str, headers: dict) -> tuple[int, str]:
    async with client.post(f"{base}/slack/events", data=body.encode(), headers=headers) as resp:
        return resp.status, await resp.text()
