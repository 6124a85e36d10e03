"""The inbox: questions stored before the ack are answered once, across redeliveries and restarts."""
from __future__ import annotations

import logging

from adapters.slack.inbox import Inbox

from .conftest import eventually, event_body, mention, post, signed

TSAT_Q = "can I follow a parent back on insta?"


async def test_question_stored_by_a_crashed_run_is_answered_on_start(slack_app, fake_slack, slack_settings):
    inbox = Inbox(slack_settings.db_path).open()
    item, new = await inbox.record(kind="mention", team="T1", channel="C1", user="U1", ts="19.5",
                                   thread_ts="19.5", question=TSAT_Q, event_id="EvCrash")
    inbox.close()
    assert new
    await slack_app()
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["channel"] == "C1" and reply["thread_ts"] == "19.5" and "5.4" in str(reply["blocks"])

    async def all_answered():  # marked answered once Slack has it
        return not await Inbox(slack_settings.db_path).unanswered()

    await eventually(all_answered)


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


async def test_reply_that_fails_after_all_retries_stays_pending_and_is_answered_on_restart(
        slack_app, client, fake_slack, slack_settings, caplog):
    caplog.set_level(logging.INFO, logger="policybot.slack")
    fake_slack.fail("chat.postMessage", 4, 500)  # 1 try + 3 retries
    base, _ = await slack_app()
    body = event_body("EvDown", mention(TSAT_Q, ts="22.1"))
    await post(client, base, body, signed(body))

    async def gave_up():
        return fake_slack.attempts.count("chat.postMessage") >= 4 and "reply failed" in caplog.text

    await eventually(gave_up)
    assert fake_slack.of("chat.postMessage") == []
    assert [p.event_id for p in await Inbox(slack_settings.db_path).unanswered()] == ["EvDown"]
    await slack_app()  # restart: the replay answers it
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "22.1"
