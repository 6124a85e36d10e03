"""Hostile and malformed requests to /slack/events (issue 16), signed with the test secret and
sent over real HTTP to the real server: bodies of the wrong shape get a 400 (never a 500 with a
traceback), the ack stays inside Slack's 3 s when the database is locked, /policy answers through
its response_url, no stray Bolt warning at start; then fuzzing of signed bodies."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from urllib.parse import urlencode

import aiohttp
from hypothesis import given, strategies as st

from .conftest import BOT_USER, command_form, event_body, mention, post, signed, stored

FORM = "application/x-www-form-urlencoded"
TSAT_Q = "can I follow a parent back on insta?"


@contextlib.asynccontextmanager
async def database_locked(settings):
    """Another process holding the lock the inbox write needs: SQLite's write lock on the file, or
    PostgreSQL's on the inbox table."""
    if not settings.database_url:
        holder = sqlite3.connect(str(settings.db_path), isolation_level=None, check_same_thread=False)
        # off the loop: the server's own transaction under way needs the loop to finish and let go
        await asyncio.to_thread(holder.execute, "BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    import asyncpg

    conn = await asyncpg.connect(settings.database_url)
    tx = conn.transaction()
    await tx.start()
    await conn.execute("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        await tx.rollback()
        await conn.close()


def no_tracebacks(caplog) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


def _callback(event, **top) -> str:
    body = json.loads(event_body("EvX", mention(TSAT_Q, ts="90.1")))
    body["event"] = event
    body.update(top)
    return json.dumps(body)


async def test_signed_bodies_of_the_wrong_shape_get_400_not_500(slack_app, client, fake_slack, slack_settings, caplog):
    base, _ = await slack_app()
    good = mention(TSAT_Q, ts="90.1")
    bodies = {
        "not JSON": "{this is not json",
        "an array": json.dumps([{"type": "event_callback"}]),
        "a string": json.dumps("event_callback"),
        "deep": "[" * 20_000 + "]" * 20_000,
        "event as a list": _callback([good]),
        "text as a number": _callback({**good, "text": 42}),
        "user as an object": _callback({**good, "user": {"id": "U1"}}),
        "event_id as a list": _callback(good, event_id=["Ev1"]),
        "ts as a float": _callback({**good, "ts": 90.1}),
        "team_id as a number": _callback(good, team_id=1),
        "authorizations as an object": _callback(good, authorizations={"user_id": BOT_USER}),
        "type as a list": json.dumps({"type": ["event_callback"]}),
    }
    for case, body in bodies.items():
        status, text = await post(client, base, body, signed(body))
        assert status == 400, (case, status, text)
        assert "malformed" in json.loads(text)["error"]
    form = urlencode({"payload": "[1, 2]"})
    assert (await post(client, base, form, signed(form, content_type=FORM)))[0] == 400
    no_tracebacks(caplog)
    assert await stored(slack_settings, "slack") == []
    body = event_body("EvOK", good)  # and a good one is still answered
    assert (await post(client, base, body, signed(body)))[0] == 200
    await fake_slack.wait_for("chat.postMessage")


async def test_the_ack_stays_inside_slacks_3s_when_the_database_is_locked(slack_app, client, fake_slack, slack_settings):
    base, _ = await slack_app()
    body = event_body("EvLocked", mention(TSAT_Q, ts="91.1"))
    async with database_locked(slack_settings):  # another process writing the same database
        started = time.monotonic()
        async with client.post(f"{base}/slack/events", data=body.encode(), headers=signed(body),
                               timeout=aiohttp.ClientTimeout(total=3.0)) as resp:
            status = resp.status
        assert time.monotonic() - started < 3.0
        assert status == 503  # Slack will redeliver
    # the store carried on once the lock was released, and the question is answered once
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "91.1"
    retry = await post(client, base, body, signed(body, retry=1))
    assert retry[0] == 200
    await asyncio.sleep(0.2)
    assert len(fake_slack.of("chat.postMessage")) == 1


async def test_policy_answers_through_the_response_url(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = command_form(TSAT_Q, channel="G-private", response_url=fake_slack.response_url)
    assert (await post(client, base, body, signed(body, content_type=FORM)))[0] == 200
    (reply,) = await fake_slack.wait_for("response_url")
    assert reply["response_type"] == "ephemeral" and "5.4" in json.dumps(reply["blocks"])
    assert fake_slack.of("chat.postEphemeral") == []


async def test_policy_never_posts_to_a_response_url_that_is_not_slacks(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = command_form(TSAT_Q, response_url="http://127.0.0.1:1/somewhere-else")
    assert (await post(client, base, body, signed(body, content_type=FORM)))[0] == 200
    await fake_slack.wait_for("chat.postEphemeral")  # the fallback, through the Web API
    assert fake_slack.of("response_url") == []


async def test_no_bolt_warning_at_start(slack_app, monkeypatch, caplog):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")  # as in production: Bolt reads it itself
    caplog.set_level(logging.WARNING)
    await slack_app()
    assert not [r for r in caplog.records if r.name.startswith("policybot.slack.bolt")], caplog.text


# --- fuzzing signed bodies ---

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(st.characters(blacklist_categories=()), max_size=40),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=10), kids, max_size=3),
                    max_leaves=8)
EVENT_KEYS = st.sampled_from(["type", "user", "text", "ts", "thread_ts", "channel", "channel_type", "subtype",
                              "bot_id", "team", "tab"])
TOP_KEYS = st.sampled_from(["type", "team_id", "event_id", "authorizations", "event", "api_app_id"])


@st.composite
def callbacks(draw) -> str:
    body = json.loads(event_body("EvF" + str(draw(st.integers(0, 10**9))), mention(draw(st.text(max_size=80)) or TSAT_Q,
                                                                                 ts=f"{draw(st.integers(1, 10**6))}.1")))
    for key, value in draw(st.lists(st.tuples(EVENT_KEYS, JSON), max_size=3)):
        body["event"][key] = value
    for key, value in draw(st.lists(st.tuples(TOP_KEYS, JSON), max_size=2)):
        body[key] = value
    return json.dumps(body)


FORMS = st.dictionaries(st.sampled_from(["command", "text", "team_id", "user_id", "channel_id", "trigger_id",
                                          "payload", "response_url"]),
                        st.text(st.characters(blacklist_categories=()), max_size=60) | JSON.map(json.dumps),
                        max_size=6).map(lambda d: urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in d.items()}))

_APPS: dict = {}


@given(body=callbacks() | JSON.map(json.dumps) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
       form=st.booleans(), form_body=FORMS)
async def test_fuzz_signed_events(slack_app, client, caplog, body, form, form_body):
    if id(slack_app) not in _APPS:
        _APPS.clear()
        _APPS[id(slack_app)] = await slack_app()
    base, _ = _APPS[id(slack_app)]
    caplog.clear()
    data, content_type = (form_body, FORM) if form else (body, "application/json")
    status, text = await post(client, base, data, signed(data, content_type=content_type))
    assert status in (200, 400, 404), (status, text[:300])
    await asyncio.sleep(0)  # let an after-ack answer start; it must not log a traceback either
    no_tracebacks(caplog)
    async with client.get(f"{base}/healthz") as resp:
        assert resp.status == 200
