"""No second reply after a crash between posting the reply and marking the question answered:
replies carry message metadata with their inbox id, and a replayed "sending" question is looked
up in its thread / DM (as the fake Web API serves them) before anything is posted."""
from __future__ import annotations

import logging

import pytest

from adapters.slack.answering import REPLY_EVENT, reply_metadata
from adapters.slack.channel import SLACK_ADAPTER

from ..conftest import with_
from .conftest import dm, eventually, event_body, mention, post, signed, slack_inbox, stored

TSAT_Q = "can I follow a parent back on insta?"


@pytest.fixture
def slack_settings(slack_settings):
    """A short claim lease, so the restart takes over what the crashed run held without a long wait."""
    return with_(slack_settings, delivery_lease_seconds=0.5, worker_poll_seconds=0.05)


async def status_of(settings, event_id: str) -> str:
    (item,) = [i for i in await stored(settings, "slack") if i.alt_key == event_id]
    return item.status


async def crash_after_posting(slack_app, client, fake_slack, body: str) -> None:
    """A first run posts the reply and dies before marking the question answered."""
    base, app = await slack_app()

    async def killed(item) -> None:
        raise RuntimeError("process killed here")

    async def dead():  # and, being dead, it sweeps no more
        return None

    app[SLACK_ADAPTER].inbox.mark_answered = killed
    app[SLACK_ADAPTER].inbox.claim_one = dead
    assert (await post(client, base, body, signed(body)))[0] == 200
    await fake_slack.wait_for("chat.postMessage")


async def test_reply_carries_its_inbox_id_as_metadata(slack_app, client, fake_slack, slack_settings):
    base, _ = await slack_app()
    body = event_body("EvMeta", mention(TSAT_Q, ts="70.1"))
    await post(client, base, body, signed(body))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    (item,) = await stored(slack_settings, "slack")
    assert reply["metadata"] == {"event_type": REPLY_EVENT, "event_payload": {"inbox_id": item.id}}

    async def answered():
        return await status_of(slack_settings, "EvMeta") == "answered"

    await eventually(answered)


async def test_restart_after_a_crash_between_post_and_mark_does_not_reply_twice_in_a_thread(
        slack_app, client, fake_slack, slack_settings):
    await crash_after_posting(slack_app, client, fake_slack, event_body("EvCrash1", mention(TSAT_Q, ts="71.1")))
    assert await status_of(slack_settings, "EvCrash1") == "sending"
    await slack_app()  # the restart replays it once the dead run's lease is over

    async def answered():
        return await status_of(slack_settings, "EvCrash1") == "answered"

    await eventually(answered)
    (lookup,) = fake_slack.of("conversations.replies")
    assert (lookup["channel"], lookup["ts"], lookup["include_all_metadata"]) == ("C1", "71.1", "1")
    assert len(fake_slack.of("chat.postMessage")) == 1


async def test_restart_after_a_crash_between_post_and_mark_does_not_reply_twice_in_a_dm(
        slack_app, client, fake_slack, slack_settings):
    await crash_after_posting(slack_app, client, fake_slack, event_body("EvCrash2", dm(TSAT_Q, ts="72.1")))
    await slack_app()

    async def answered():
        return await status_of(slack_settings, "EvCrash2") == "answered"

    await eventually(answered)
    (lookup,) = fake_slack.of("conversations.history")
    assert lookup["channel"] == "D1" and lookup["oldest"] == "72.1"
    assert len(fake_slack.of("chat.postMessage")) == 1


async def test_sending_question_whose_reply_never_reached_slack_is_answered_once(
        slack_app, client, fake_slack, slack_settings):
    fake_slack.fail("chat.postMessage", 4, 500)  # 1 try + 3 retries: the reply never lands
    base, _ = await slack_app(with_(slack_settings, retry_base_seconds=600))
    body = event_body("EvLost", mention(TSAT_Q, ts="73.1"))
    await post(client, base, body, signed(body))

    async def gave_up():
        return fake_slack.attempts.count("chat.postMessage") >= 4

    await eventually(gave_up)
    assert await status_of(slack_settings, "EvLost") == "sending"
    async with slack_inbox(slack_settings) as inbox:  # its retry wait over
        (item,) = await inbox.unanswered()
        await inbox.shared.release(item.stored)
    await slack_app()
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "73.1" and fake_slack.of("conversations.replies")


async def test_failed_lookup_still_answers(slack_app, client, fake_slack, slack_settings, caplog):
    caplog.set_level(logging.INFO, logger="policybot.slack")
    async with slack_inbox(slack_settings, clock=lambda: 1_000_000.0) as inbox:  # a run that died long ago
        item, _ = await inbox.record(kind="mention", team="T1", channel="C1", user="U1", ts="74.1", thread_ts="74.1",
                                     question=TSAT_Q, event_id="EvNoScope")
        await inbox.mark_sending(item)
    fake_slack.fail("conversations.replies", 1, 200, error="missing_scope")
    await slack_app()
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "74.1"
    assert "reply lookup failed, answering again" in caplog.text and "missing_scope" in caplog.text


async def test_lookup_pages_through_a_busy_thread(slack_app, fake_slack, slack_settings):
    _, app = await slack_app()
    answerer = app[SLACK_ADAPTER]
    item, _ = await answerer.inbox.record(kind="mention", team="T1", channel="C1", user="U1", ts="75.1",
                                          thread_ts="75.1", question=TSAT_Q, event_id="EvBusy")
    await answerer.inbox.mark_sending(item)
    item = await answerer.inbox.get(item.id)
    chatter = [{"type": "message", "ts": f"75.{1002 + i}", "thread_ts": "75.1", "user": "U2", "text": "+1"}
               for i in range(250)]
    fake_slack.messages["C1"] = [{"type": "message", "ts": "75.1", "user": "U1", "text": TSAT_Q}] + chatter
    assert await answerer.already_replied(item) is False
    assert len(fake_slack.of("conversations.replies")) == 2  # 251 messages: two pages of 200
    other = {"type": "message", "ts": "75.9000", "thread_ts": "75.1", "bot_id": "BBOT", "text": "x",
             "metadata": reply_metadata(item.id + 1)}  # another question's reply in the same thread
    mine = {**other, "ts": "75.9001", "metadata": reply_metadata(item.id)}
    fake_slack.messages["C1"].append(other)
    assert await answerer.already_replied(item) is False
    fake_slack.messages["C1"].append(mine)
    assert await answerer.already_replied(item) is True
