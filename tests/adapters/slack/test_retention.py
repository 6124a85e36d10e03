"""Retention: answered questions lose their text after POLICYBOT_RETENTION_DAYS (made-up clock),
while ids, status and dedupe keys stay so a late redelivery is still dropped."""
from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from adapters.slack import blocks as bk
from adapters.retention import PURGE_EVERY_SECONDS, retention_loop
from adapters.slack.inbox import DAY, Inbox

from ..conftest import with_
from .conftest import action_form, eventually, event_body, mention, post, signed

FORM = "application/x-www-form-urlencoded"
Q = "can I message Jenny Smith-Example on snapchat about her homework?"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def raw_rows(path) -> dict[str, tuple]:
    """event_id -> (question, status, message_key, purged_at), read straight from the file."""
    with sqlite3.connect(str(path)) as conn:
        rows = conn.execute("SELECT event_id, question, status, message_key, purged_at FROM slack_inbox").fetchall()
    return {r[0]: r[1:] for r in rows}


async def store(inbox: Inbox, event_id: str, ts: str, answered: bool = True):
    item, new = await inbox.record(kind="mention", team="T1", channel="C1", user="U1", ts=ts, thread_ts=ts,
                                   question=Q, event_id=event_id)
    assert new
    if answered:
        await inbox.mark_answered(item.id)
    return item


async def test_purge_blanks_only_answered_questions_older_than_the_retention(tmp_path):
    clock = Clock()
    inbox = Inbox(tmp_path / "i.sqlite3", clock=clock).open()
    try:
        old = await store(inbox, "EvOld", "1.1")
        await store(inbox, "EvOldPending", "1.2", answered=False)
        clock.now += 20 * DAY
        await store(inbox, "EvRecent", "1.3")
        clock.now += 11 * DAY  # EvOld answered 31 days ago, EvRecent 11 days ago
        assert await inbox.purge(30) == 1
        rows = raw_rows(tmp_path / "i.sqlite3")
        assert rows["EvOld"][:3] == ("", "answered", "T1:C1:1.1") and rows["EvOld"][3] == clock.now
        assert rows["EvOldPending"][:2] == (Q, "pending")  # still to be answered: keeps its text
        assert rows["EvRecent"][:2] == (Q, "answered") and rows["EvRecent"][3] is None
        assert (await inbox.get(old.id)).purged_at == clock.now
        assert [i.event_id for i in await inbox.unanswered()] == ["EvOldPending"]
        assert await inbox.purge(30) == 0  # idempotent
        clock.now += 20 * DAY
        assert await inbox.purge(30) == 1
        assert raw_rows(tmp_path / "i.sqlite3")["EvRecent"][0] == ""
    finally:
        inbox.close()


async def test_purged_text_is_gone_from_the_files_on_disk(tmp_path):
    clock = Clock()
    path = tmp_path / "i.sqlite3"
    inbox = Inbox(path, clock=clock).open()
    try:
        for i in range(20):
            await store(inbox, f"Ev{i}", f"6.{i}")
        marker = b"Jenny Smith-Example"
        assert any(marker in f.read_bytes() for f in tmp_path.iterdir())
        clock.now += 100 * DAY
        assert await inbox.purge(90) == 20
        for f in tmp_path.iterdir():  # the database, its WAL and shared-memory files
            assert marker not in f.read_bytes(), f.name
    finally:
        inbox.close()


async def test_purged_question_is_still_deduped_on_redelivery(tmp_path):
    clock = Clock()
    inbox = Inbox(tmp_path / "i.sqlite3", clock=clock).open()
    try:
        await store(inbox, "EvP", "2.1")
        clock.now += 100 * DAY
        assert await inbox.purge(90) == 1
        same_event = dict(kind="mention", team="T1", channel="C1", user="U1", ts="2.1", thread_ts="2.1",
                          question=Q, event_id="EvP")
        assert await inbox.record(**same_event) == (None, False)
        assert await inbox.record(**{**same_event, "event_id": "EvP-message-copy"}) == (None, False)
        assert await inbox.unanswered() == []
    finally:
        inbox.close()


async def test_retention_loop_purges_at_start_and_then_hourly(tmp_path):
    clock = Clock()
    inbox = Inbox(tmp_path / "i.sqlite3", clock=clock).open()
    await store(inbox, "EvA", "3.1")
    clock.now += 2 * DAY
    await store(inbox, "EvB", "3.2")  # answered 2 days after EvA
    waits: list[float] = []
    blank_after: dict[str, int] = {}

    async def fake_sleep(seconds: float) -> None:  # an hour passes on the made-up clock
        for event_id, (question, *_rest) in raw_rows(tmp_path / "i.sqlite3").items():
            if question == "" and event_id not in blank_after:
                blank_after[event_id] = len(waits)
        waits.append(seconds)
        clock.now += seconds
        if len(waits) == 30:
            raise asyncio.CancelledError

    try:
        with pytest.raises(asyncio.CancelledError):
            await retention_loop(inbox, retention_days=3, sleep=fake_sleep)
    finally:
        inbox.close()
    assert waits == [PURGE_EVERY_SECONDS] * 30
    # EvA (answered 2 days before the start) is exactly 3 days old at the pass after 24 waits and
    # strictly older at the next one, which blanks it; EvB is not due after 30 hours
    assert blank_after == {"EvA": 25}
    assert raw_rows(tmp_path / "i.sqlite3")["EvB"][0] == Q


async def test_server_start_purges_an_old_answered_question(slack_app, slack_settings, fake_slack):
    inbox = Inbox(slack_settings.db_path, clock=Clock(1_000_000.0)).open()  # answered in 1970
    await store(inbox, "EvAncient", "4.1")
    inbox.close()
    await slack_app(with_(slack_settings, retention_days=30))

    async def blanked():
        return raw_rows(slack_settings.db_path)["EvAncient"][0] == ""

    await eventually(blanked)
    assert fake_slack.of("chat.postMessage") == []  # answered long ago: nothing replayed


async def test_ask_lead_on_a_purged_answer_asks_to_ask_again(slack_app, client, fake_slack, slack_settings):
    base, _ = await slack_app()
    body = event_body("EvOldAsk", mention("can I follow a parent back on insta?", ts="5.1"))
    await post(client, base, body, signed(body))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    ref = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]
           if e["action_id"] == bk.ASK_LEAD][0]["value"]

    async def answered():
        return not await Inbox(slack_settings.db_path).unanswered()

    await eventually(answered)
    later = Inbox(slack_settings.db_path, clock=Clock(4_000_000_000.0))
    assert await later.purge(slack_settings.retention_days) == 1
    form = action_form(bk.ASK_LEAD, ref)
    assert (await post(client, base, form, signed(form, content_type=FORM)))[0] == 200
    (note,) = await fake_slack.wait_for("chat.postEphemeral")
    assert "retention period" in note["text"] and "Jenny" not in json.dumps(fake_slack.calls)
