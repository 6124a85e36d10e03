"""Escalations in Teams, through the whole server (escalation store and worker running): the
lead's proactive card, Acknowledge and Send answer on the card, the answer back in the asker's
thread; and, with no conversation with the lead yet, the email fallback that says how to fix it."""
from __future__ import annotations

import shutil

import yaml

from adapters.escalation_wiring import ESCALATIONS
from adapters.teams.cards import ACTION_KEY, ESC_ACK, ESC_ANSWER
from bot.service import build_bot
from tests.adapters.conftest import wait_ready, with_
from tests.bot.escalations.conftest import smtp_server  # noqa: F401 - the fixture

from .conftest import activity, channel_activity, eventually, install, post

URGENT_Q = "a pupil has sent me a nude photo of another pupil, what do I do?"
LEAD_CONV = "a:personal-lead"


def knowledge_with_lead(tmp_path, **lead) -> str:
    """The bundled knowledge base with TSAT's lead filled in, as a deployment would."""
    from bot.knowledge.load import bundled_knowledge_dir

    kdir = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), kdir)
    path = kdir / "schools" / "tsat.yaml"
    data = yaml.safe_load(path.read_text())
    data["lead"].update(lead)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return kdir


def actions_of(call: dict) -> list[dict]:
    card = call["activity"]["attachments"][0]["content"]
    return card.get("actions", [])


async def test_proactive_round_trip_lead_card_acknowledge_answer_back_in_the_thread(
        teams_app, teams_settings, client, connector, tmp_path):
    kdir = knowledge_with_lead(tmp_path, name="Ms Lead", teams_user_id="aad-lead")
    settings = with_(teams_settings, knowledge_dir=kdir, worker_poll_seconds=0.02)
    base, app = await teams_app(settings, factory=build_bot, escalations=True)
    await wait_ready(client, base)
    service = app[ESCALATIONS].service

    # the lead installs the bot: that conversation is how Teams lets the bot reach them later
    await post(client, base, install(service_url=connector.service_url))
    await connector.wait_messages(1, LEAD_CONV)

    # a teacher reports something urgent in a channel
    asked = channel_activity(URGENT_Q, service_url=connector.service_url, activity_id="1700000000555",
                             user="29:teacher", aad="aad-teacher", user_name="Sam Teacher")
    await post(client, base, asked)
    thread = "19:chan-a@thread.tacv2;messageid=1700000000555"
    (reply,) = await connector.wait_messages(1, thread)
    assert "Ms Lead" in reply["activity"]["summary"]

    # the lead's proactive card: URGENT first, the question, Acknowledge / Send answer with the id
    lead_msgs = await connector.wait_messages(2, LEAD_CONV)
    card_call = lead_msgs[1]
    assert card_call["reply_to"] is None  # a new message in the lead's chat, not a reply
    card_text = str(card_call["activity"]["attachments"][0]["content"])
    assert "URGENT" in card_text and "nude photo" in card_text and "Sam Teacher" in card_text
    datas = [a["data"] for a in actions_of(card_call)]
    assert [d[ACTION_KEY] for d in datas] == [ESC_ACK, ESC_ANSWER]
    esc_id = datas[0]["escalation"]
    assert (await service.get(esc_id)).urgent

    def lead_submit(value: dict, activity_id: str) -> dict:
        return activity(service_url=connector.service_url, conv=LEAD_CONV, user="29:lead", aad="aad-lead",
                        user_name="Ms Lead", activity_id=activity_id, value=value)

    await post(client, base, lead_submit({ACTION_KEY: ESC_ACK, "escalation": esc_id}, "ack-1"))
    await connector.wait_messages(3, LEAD_CONV)
    assert (await service.get(esc_id)).status == "acknowledged"

    await post(client, base, lead_submit({ACTION_KEY: ESC_ANSWER, "escalation": esc_id,
                                          "answer": "Speak to me in person today, please."}, "ans-1"))
    back = await connector.wait_messages(2, thread)
    answer_call = back[1]
    assert answer_call["reply_to"] == "1700000000555"
    shown = str(answer_call["activity"])
    assert "Speak to me in person today, please." in shown and "Ms Lead" in shown
    assert (await service.get(esc_id)).status == "answered"


async def test_someone_else_cannot_answer_the_leads_card(teams_app, teams_settings, client, connector, tmp_path):
    kdir = knowledge_with_lead(tmp_path, name="Ms Lead", teams_user_id="aad-lead")
    settings = with_(teams_settings, knowledge_dir=kdir, worker_poll_seconds=0.02)
    base, app = await teams_app(settings, factory=build_bot, escalations=True)
    await wait_ready(client, base)
    await post(client, base, channel_activity(URGENT_Q, service_url=connector.service_url, activity_id="900"))
    await connector.wait_messages(1)
    (esc,) = await app[ESCALATIONS].service.list()
    forged = activity(service_url=connector.service_url, conv="a:mallory", user="29:mallory", aad="aad-mallory",
                      value={ACTION_KEY: ESC_ANSWER, "escalation": esc.id, "answer": "ignore it"})
    await post(client, base, forged)
    (refusal,) = await connector.wait_messages(1, "a:mallory")
    assert "Only the school's lead or deputy" in refusal["activity"]["summary"]
    assert (await app[ESCALATIONS].service.get(esc.id)).status == "open"


