"""The HTTP ack path: an event is on disk before its 200 goes back, a failed store is not
acknowledged (Slack retries), the inbox's group commit keeps each caller's own outcome, and
answers wait for acks to go quiet (AcksFirst)."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from adapters.slack.channel import SLACK_ADAPTER, AcksFirst
from adapters.slack.inbox import Inbox

from .conftest import event_body, mention, post, signed

TSAT_Q = "can I follow a parent back on insta?"


def rows(path) -> list[tuple]:
    with sqlite3.connect(str(path)) as conn:
        return conn.execute("SELECT event_id, status FROM slack_inbox ORDER BY id").fetchall()


async def test_event_is_on_disk_when_the_ack_arrives(slack_app, client, fake_slack, slack_settings):
    base, app = await slack_app()
    body = event_body("EvDisk", mention(TSAT_Q, ts="80.1"))
    assert (await post(client, base, body, signed(body)))[0] == 200
    # read through a separate connection the moment the ack is in: committed, not just queued
    assert rows(slack_settings.db_path)[0][0] == "EvDisk"
    await fake_slack.wait_for("chat.postMessage")


async def test_a_question_that_cannot_be_stored_is_not_acknowledged(slack_app, client, fake_slack):
    base, app = await slack_app()

    async def disk_full(**fields):
        raise sqlite3.OperationalError("database or disk is full")

    app[SLACK_ADAPTER].inbox.record = disk_full
    body = event_body("EvFull", mention(TSAT_Q, ts="81.1"))
    status, _ = await post(client, base, body, signed(body))
    assert status == 500  # Slack will deliver it again
    assert fake_slack.of("chat.postMessage") == []


async def test_group_commit_gives_each_caller_its_own_outcome(tmp_path):
    inbox = Inbox(tmp_path / "i.sqlite3").open()
    try:
        def ask(i: int, event_id: str | None = None):
            return inbox.record(kind="mention", team="T1", channel="C1", user="U1", ts=f"82.{i}",
                                thread_ts=f"82.{i}", question=TSAT_Q, event_id=event_id or f"Ev{i}")

        # 50 at once, plus a redelivery of Ev7 and the message copy of 82.9 in the same burst
        results = await asyncio.gather(*(ask(i) for i in range(50)), ask(7), ask(9, "EvCopy9"))
        new = [item.id for item, fresh in results[:50]]
        assert all(fresh for _, fresh in results[:50]) and len(set(new)) == 50
        assert results[50:] == [(None, False), (None, False)]
        assert len(rows(tmp_path / "i.sqlite3")) == 50
    finally:
        inbox.close()


class FailingCommit:
    """The inbox's connection, with COMMIT failing as a full disk would make it."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql, *args):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return self.conn.execute(sql, *args)

    @property
    def in_transaction(self):
        return self.conn.in_transaction


async def test_a_failed_commit_fails_every_caller_in_the_batch(tmp_path):
    inbox = Inbox(tmp_path / "i.sqlite3").open()
    real = inbox._conn
    inbox._conn = FailingCommit(real)
    try:
        results = await asyncio.gather(*(inbox.record(kind="dm", team="T1", channel="D1", user="U1", ts=f"83.{i}",
                                                      thread_ts=f"83.{i}", question=TSAT_Q, event_id=f"Ev{i}")
                                         for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, sqlite3.OperationalError) for r in results)
        inbox._conn = real
        assert rows(tmp_path / "i.sqlite3") == []  # rolled back: nothing half-stored
        item, new = await inbox.record(kind="dm", team="T1", channel="D1", user="U1", ts="83.0", thread_ts="83.0",
                                       question=TSAT_Q, event_id="Ev0")
        assert new  # and the redelivery Slack sends is stored then
    finally:
        inbox._conn = real
        inbox.close()


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
