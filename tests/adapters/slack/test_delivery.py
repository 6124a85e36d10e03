"""A Slack reply states what really happened to the escalation it made (real signed events,
the real server with its outbox worker, the fake Web API on loopback)."""
from __future__ import annotations

import json

from adapters.slack.channel import slack_channel
from tests.adapters.conftest import eventually, wait_ready, with_
from tests.adapters.test_delivery_truth import URGENT_Q, with_contacts

from .conftest import event_body, mention, post, signed


async def test_slack_reply_names_who_was_told_by_slack(serve_app, slack_settings, client, fake_slack, tmp_path,
                                                       bundled_bot):
    bot = with_contacts(bundled_bot, "tsat", slack_user_id="ULEAD")
    s = with_(slack_settings, db_path=tmp_path / "policybot.sqlite3")
    base, app = await serve_app(s, channels=[slack_channel(s)], escalations=True, factory=lambda _s: bot)
    await wait_ready(client, base)
    ev = event_body("EvUrgent", mention(URGENT_Q, ts="60.1"))
    assert (await post(client, base, ev, signed(ev)))[0] == 200
    replies = await eventually(lambda: _replies_in(fake_slack, "C1"))
    text = json.dumps(replies[-1]["blocks"])
    assert "policybot has told the Headteacher/Principal by Slack, marked urgent" in text
    dms = [p for p in fake_slack.of("chat.postMessage") if p["channel"] == "DULEAD"]
    assert dms and dms[0]["blocks"][0]["text"]["text"].startswith(":rotating_light: *URGENT")


async def _replies_in(fake_slack, channel):
    return [p for p in fake_slack.of("chat.postMessage") if p["channel"] == channel] or None




async def test_slack_off_topic_is_not_escalated_and_offers_ask_anyway(serve_app, slack_settings, client, fake_slack,
                                                                     tmp_path):
    from adapters.escalation_wiring import ESCALATIONS

    s = with_(slack_settings, db_path=tmp_path / "policybot.sqlite3")
    base, app = await serve_app(s, channels=[slack_channel(s)], escalations=True)
    await wait_ready(client, base)
    ev = event_body("EvOff", mention("what time is the staff christmas party on friday?", ts="61.1"))
    assert (await post(client, base, ev, signed(ev)))[0] == 200
    replies = await eventually(lambda: _replies_in(fake_slack, "C1"))
    text = json.dumps(replies[-1]["blocks"])
    assert "has not been sent to anyone" in text and "anyway" in text
    assert await app[ESCALATIONS].service.list() == []
