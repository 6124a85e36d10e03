"""The lead's Answer modal keeps what the lead ticks, through real signed requests: the modal
offers the question as asked for rewording; a submission with "save as guidance" writes the note
(with the reworded question only when that box is ticked) and the lead is told where; without a
tick nothing is written; an emptied question box is shown as an error in the modal, nothing sent."""
from __future__ import annotations

import dataclasses
import json
import shutil
from urllib.parse import urlencode

import pytest

from adapters.slack.channel import SLACK_ADAPTER
from adapters.slack.notifier import ESC_ANSWER, register_slack_notifier
from bot.escalations.model import Asker
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService
from bot.escalations.sqlite_store import SqliteStore
from bot.knowledge.load import bundled_knowledge_dir, load_knowledge

from .conftest import action_form, eventually, post, signed

FORM = "application/x-www-form-urlencoded"
ASKED = "Jo Smith in 6B wants to add me on chess.com over the summer, is that ok?"
REWORDED = "A pupil wants to add me on chess.com over the summer, is that ok?"


@pytest.fixture
async def lead_setup(slack_app, tmp_path, bundled_bot):
    kdir = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), kdir)
    base, app = await slack_app()
    store = await SqliteStore(tmp_path / "esc.sqlite3").open()
    registry = NotifierRegistry()
    answerer = app[SLACK_ADAPTER]
    register_slack_notifier(registry, answerer.client)
    service = answerer.escalations = EscalationService(store, registry, knowledge_dir=kdir)
    answer = bundled_bot.answer("tsat", ASKED)
    answer = dataclasses.replace(answer, lead=dataclasses.replace(answer.lead, name="Ms A Lead",
                                                                  slack_user_id="ULEAD"))
    esc = await service.escalate(answer, ASKED, Asker("slack", "U1", "C1", "50.1"))
    try:
        yield base, service, esc, kdir
    finally:
        await store.close()


async def open_modal(client, base, fake_slack, esc) -> dict:
    form = action_form(ESC_ANSWER, esc.id, channel="DULEAD", user="ULEAD")
    await post(client, base, form, signed(form, content_type=FORM))
    (opened,) = await fake_slack.wait_for("views.open")
    return opened["view"]


def submission(view: dict, answer: str, ticked=(), question: str | None = None, target: str | None = None) -> str:
    values = {"answer": {"text": {"type": "plain_text_input", "value": answer}},
              "keep": {"choices": {"type": "checkboxes",
                                   "selected_options": [{"value": v, "text": {"type": "plain_text", "text": v}}
                                                        for v in ticked]}},
              "question": {"text": {"type": "plain_text_input", "value": question}},
              "phrasing_for": {"clause": {"type": "static_select",
                                          "selected_option": {"value": target} if target else None}}}
    body = {"type": "view_submission", "team": {"id": "T1"}, "user": {"id": "ULEAD", "name": "alead"},
            "api_app_id": "A1", "trigger_id": "t3", "view": {**view, "id": "V1", "state": {"values": values}}}
    return urlencode({"payload": json.dumps(body)})


async def test_the_modal_offers_the_question_for_rewording_and_saves_what_is_ticked(
        lead_setup, client, fake_slack):
    base, service, esc, kdir = lead_setup
    view = await open_modal(client, base, fake_slack, esc)
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks["question"]["element"]["initial_value"] == ASKED
    assert [o["value"] for o in blocks["keep"]["element"]["options"]] == ["note", "keep_question", "phrasing"]
    assert blocks["keep"]["optional"] is True and "initial_options" not in blocks["keep"]["element"]
    assert esc.candidates and [o["value"] for o in blocks["phrasing_for"]["element"]["options"]] == [
        "__note__", *(c.clause_id for c in esc.candidates)]

    form = submission(view, "No: play pupils only in the school's own chess club.",
                      ticked=("note", "keep_question", "phrasing"), question=REWORDED, target="__note__")
    assert (await post(client, base, form, signed(form, content_type=FORM)))[0] == 200
    told = await fake_slack.wait_for("chat.postMessage")
    assert (await service.get(esc.id)).status == "answered"
    assert any(f"Saved as guidance note-{esc.id}" in m["text"] and m["channel"] == "DULEAD" for m in told)

    (note,) = load_knowledge(kdir).school("tsat").notes
    assert note.id == f"note-{esc.id}" and note.about == (REWORDED,)
    assert note.author == "Ms A Lead (Headteacher/Principal)"  # the lead by Slack id, not the Slack handle
    assert "Jo Smith" not in (kdir / "notes" / "tsat.yaml").read_text()


async def test_without_a_tick_nothing_is_written(lead_setup, client, fake_slack):
    base, service, esc, kdir = lead_setup
    view = await open_modal(client, base, fake_slack, esc)
    form = submission(view, "Speak to me in person.", question=ASKED, target="__note__")
    assert (await post(client, base, form, signed(form, content_type=FORM)))[0] == 200

    async def answered():
        return (await service.get(esc.id)).status == "answered"

    await eventually(answered)  # the listener goes on after the ack
    assert not (kdir / "notes").exists() and not (kdir / "phrasings").exists()


async def test_an_emptied_question_is_an_error_in_the_modal_and_nothing_is_sent(lead_setup, client, fake_slack):
    base, service, esc, kdir = lead_setup
    view = await open_modal(client, base, fake_slack, esc)
    form = submission(view, "No.", ticked=("phrasing",), question="", target=esc.candidates[0].clause_id)
    status, body = await post(client, base, form, signed(form, content_type=FORM))
    assert status == 200
    reply = json.loads(body)
    assert reply["response_action"] == "errors" and "question to keep is empty" in reply["errors"]["question"]
    assert (await service.get(esc.id)).status == "open"
    assert not (kdir / "phrasings").exists()


async def test_a_phrasing_for_a_chosen_clause(lead_setup, client, fake_slack):
    base, service, esc, kdir = lead_setup
    view = await open_modal(client, base, fake_slack, esc)
    target = esc.candidates[0].clause_id
    form = submission(view, "No.", ticked=("phrasing",), question=REWORDED, target=target)
    assert (await post(client, base, form, signed(form, content_type=FORM)))[0] == 200
    told = await fake_slack.wait_for("chat.postMessage")  # the lead is told once it is written
    assert any(f"phrasing of {target}" in m["text"] for m in told)
    clause = next(c for c in load_knowledge(kdir).school("tsat").clauses if c.id == target)
    assert REWORDED in clause.about and not (kdir / "notes").exists()
