"""The inbox: questions stored before the ack are answered once, across redeliveries and restarts."""
from __future__ import annotations

import logging

from adapters.slack.channel import SLACK_ADAPTER

from ..conftest import with_
from .conftest import eventually, event_body, mention, post, signed, slack_inbox

TSAT_Q = "can I follow a parent back on insta?"


async def test_question_stored_by_a_crashed_run_is_answered_on_start(slack_app, fake_slack, slack_settings):
    # stored and held by a process that then died: its lease (here one already over) ran out
    async with slack_inbox(slack_settings, clock=lambda: 1_000_000.0) as inbox:
        item, new = await inbox.record(kind="mention", team="T1", channel="C1", user="U1", ts="19.5",
                                       thread_ts="19.5", question=TSAT_Q, event_id="EvCrash")
    assert new and item.stored.claim_token
    await slack_app()
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["channel"] == "C1" and reply["thread_ts"] == "19.5" and "5.4" in str(reply["blocks"])

    async def all_answered():  # marked answered once Slack has it
        async with slack_inbox(slack_settings) as inbox:
            return not await inbox.unanswered()

    await eventually(all_answered)


async def test_a_question_held_by_a_live_process_is_not_answered_by_another(slack_app, fake_slack, slack_settings):
    async with slack_inbox(slack_settings) as inbox:  # held now, by a process that is alive and answering
        item, _ = await inbox.record(kind="mention", team="T1", channel="C1", user="U1", ts="19.6",
                                     thread_ts="19.6", question=TSAT_Q, event_id="EvHeld")
        _, app = await slack_app()
        for _ in range(20):  # however often the other process sweeps
            assert await app[SLACK_ADAPTER].replay() == 0
            assert await inbox.shared.hold(item.stored)  # the holder renews its lease, as a live one does
    assert fake_slack.of("chat.postMessage") == []


async def test_redelivery_is_answered_once_across_a_restart(slack_app, client, fake_slack, caplog):
    caplog.set_level(logging.INFO, logger="policybot.slack")
    base1, _ = await slack_app()
    body = event_body("EvR", mention(TSAT_Q, ts="20.1"))
    assert (await post(client, base1, body, signed(body)))[0] == 200
    await fake_slack.wait_for("chat.postMessage")
    # a second process on the same store (the restart) gets Slack's retries of the same event
    base2, _ = await slack_app()
    for n in (1, 2, 3):
        assert (await post(client, base2, body, signed(body, retry=n)))[0] == 200
    assert caplog.text.count("slack duplicate dropped: event=EvR") == 3
    other = event_body("EvS", mention(TSAT_Q, ts="20.2"))
    await post(client, base2, other, signed(other))
    replies = await fake_slack.wait_for("chat.postMessage", 2)
    assert sorted(r["thread_ts"] for r in replies) == ["20.1", "20.2"]


async def test_first_seen_delivery_with_a_retry_header_is_answered(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = event_body("EvFirstRetry", mention(TSAT_Q, ts="21.1"))
    assert (await post(client, base, body, signed(body, retry=2)))[0] == 200
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "21.1"


async def test_reply_that_fails_after_all_retries_stays_pending_and_is_tried_again_later(
        slack_app, client, fake_slack, slack_settings, caplog):
    caplog.set_level(logging.INFO, logger="policybot.slack")
    fake_slack.fail("chat.postMessage", 4, 500)  # 1 try + 3 retries
    base, _ = await slack_app(with_(slack_settings, retry_base_seconds=600))
    body = event_body("EvDown", mention(TSAT_Q, ts="22.1"))
    await post(client, base, body, signed(body))

    async def gave_up():
        return fake_slack.attempts.count("chat.postMessage") >= 4 and "tried again in 600 s" in caplog.text

    await eventually(gave_up)
    assert fake_slack.of("chat.postMessage") == []
    async with slack_inbox(slack_settings) as inbox:
        (waiting,) = await inbox.unanswered()
        assert waiting.event_id == "EvDown" and waiting.stored.lease_until > waiting.stored.created_at + 500
        await inbox.shared.release(waiting.stored)  # as if the 10 minutes were over
    await slack_app()  # another process (or the restart) takes it at its next sweep
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "22.1"