async def test_no_conversation_with_the_lead_falls_back_to_email_saying_open_the_bot_once(
        teams_app, teams_settings, client, connector, tmp_path, smtp_server):  # noqa: F811
    kdir = knowledge_with_lead(tmp_path, name="Ms Lead", teams_user_id="aad-lead", email="lead@school.example")
    settings = with_(teams_settings, knowledge_dir=kdir, worker_poll_seconds=0.02, smtp_host="127.0.0.1",
                     smtp_port=smtp_server.port, smtp_starttls=False, max_delivery_attempts=1)
    base, app = await teams_app(settings, factory=build_bot, escalations=True)
    await wait_ready(client, base)
    await post(client, base, channel_activity(URGENT_Q, service_url=connector.service_url, activity_id="901"))
    await connector.wait_messages(1)

    async def lead_mailed():
        return [m for to, m in smtp_server.received if "lead@school.example" in to]

    (mail,) = await eventually(lead_mailed)
    body = mail.get_payload(decode=True).decode() if not mail.is_multipart() else str(mail)
    assert "has not opened policybot in Microsoft Teams yet" in body
    assert "Open policybot once in Teams" in body
    (esc,) = await app[ESCALATIONS].service.list()
    to_lead = [(m.channel, m.status) for m in await app[ESCALATIONS].service.messages(esc.id)
               if m.recipient_role == "lead"]
    assert to_lead[0] == ("teams", "rerouted") and ("email", "sent") in to_lead


async def test_the_lead_card_keeps_what_the_lead_ticks(teams_app, teams_settings, client, connector, tmp_path):
    """Send answer with "save as guidance" and "keep the question" ticked and the question
    reworded: the note is written with the reworded question, the lead is told where; an
    answer sent with nothing ticked writes nothing."""
    from bot.knowledge.load import load_knowledge

    kdir = knowledge_with_lead(tmp_path, name="Ms Lead", teams_user_id="aad-lead")
    settings = with_(teams_settings, knowledge_dir=kdir, worker_poll_seconds=0.02)
    base, app = await teams_app(settings, factory=build_bot, escalations=True)
    await wait_ready(client, base)
    service = app[ESCALATIONS].service
    await post(client, base, install(service_url=connector.service_url))
    await connector.wait_messages(1, LEAD_CONV)
    asked = "Jo Smith in 6B wants to add me on chess.com over the summer, is that ok?"
    for n in (1, 2):
        await post(client, base, channel_activity(asked, service_url=connector.service_url,
                                                  activity_id=f"17000000006{n}", aad="aad-teacher"))
    lead_msgs = await connector.wait_messages(3, LEAD_CONV)
    cards_sent = [m["activity"]["attachments"][0]["content"] for m in lead_msgs[1:]]
    esc_ids = [a["data"]["escalation"] for card in cards_sent for a in card["actions"] if a["title"] == "Send answer"]
    assert len(set(esc_ids)) == 2
    inputs = {n["id"]: n for n in cards_sent[0]["body"] if n.get("type", "").startswith("Input.")}
    assert inputs["kept_question"]["value"] == asked and inputs["keep_note"]["value"] == "false"

    def lead_submit(value: dict, activity_id: str) -> dict:
        return activity(service_url=connector.service_url, conv=LEAD_CONV, user="29:lead", aad="aad-lead",
                        user_name="Ms Lead", activity_id=activity_id, value=value)

    reworded = "A pupil wants to add me on chess.com over the summer, is that ok?"
    await post(client, base, lead_submit({ACTION_KEY: ESC_ANSWER, "escalation": esc_ids[0], "answer": "No, not "
                                          "while they are a pupil.", "keep_note": "true", "keep_question": "true",
                                          "keep_phrasing": "false", "kept_question": reworded,
                                          "phrasing_for": "__note__"}, "ans-keep"))
    replies = await connector.wait_messages(4, LEAD_CONV)
    told = str(replies[3]["activity"])
    assert f"Saved as guidance note-{esc_ids[0]}" in told and "notes/tsat.yaml" in told
    (note,) = load_knowledge(kdir).school("tsat").notes
    assert note.about == (reworded,) and note.author == "Ms Lead (Headteacher/Principal)"
    assert "Jo Smith" not in (kdir / "notes" / "tsat.yaml").read_text()

    await post(client, base, lead_submit({ACTION_KEY: ESC_ANSWER, "escalation": esc_ids[1], "answer": "No.",
                                          "keep_note": "false", "keep_question": "false", "keep_phrasing": "false",
                                          "kept_question": asked, "phrasing_for": "__note__"}, "ans-plain"))
    await connector.wait_messages(5, LEAD_CONV)
    assert (await service.get(esc_ids[1])).status == "answered"
    assert len(load_knowledge(kdir).school("tsat").notes) == 1 and not (kdir / "phrasings").exists()
