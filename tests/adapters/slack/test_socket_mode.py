"""Socket Mode for real: Bolt's aiohttp handler against a local websocket server playing Slack's
side (hello, events_api envelopes, acks, dropped and silent connections, refresh requests).
The ping interval is short so reconnects happen quickly; nothing asserts on time."""
from __future__ import annotations

import json
import logging

import pytest

from adapters.slack.channel import SOCKET_MODE

from ..conftest import with_
from .conftest import envelope, event_body, mention, stored

TSAT_Q = "can I follow a parent back on insta?"
SECRET_Q = "can I message Jenny Smith-Example on snapchat about her homework?"
PING = 0.1


@pytest.fixture
def socket_settings(slack_settings):
    return with_(slack_settings, slack_app_token="xapp-test")


@pytest.fixture
def socket_app(slack_app, socket_settings):
    async def start(**options):
        options.setdefault("socket_ping_interval", PING)
        return await slack_app(socket_settings, **options)

    return start


async def ask(fake_slack, n: int, event_id: str, ts: str, text: str = TSAT_Q) -> dict:
    """Pushes an app_mention envelope, waits for its ack and for the n-th reply; returns the reply."""
    env_id = f"env-{event_id}"
    await fake_slack.socket.send(envelope(env_id, event_body(event_id, mention(text, ts=ts))))
    ack = await fake_slack.socket.wait_ack(env_id)
    assert ack == {"envelope_id": env_id}
    replies = await fake_slack.wait_for("chat.postMessage", n)
    return next(r for r in replies if r.get("thread_ts") == ts)


def opened(fake_slack) -> int:
    return len(fake_slack.of("apps.connections.open"))


async def test_event_is_stored_before_the_ack_then_answered(socket_app, fake_slack, socket_settings):
    stored_at_ack: dict[str, list] = {}

    async def on_ack(ack):  # what the inbox holds at the moment Slack receives the ack
        stored_at_ack[ack["envelope_id"]] = [(i.alt_key, i.status) for i in await stored(socket_settings, "slack")]

    fake_slack.socket.on_ack = on_ack
    await socket_app()
    await fake_slack.socket.wait_connections(1)
    reply = await ask(fake_slack, 1, "EvS1", "60.1")
    # stored before the ack (read as the ack arrives; by the end of that read it may be answered already)
    assert [event_id for event_id, _ in stored_at_ack["env-EvS1"]] == ["EvS1"]
    assert reply["channel"] == "C1" and "*5.4*" in json.dumps(reply["blocks"])


async def test_reconnects_after_the_server_closes_the_connection(socket_app, fake_slack):
    _, app = await socket_app()
    await fake_slack.socket.wait_connections(1)
    await ask(fake_slack, 1, "EvC1", "61.1")
    await fake_slack.socket.close()
    await fake_slack.socket.wait_connections(2)
    assert opened(fake_slack) == 2  # a fresh URL from apps.connections.open
    await ask(fake_slack, 2, "EvC2", "61.2")


async def test_reconnects_after_the_connection_goes_silent(socket_app, fake_slack):
    await socket_app()
    await fake_slack.socket.wait_connections(1)
    await ask(fake_slack, 1, "EvI1", "62.1")
    fake_slack.socket.go_silent()  # no pongs, nothing delivered: a half-dead connection
    await fake_slack.socket.wait_connections(2)
    assert opened(fake_slack) >= 2
    await ask(fake_slack, 2, "EvI2", "62.2")


async def test_reconnects_when_slack_asks_for_a_refresh(socket_app, fake_slack):
    await socket_app()
    await fake_slack.socket.wait_connections(1)
    await fake_slack.socket.send({"type": "disconnect", "reason": "refresh_requested",
                                  "debug_info": {"host": "fake"}})
    await fake_slack.socket.wait_connections(2)
    await ask(fake_slack, 1, "EvF1", "63.1")


