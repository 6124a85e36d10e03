"""Escalations in Slack: the lead's DM (urgent marked at the top), Acknowledge, the Answer modal,
and the lead's answer posted in the asker's thread, through real signed requests."""
from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlencode

from adapters.slack.channel import SLACK_ADAPTER
from adapters.slack.notifier import ESC_ACK, ESC_ANSWER, ESC_ANSWER_VIEW, register_slack_notifier
from bot.escalations.model import ANSWER_TO_ASKER, Asker
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService
from bot.escalations.sqlite_store import SqliteStore

from .conftest import action_form, eventually, post, signed

FORM = "application/x-www-form-urlencoded"


async def deliver(service, notifier, esc_id, kind=None):
    esc = await service.get(esc_id)
    for m in await service.messages(esc_id):
        if m.channel == "slack" and (kind is None or m.kind == kind):
            await notifier.send(m, esc)


async def test_lead_dm_acknowledge_answer_modal_and_reply_in_thread(slack_app, client, fake_slack, tmp_path,
                                                                      bundled_bot):
    base, app = await slack_app()
    store = await SqliteStore(tmp_path / "esc.sqlite3").open()
    try:
        registry = NotifierRegistry()
        answerer = app[SLACK_ADAPTER]
        notifier = register_slack_notifier(registry, answerer.client)
        service = answerer.escalations = EscalationService(store, registry)
        answer = bundled_bot.answer("tsat", "a pupil has sent me a nude photo of another pupil, what do I do?")
        answer = dataclasses.replace(answer, lead=dataclasses.replace(answer.lead, slack_user_id="ULEAD"),
                                     deputy=dataclasses.replace(answer.deputy, slack_user_id="UDEP"))
        esc = await service.escalate(answer, "a pupil sent <!channel> a photo", Asker("slack", "U1", "C1", "50.1"))
        await deliver(service, notifier, esc.id)
        assert {p["users"] for p in fake_slack.of("conversations.open")} >= {"ULEAD"}
        dm = [p for p in fake_slack.of("chat.postMessage") if p["channel"] == "DULEAD"][0]
        text = json.dumps(dm["blocks"])
        assert dm["blocks"][0]["text"]["text"].startswith(":rotating_light: *URGENT")
        assert "&lt;!channel&gt;" in text and "<!channel>" not in text and "<@U1>" in text

        ack = action_form(ESC_ACK, esc.id, channel="DULEAD", user="ULEAD")
        assert (await post(client, base, ack, signed(ack, content_type=FORM)))[0] == 200
        await fake_slack.wait_for("chat.postEphemeral")
        assert (await service.get(esc.id)).status == "acknowledged"

        open_modal = action_form(ESC_ANSWER, esc.id, channel="DULEAD", user="ULEAD")
        await post(client, base, open_modal, signed(open_modal, content_type=FORM))
        (opened,) = await fake_slack.wait_for("views.open")
        view = opened["view"]
        assert view["callback_id"] == ESC_ANSWER_VIEW and view["private_metadata"] == esc.id

        submission = {"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "ULEAD", "name": "whold"},
                      "api_app_id": "A1", "trigger_id": "t3",
                      "view": {**view, "id": "V1", "state": {"values": {"answer": {"text": {
                          "type": "plain_text_input", "value": "Speak to me in person today, please."}}}}}}
        form = urlencode({"payload": json.dumps(submission)})
        assert (await post(client, base, form, signed(form, content_type=FORM)))[0] == 200

        async def answered():  # the submission is acknowledged first (Slack's 3 s), then recorded
            return (await service.get(esc.id)).status == "answered"

        assert await eventually(answered)
        before = len(fake_slack.of("chat.postMessage"))
        await deliver(service, notifier, esc.id, ANSWER_TO_ASKER)
        reply = fake_slack.of("chat.postMessage")[before]
        assert reply["channel"] == "C1" and reply["thread_ts"] == "50.1"
        assert "Speak to me in person today" in reply["text"] and "whold" in reply["text"]
    finally:
        await store.close()
