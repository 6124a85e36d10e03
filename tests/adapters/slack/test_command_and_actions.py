"""/policy (ephemeral answer + post-to-channel), feedback buttons, and "Ask <lead>"."""
from __future__ import annotations

import json

from adapters.escalation_wiring import ESCALATIONS
from adapters.slack import blocks as bk
from adapters.slack.channel import SLACK_ADAPTER
from bot.escalations.model import ASKED_BY_USER
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService
from bot.escalations.sqlite_store import SqliteStore

from tests.adapters.conftest import wait_ready

from .conftest import action_form, command_form, event_body, mention, post, signed, slack_inbox

FORM = "application/x-www-form-urlencoded"
TSAT_Q = "can I follow a parent back on insta?"


async def ask_by_command(client, base, fake_slack, text=TSAT_Q, trigger="tr1") -> dict:
    body = command_form(text, trigger=trigger)
    status, _ = await post(client, base, body, signed(body, content_type=FORM))
    assert status == 200
    return (await fake_slack.wait_for("chat.postEphemeral"))[-1]


def button_value(reply: dict, action_id: str) -> str:
    for b in reply["blocks"]:
        for e in b.get("elements", []) if b["type"] == "actions" else []:
            if e["action_id"] == action_id:
                return e["value"]
    raise AssertionError(f"no {action_id} button")


async def test_policy_command_answers_ephemerally_and_can_post_to_channel(slack_app, client, fake_slack):
    base, _ = await slack_app()
    reply = await ask_by_command(client, base, fake_slack, text=TSAT_Q + " <!channel>")
    assert reply["channel"] == "C1" and reply["user"] == "U1" and "5.4" in json.dumps(reply["blocks"])
    body = action_form(bk.POST_TO_CHANNEL, button_value(reply, bk.POST_TO_CHANNEL))
    assert (await post(client, base, body, signed(body, content_type=FORM)))[0] == 200
    (posted,) = await fake_slack.wait_for("chat.postMessage")
    text = json.dumps(posted["blocks"])
    assert posted["channel"] == "C1" and "5.4" in text and "<@U1>" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert posted["unfurl_links"] is False


async def test_policy_command_in_unmapped_workspace_says_not_set_up(slack_app, client, fake_slack):
    base, _ = await slack_app()
    body = command_form(TSAT_Q, team="T9")
    await post(client, base, body, signed(body, content_type=FORM))
    (reply,) = await fake_slack.wait_for("chat.postEphemeral")
    assert "isn't set up" in json.dumps(reply["blocks"]) and "5.4" not in json.dumps(reply["blocks"])


async def test_feedback_buttons_are_stored(slack_app, client, fake_slack, slack_settings):
    """The votes land in the shared feedback record, with the answer they are about."""
    base, app = await slack_app(escalations=True)
    await wait_ready(client, base)
    reply = await ask_by_command(client, base, fake_slack)
    ref = button_value(reply, bk.HELPFUL)
    for action, user in ((bk.HELPFUL, "U1"), (bk.NOT_HELPFUL, "U2")):
        body = action_form(action, ref, user=user)
        assert (await post(client, base, body, signed(body, content_type=FORM)))[0] == 200
    await fake_slack.wait_for("chat.postEphemeral", 3)
    rows = await app[ESCALATIONS].service.store.feedback(answer_ref=f"slack:{ref}")
    assert [(r.asker_id, r.helpful) for r in rows if r.event == "vote"] == [("U1", True), ("U2", False)]
    (answered,) = [r for r in rows if r.event == "answered"]
    assert (answered.school, answered.platform, answered.asker_id, answered.decision) == ("tsat", "slack", "U1",
                                                                                          "answer")
    assert "5.4" in answered.clauses and answered.question == TSAT_Q
    async with slack_inbox(slack_settings) as inbox:
        assert await inbox.feedback(await inbox.get(int(ref))) == []  # not the fallback


