"""Slack questions are rate-limited per Slack user (the workspace's users share Slack's addresses):
over the limit the asker is told the question was not answered or passed on; others are unaffected."""
from __future__ import annotations

import json

from .conftest import event_body, eventually, mention, post, signed, stored, with_

Q = "can I follow a parent back on insta?"
LIMITED = "not answered or passed on"


async def test_rate_limit_is_per_slack_user(slack_app, slack_settings, client, fake_slack):
    settings = with_(slack_settings, rate_limit_per_minute=2)
    base, _ = await slack_app(settings)
    for i in range(3):
        body = event_body(f"EvU1-{i}", mention(Q, ts=f"1700000001.00000{i}", user="U1"))
        assert (await post(client, base, body, signed(body)))[0] == 200
    body = event_body("EvU2", mention(Q, ts="1700000002.000000", user="U2"))
    assert (await post(client, base, body, signed(body)))[0] == 200
    replies = await fake_slack.wait_for("chat.postMessage", 4)
    by_thread = {r["thread_ts"]: json.dumps(r["blocks"]) for r in replies}
    u1 = [by_thread[f"1700000001.00000{i}"] for i in range(3)]
    assert sum(LIMITED in text for text in u1) == 1           # U1's third question within the minute
    assert sum("5.4" in text for text in u1) == 2               # the other two answered
    assert LIMITED not in by_thread["1700000002.000000"] and "5.4" in by_thread["1700000002.000000"]
    limited = next(text for text in u1 if LIMITED in text)
    assert "safeguarding lead" in limited and "Please ask again in about" in limited

    async def all_done():
        return all(item.status == "answered" for item in await stored(settings, "slack"))
    await eventually(all_done)  # the limited question is done with: not answered again on restart


async def test_policy_command_counts_against_the_same_person(slack_app, slack_settings, client, fake_slack):
    from .conftest import command_form

    settings = with_(slack_settings, rate_limit_per_minute=1)
    base, _ = await slack_app(settings)
    body = event_body("EvC1", mention(Q, ts="1700000003.000000", user="U7"))
    await post(client, base, body, signed(body))
    await fake_slack.wait_for("chat.postMessage")
    form = command_form(Q, user="U7", trigger="tr-limited", response_url=fake_slack.response_url)
    status, _ = await post(client, base, form, signed(form, content_type="application/x-www-form-urlencoded"))
    assert status == 200
    (responded,) = await fake_slack.wait_for("response_url")
    assert LIMITED in json.dumps(responded["blocks"])