async def test_a_failed_handshake_is_recovered_with_a_new_url(socket_app, fake_slack):
    # Slack's wss URLs are one-time tickets: the handler on its own retries the used one for
    # ever; the supervisor replaces the handler, which asks for a new one.
    fake_slack.socket.refuse_next = 1
    _, app = await socket_app()
    await fake_slack.socket.wait_connections(1)
    assert opened(fake_slack) >= 2 and app[SOCKET_MODE].restarts >= 1
    await ask(fake_slack, 1, "EvH1", "64.1")


async def test_slack_unreachable_at_start_does_not_hold_up_the_server(socket_app, fake_slack, client):
    fake_slack.fail("apps.connections.open", 3, 200, error="invalid_auth")
    base, _ = await socket_app()
    async with client.get(f"{base}/healthz") as resp:  # the server is up while Slack refuses
        assert resp.status == 200
    await fake_slack.socket.wait_connections(1)  # and connects once Slack lets it
    await ask(fake_slack, 1, "EvU1", "65.1")


async def test_redelivered_envelope_is_acked_and_answered_once(socket_app, fake_slack):
    await socket_app()
    await fake_slack.socket.wait_connections(1)
    body = event_body("EvDup", mention(TSAT_Q, ts="66.1"))
    await fake_slack.socket.send(envelope("env-a", body))
    await fake_slack.socket.wait_ack("env-a")
    await fake_slack.socket.send(envelope("env-b", body, retry=1))
    await fake_slack.socket.wait_ack("env-b")
    await ask(fake_slack, 2, "EvDup2", "66.2")  # a later question is answered...
    assert sorted(r["thread_ts"] for r in fake_slack.of("chat.postMessage")) == ["66.1", "66.2"]  # ...once each


async def test_slash_command_over_the_socket(socket_app, fake_slack):
    await socket_app()
    await fake_slack.socket.wait_connections(1)
    command = {"token": "x", "team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/policy",
               "text": TSAT_Q, "trigger_id": "trS", "api_app_id": "A1", "response_url": "http://127.0.0.1:9/x"}
    await fake_slack.socket.send(envelope("env-cmd", command, kind="slash_commands"))
    assert (await fake_slack.socket.wait_ack("env-cmd"))["envelope_id"] == "env-cmd"
    (reply,) = await fake_slack.wait_for("chat.postEphemeral")
    assert reply["user"] == "U1" and "5.4" in json.dumps(reply["blocks"])


async def test_socket_mode_logs_carry_no_question_text(socket_app, fake_slack, caplog):
    caplog.set_level(logging.DEBUG)
    await socket_app()
    await fake_slack.socket.wait_connections(1)
    await ask(fake_slack, 1, "EvLogS", "67.1", text=SECRET_Q)
    assert "Jenny" not in caplog.text and "snapchat" not in caplog.text
    assert "slack question stored" in caplog.text


async def test_idle_connection_whose_reconnect_handshake_fails_is_recovered(socket_app, fake_slack):
    _, app = await socket_app()
    await fake_slack.socket.wait_connections(1)
    await ask(fake_slack, 1, "EvR1", "68.1")
    fake_slack.socket.refuse_next = 1  # the handler's own reconnect hits a failed handshake...
    fake_slack.socket.go_silent()      # ...after the connection dies quietly
    await fake_slack.socket.wait_connections(2)
    assert app[SOCKET_MODE].restarts >= 1
    await ask(fake_slack, 2, "EvR2", "68.2")


async def test_handler_that_stopped_dispatching_is_replaced(socket_app, fake_slack):
    # connected, but the task that hands envelopes to Bolt is gone: events would be read and
    # never acked nor answered, with nothing in the logs
    _, app = await socket_app()
    await fake_slack.socket.wait_connections(1)
    app[SOCKET_MODE].handler.client.message_processor.cancel()
    await fake_slack.socket.wait_connections(2)
    assert app[SOCKET_MODE].restarts == 1
    await ask(fake_slack, 1, "EvD1", "69.1")
