"""The HTTP ack path: an event is committed before its 200 goes back, a failed store is not
acknowledged (Slack retries), and answers wait for acks to go quiet (AcksFirst)."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from adapters.slack.channel import SLACK_ADAPTER, AcksFirst
from adapters.store_wiring import STORE

from ..conftest import with_
from .conftest import event_body, eventually, mention, post, signed, stored

TSAT_Q = "can I follow a parent back on insta?"


async def test_event_is_committed_when_the_ack_arrives(slack_app, client, fake_slack, slack_settings):
    base, app = await slack_app()
    body = event_body("EvDisk", mention(TSAT_Q, ts="80.1"))
    assert (await post(client, base, body, signed(body)))[0] == 200
    # read through a separate connection the moment the ack is in: committed, not just queued
    assert [i.alt_key for i in await stored(slack_settings, "slack")] == ["EvDisk"]
    await fake_slack.wait_for("chat.postMessage")


async def test_a_question_that_cannot_be_stored_is_not_acknowledged(slack_app, client, fake_slack):
    base, app = await slack_app()

    async def disk_full(**fields):
        raise sqlite3.OperationalError("database or disk is full")

    app[SLACK_ADAPTER].inbox.record = disk_full
    body = event_body("EvFull", mention(TSAT_Q, ts="81.1"))
    status, text = await post(client, base, body, signed(body))
    assert status == 503 and "retry" in text  # not acknowledged: Slack will deliver it again
    assert fake_slack.of("chat.postMessage") == []


async def test_with_the_database_unreachable_events_are_not_acknowledged(slack_app, client, fake_slack,
                                                                         slack_settings):
    base, app = await slack_app(with_(slack_settings, database_url="postgresql://nobody:wrong@127.0.0.1:1/none"))
    assert app[STORE].store is None and "unreachable" in app[STORE].error
    body = event_body("EvNoDb", mention(TSAT_Q, ts="81.2"))
    status, _ = await post(client, base, body, signed(body))
    assert status == 503

    async def unready_saying_why():
        async with client.get(f"{base}/readyz") as r:
            return r.status == 503 and "escalation store unreachable" in (await r.json())["reason"]

    await eventually(unready_saying_why)


async def test_answers_wait_for_acks_to_go_quiet():
    acks = AcksFirst(settle=0.0, longest=60.0, at_once=2)
    started: list[str] = []

    async def answer(name: str) -> None:
        async with acks.turn():
            started.append(name)

    acks.begin()
    task = asyncio.create_task(answer("a"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == []  # an ack is still in flight
    acks.end()
    await task
    assert started == ["a"]


async def test_answers_are_not_starved_by_a_steady_stream_of_acks():
    acks = AcksFirst(settle=0.0, longest=0.01, at_once=2)
    acks.begin()  # never ends
    async with acks.turn():
        pass  # entered after `longest`, acks or not


async def test_answers_take_turns():
    acks = AcksFirst(settle=0.0, longest=60.0, at_once=1)
    order: list[str] = []
    release = asyncio.Event()

    async def answer(name: str) -> None:
        async with acks.turn():
            order.append(f"{name} in")
            if name == "a":
                await release.wait()
            order.append(f"{name} out")

    tasks = [asyncio.create_task(answer("a")), asyncio.create_task(answer("b"))]
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["a in"]
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["a in", "a out", "b in", "b out"]


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
async def test_url_verification_and_forms_still_go_through_bolt(slack_app, client, content_type):
    base, _ = await slack_app()
    if content_type == "application/json":
        body = '{"type": "url_verification", "challenge": "c-42", "token": "x"}'
        status, text = await post(client, base, body, signed(body))
        assert status == 200 and "c-42" in text
    else:
        body = "payload=%7B%22type%22%3A%22nothing_we_handle%22%7D"
        status, _ = await post(client, base, body, signed(body, content_type=content_type))
        assert status == 404  # Bolt's answer for a request no listener takes