async def test_a_second_press_changes_the_vote(slack_app, client, fake_slack):
    base, app = await slack_app(escalations=True)
    await wait_ready(client, base)
    ev = event_body("EvFb", mention(TSAT_Q, ts="41.1"))
    await post(client, base, ev, signed(ev))
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    ref = button_value(reply, bk.HELPFUL)
    for action in (bk.HELPFUL, bk.NOT_HELPFUL):
        body = action_form(action, ref, user="U7")
        await post(client, base, body, signed(body, content_type=FORM))
    await fake_slack.wait_for("chat.postEphemeral", 2)
    votes = [r for r in await app[ESCALATIONS].service.store.feedback(answer_ref=f"slack:{ref}") if r.event == "vote"]
    assert [(r.asker_id, r.helpful) for r in votes] == [("U7", False)]
    report = await app[ESCALATIONS].service.feedback_report(school="tsat")
    assert report["tsat"].totals.as_dict() == {"answered": 1, "helpful": 0, "not_helpful": 1, "escalated": 0}


async def test_feedback_without_the_escalation_service_is_kept_in_the_inbox(slack_app, client, fake_slack,
                                                                            slack_settings):
    base, _ = await slack_app()
    reply = await ask_by_command(client, base, fake_slack)
    ref = button_value(reply, bk.HELPFUL)
    for action, user in ((bk.HELPFUL, "U1"), (bk.NOT_HELPFUL, "U2")):
        body = action_form(action, ref, user=user)
        assert (await post(client, base, body, signed(body, content_type=FORM)))[0] == 200
    await fake_slack.wait_for("chat.postEphemeral", 3)
    async with slack_inbox(slack_settings) as inbox:
        assert await inbox.feedback(await inbox.get(int(ref))) == [("U1", True), ("U2", False)]


async def test_ask_lead_button_creates_one_escalation(slack_app, client, fake_slack, tmp_path):
    base, app = await slack_app()
    store = await SqliteStore(tmp_path / "esc.sqlite3").open()
    try:
        app[SLACK_ADAPTER].escalations = EscalationService(store, NotifierRegistry())
        ev = event_body("EvAsk", mention(TSAT_Q, ts="40.1"))
        await post(client, base, ev, signed(ev))
        (reply,) = await fake_slack.wait_for("chat.postMessage")
        body = action_form(bk.ASK_LEAD, button_value(reply, bk.ASK_LEAD))
        for _ in range(2):  # a double click escalates once
            await post(client, base, body, signed(body, content_type=FORM))
        notes = await fake_slack.wait_for("chat.postEphemeral", 2)
        # No notifier here reaches the lead: recorded, and the asker is told it was not sent.
        assert "Not sent" in notes[-1]["text"] and "directly" in notes[-1]["text"]
        (esc,) = await store.list()
        assert esc.reason == ASKED_BY_USER and esc.school == "tsat" and esc.question == TSAT_Q
        assert (esc.asker.platform, esc.asker.user_id, esc.asker.conversation, esc.asker.thread) == \
            ("slack", "U1", "C1", "40.1")
    finally:
        await store.close()


async def test_two_presses_handled_out_of_order_keep_the_later_one(slack_app, client, fake_slack):
    """Slack says when each press happened (action_ts); the vote that stands is the later press,
    whichever request the bot handled last."""
    import json
    from urllib.parse import parse_qs, urlencode

    base, app = await slack_app(escalations=True)
    await wait_ready(client, base)
    reply = await ask_by_command(client, base, fake_slack)
    ref = button_value(reply, bk.HELPFUL)
    later = action_form(bk.NOT_HELPFUL, ref, user="U1")
    earlier = json.loads(parse_qs(action_form(bk.HELPFUL, ref, user="U1"))["payload"][0])
    earlier["actions"][0]["action_ts"] = f"{float(json.loads(parse_qs(later)['payload'][0])['actions'][0]['action_ts']) - 5:.6f}"
    earlier = urlencode({"payload": json.dumps(earlier)})
    for body in (later, earlier):  # the earlier press arrives last
        assert (await post(client, base, body, signed(body, content_type=FORM)))[0] == 200
    await fake_slack.wait_for("chat.postEphemeral", 3)
    rows = await app[ESCALATIONS].service.store.feedback(answer_ref=f"slack:{ref}")
    assert [(r.asker_id, r.helpful) for r in rows if r.event == "vote"] == [("U1", False)]
