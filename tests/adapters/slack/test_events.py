"""Slack events over real signed HTTP into the real server: mentions in threads, DMs, the
school mapping, signature checks (and what they log), url_verification, escaping."""
from __future__ import annotations

import asyncio
import json
import logging
import time


from .conftest import BOT_USER, channel_message, dm, event_body, mention, post, signed, stored

TSAT_Q = "can I follow a parent back on insta?"
SECRET_Q = "can I message Jenny Smith-Example on snapchat about her homework?"


def all_text(blocks: list[dict]) -> str:
    return json.dumps(blocks)


async def test_mention_is_answered_in_its_thread_with_cited_clause(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = event_body("Ev1", mention(TSAT_Q, ts="1700000000.000100"))
    status, _ = await post(client, base, body, signed(body))
    assert status == 200
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["channel"] == "C1" and reply["thread_ts"] == "1700000000.000100"
    assert reply["unfurl_links"] is False and reply["unfurl_media"] is False
    text = all_text(reply["blocks"])
    assert "Thinking Schools Academy Trust" in text and "*5.4*" in text and "not allowed" in text
    actions = [b for b in reply["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [a["text"]["text"] for a in actions][:2] == ["Helpful", "Not helpful"]
    assert actions[2]["text"]["text"].startswith("Ask ")


async def test_mention_inside_a_thread_replies_in_that_thread(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = event_body("Ev2", mention(TSAT_Q, ts="1700000000.000300", thread_ts="1700000000.000001"))
    await post(client, base, body, signed(body))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "1700000000.000001"


async def test_direct_message_is_answered_in_the_dm(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = event_body("Ev3", dm(TSAT_Q))
    assert (await post(client, base, body, signed(body)))[0] == 200
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["channel"] == "D1" and "thread_ts" not in reply
    assert "5.4" in all_text(reply["blocks"])


async def test_unmapped_workspace_and_channel_get_not_set_up_never_another_school(slack_app, client, fake_slack):
    base, _ = await slack_app()
    for i, (team, channel) in enumerate([("T9", "C1"), ("T2", "C1")]):
        body = event_body(f"EvU{i}", mention(TSAT_Q, channel=channel, team=team, ts=f"17.{i}"), team=team)
        assert (await post(client, base, body, signed(body)))[0] == 200
    replies = await fake_slack.wait_for("chat.postMessage", 2)
    for reply in replies:
        text = all_text(reply["blocks"])
        assert "isn't set up" in text
        assert "5.4" not in text and "Academy" not in text and "Kingsmead" not in text


async def test_team_channel_entry_picks_the_academy(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = event_body("EvK", mention(TSAT_Q, channel="C9", team="T2"), team="T2")
    await post(client, base, body, signed(body))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert "Kingsmead" in all_text(reply["blocks"])


async def test_bad_signature_is_rejected_and_no_question_text_is_logged(slack_app, client, fake_slack, caplog,
                                                                         slack_settings):
    caplog.set_level(logging.DEBUG)
    base, app = await slack_app()
    body = event_body("EvBad", mention(SECRET_Q))
    for headers in (signed(body, secret="wrong"), signed(body, ts=int(time.time()) - 3600),
                    {"Content-Type": "application/json"}):
        status, _ = await post(client, base, body, headers)
        assert status == 401
    assert "Jenny" not in caplog.text and "snapchat" not in caplog.text
    assert "bad or stale signature" in caplog.text
    assert await stored(slack_settings, "slack") == []
    assert fake_slack.of("chat.postMessage") == []


async def test_answers_log_ids_not_question_text(slack_app, client, fake_slack, caplog):
    caplog.set_level(logging.DEBUG)
    base, _ = await slack_app()
    body = event_body("EvLog", mention(SECRET_Q))
    await post(client, base, body, signed(body))
    await fake_slack.wait_for("chat.postMessage")
    # The decision line is written once the reply call returns, which can be just after the fake
    # server has seen it: wait for the line (bounded), then check what it says.
    for _ in range(500):
        if "slack answer: inbox=" in caplog.text:
            break
        await asyncio.sleep(0.01)
    assert "Jenny" not in caplog.text and "slack answer: inbox=" in caplog.text


async def test_url_verification_challenge(slack_app, client):
    base, _ = await slack_app()
    body = json.dumps({"token": "x", "challenge": "abc123", "type": "url_verification"})
    status, text = await post(client, base, body, signed(body))
    assert status == 200 and "abc123" in text


async def test_other_channel_chatter_is_ignored(slack_app, client, fake_slack):
    base, _ = await slack_app()
    chatter = {"type": "message", "channel_type": "channel", "user": "U1", "text": "lunch?", "ts": "18.1",
               "channel": "C1"}
    body = event_body("EvChat", chatter)
    assert (await post(client, base, body, signed(body)))[0] == 200
    # a real question afterwards is answered, and it is the only reply
    body = event_body("EvQ", dm(TSAT_Q))
    await post(client, base, body, signed(body))
    assert len(await fake_slack.wait_for("chat.postMessage")) == 1
    assert fake_slack.of("chat.postMessage")[0]["channel"] == "D1"


async def test_pings_in_the_question_never_reach_the_reply(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = event_body("EvPing", dm("<!channel> <!here> <@U2> <https://evil.example|x> can I follow a parent back on insta?"))
    await post(client, base, body, signed(body))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    text = all_text(reply["blocks"]) + reply["text"]
    for markup in ("<!channel>", "<!here>", "<@U2>", "<https://"):
        assert markup not in text
    assert BOT_USER not in text


async def test_channel_message_copy_of_a_mention_gets_one_reply(slack_app, client, fake_slack, slack_settings):
    base, _ = await slack_app()
    ts = "1700000000.000900"
    first = event_body("EvM1", mention(TSAT_Q, ts=ts))
    second = event_body("EvM2", channel_message(TSAT_Q, ts=ts))
    for body in (first, second):
        assert (await post(client, base, body, signed(body)))[0] == 200
    await fake_slack.wait_for("chat.postMessage")
    # the copy was dropped before its ack: the store holds one question for (channel, ts)
    assert [i.alt_key for i in await stored(slack_settings, "slack")] == ["EvM1"]
