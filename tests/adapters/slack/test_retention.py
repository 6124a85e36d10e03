"""Retention through the server: the escalation worker's purge blanks the text of answered Slack
questions after POLICYBOT_RETENTION_DAYS (the store-level rules are tested in
tests/bot/escalations/test_inbox_store.py), and a button on a purged answer asks to ask again."""
from __future__ import annotations

import json

from adapters.slack import blocks as bk

from ..conftest import with_
from .conftest import action_form, eventually, event_body, mention, opened_store, post, signed, slack_inbox, stored

FORM = "application/x-www-form-urlencoded"
Q = "can I message Jenny Smith-Example on snapchat about her homework?"


async def store(inbox, event_id: str, ts: str, answered: bool = True):
    item, new = await inbox.record(kind="mention", team="T1", channel="C1", user="U1", ts=ts, thread_ts=ts,
                                   question=Q, event_id=event_id, claim=False)
    assert new
    if answered:
        await inbox.mark_answered(item)
    return item


async def test_server_start_purges_an_old_answered_question(slack_app, slack_settings, fake_slack):
    async with slack_inbox(slack_settings, clock=lambda: 1_000_000.0) as inbox:  # answered in 1970
        await store(inbox, "EvAncient", "4.1")
    await slack_app(with_(slack_settings, retention_days=30), escalations=True)

    async def blanked():
        (item,) = await stored(slack_settings, "slack")
        return item.question == "" and item.purged_at

    await eventually(blanked)
    assert fake_slack.of("chat.postMessage") == []  # answered long ago: nothing replayed


async def test_purged_question_is_still_deduped_on_redelivery(slack_app, client, slack_settings, fake_slack):
    async with slack_inbox(slack_settings, clock=lambda: 1_000_000.0) as inbox:
        await store(inbox, "EvP", "2.1")
    base, _ = await slack_app(with_(slack_settings, retention_days=30), escalations=True)

    async def blanked():
        return (await stored(slack_settings, "slack"))[0].question == ""

    await eventually(blanked)
    for event_id in ("EvP", "EvP-message-copy"):  # the same event, and the same message under another id
        body = event_body(event_id, mention(Q, ts="2.1"))
        assert (await post(client, base, body, signed(body, retry=1)))[0] == 200
    assert len(await stored(slack_settings, "slack")) == 1 and fake_slack.of("chat.postMessage") == []


async def test_ask_lead_on_a_purged_answer_asks_to_ask_again(slack_app, client, fake_slack, slack_settings):
    base, _ = await slack_app()
    body = event_body("EvOldAsk", mention("can I follow a parent back on insta?", ts="5.1"))
    await post(client, base, body, signed(body))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    ref = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]
           if e["action_id"] == bk.ASK_LEAD][0]["value"]

    async def answered():
        return all(i.status == "answered" for i in await stored(slack_settings, "slack"))

    await eventually(answered)
    async with opened_store(slack_settings) as db:  # the worker's hourly purge, far in the future
        await db.purge(4_000_000_000.0 - slack_settings.retention_days * 86400, 4_000_000_000.0)
    form = action_form(bk.ASK_LEAD, ref)
    assert (await post(client, base, form, signed(form, content_type=FORM)))[0] == 200
    (note,) = await fake_slack.wait_for("chat.postEphemeral")
    assert "retention period" in note["text"] and "Jenny" not in json.dumps(fake_slack.calls)
