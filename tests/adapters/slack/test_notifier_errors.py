"""The Slack Notifier turns what Slack (or the network) says into the escalation worker's terms:
PermanentError (fall back to the next contact now) or RetryableError (back off, try again),
observed against the fake Web API and against sockets that refuse or drop connections."""
from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from adapters.slack.channel import web_client
from adapters.slack.notifier import SlackNotifier
from bot.escalations.model import ANSWER_TO_ASKER, NOTIFY_LEAD, Asker, Candidate, Escalation, OutboxMessage
from bot.escalations.notify import PermanentError, RetryableError
from bot.knowledge.load import Contact

from ..conftest import with_

RETRIES = 3
FAST = FixedValueRetryIntervalCalculator(0.01)


def escalation() -> Escalation:
    return Escalation(id="E1", school="tsat", school_name="Thinking Schools Academy Trust",
                      asker=Asker("slack", "U1", "C1", "50.1"), question="may I friend a parent?",
                      candidates=(Candidate("5.4", "Social media policy, Staff"),), reason="low_confidence",
                      urgent=False, lead=Contact("Online Safety Lead", "W Holder", slack_user_id="ULEAD"),
                      deputy=Contact("Deputy", slack_user_id="UDEP"))


def to_lead(address: str = "ULEAD", key: str = "k-lead-1") -> OutboxMessage:
    return OutboxMessage(id="M1", escalation_id="E1", kind=NOTIFY_LEAD, recipient_role="lead", channel="slack",
                         address=address, idempotency_key=key)


def to_asker(conversation: str = "C1", key: str = "k-ans-1") -> OutboxMessage:
    return OutboxMessage(id="M2", escalation_id="E1", kind=ANSWER_TO_ASKER, recipient_role="asker",
                         channel="slack", address="U1", idempotency_key=key,
                         payload={"text": "Answer from W Holder: no.", "conversation": conversation,
                                  "thread": "50.1"})


@pytest.fixture
def notifier(slack_settings):
    """notifier(api_url=None) -> a SlackNotifier on the real client (retries on, short intervals)."""

    def make(api_url: str | None = None) -> SlackNotifier:
        s = with_(slack_settings, slack_api_retries=RETRIES, **({"slack_api_url": api_url} if api_url else {}))
        return SlackNotifier(web_client(s, FAST))

    return make


@pytest.mark.parametrize("method,error", [("conversations.open", "user_not_found"),
                                          ("chat.postMessage", "channel_not_found"),
                                          ("chat.postMessage", "is_archived"),
                                          ("conversations.open", "invalid_auth")])
async def test_permanent_slack_errors_raise_permanent_error(fake_slack, notifier, method, error):
    fake_slack.fail(method, 1, 200, error=error)
    with pytest.raises(PermanentError, match=error):
        await notifier().send(to_lead(), escalation())
    assert fake_slack.attempts.count(method) == 1  # not retried by the client either
    assert fake_slack.of("chat.postMessage") == []


async def test_permanent_error_answering_the_asker(fake_slack, notifier):
    fake_slack.fail("chat.postMessage", 1, 200, error="not_in_channel")
    with pytest.raises(PermanentError, match="not_in_channel"):
        await notifier().send(to_asker(), escalation())


async def test_rate_limited_beyond_the_clients_retries_is_retryable(fake_slack, notifier):
    fake_slack.fail("chat.postMessage", RETRIES + 1, 429, retry_after="0")
    with pytest.raises(RetryableError, match="ratelimited"):
        await notifier().send(to_lead(), escalation())
    assert fake_slack.attempts.count("chat.postMessage") == RETRIES + 1
    assert fake_slack.of("chat.postMessage") == []


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_beyond_the_clients_retries_are_retryable(fake_slack, notifier, status):
    fake_slack.fail("chat.postMessage", RETRIES + 1, status)
    with pytest.raises(RetryableError):
        await notifier().send(to_asker(), escalation())
    assert fake_slack.attempts.count("chat.postMessage") == RETRIES + 1


async def test_unknown_error_code_is_retryable_not_permanent(fake_slack, notifier):
    fake_slack.fail("chat.postMessage", 1, 200, error="internal_error")
    with pytest.raises(RetryableError, match="internal_error"):
        await notifier().send(to_lead(), escalation())


async def test_connection_refused_is_retryable(notifier):
    with socket.socket() as sock:  # bound, never listening: connecting is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(RetryableError, match="unavailable"):
            await notifier(f"http://127.0.0.1:{port}/api/").send(to_lead(), escalation())


async def test_connection_dropped_mid_request_is_retried_then_retryable(notifier):
    connections = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.readline()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(RetryableError, match="unavailable"):
            await notifier(f"http://127.0.0.1:{port}/api/").send(to_lead(), escalation())
    finally:
        server.close()
        await server.wait_closed()
    assert len(connections) == RETRIES + 1  # the client's own retries happened first


@pytest.mark.parametrize("message", [to_lead(address=""), to_asker(conversation="")])
async def test_nowhere_to_send_is_permanent_and_calls_nothing(fake_slack, notifier, message):
    esc = escalation()
    if message.kind == ANSWER_TO_ASKER:  # no conversation in the payload nor on the asker
        esc = dataclasses.replace(esc, asker=Asker("slack", "U1"))
    with pytest.raises(PermanentError):
        await notifier().send(message, esc)
    assert fake_slack.calls == []


async def test_successful_send_is_idempotent_per_key(fake_slack, notifier):
    n = notifier()
    for _ in range(3):
        await n.send(to_lead(key="k-a"), escalation())
    assert len(fake_slack.of("chat.postMessage")) == 1 and fake_slack.of("chat.postMessage")[0]["channel"] == "DULEAD"
    await n.send(to_lead(key="k-b"), escalation())  # another message is another DM
    assert len(fake_slack.of("chat.postMessage")) == 2


async def test_failed_send_is_not_remembered_as_sent(fake_slack, notifier):
    n = notifier()
    fake_slack.fail("chat.postMessage", RETRIES + 1, 503)
    with pytest.raises(RetryableError):
        await n.send(to_asker(key="k-c"), escalation())
    await n.send(to_asker(key="k-c"), escalation())  # the worker's retry goes out
    (posted,) = fake_slack.of("chat.postMessage")
    assert posted["channel"] == "C1" and posted["thread_ts"] == "50.1" and "no." in posted["text"]
