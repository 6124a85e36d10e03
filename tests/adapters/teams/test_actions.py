"""Card buttons (Action.Submit arrives as a message with `value`; Universal Actions as an
invoke), privacy of the logs, and the outbound token kept off the event loop."""
from __future__ import annotations

import threading

from botframework.connector.auth import PasswordServiceClientCredentialFactory
from msrest.authentication import BasicTokenAuthentication

from adapters.escalation_wiring import ESCALATIONS
from adapters.teams.cards import ACTION_KEY, ASK_LEAD, FEEDBACK_HELPFUL, FEEDBACK_UNHELPFUL
from adapters.teams.channel import TEAMS_ADAPTER, teams_channel
from tests.adapters.conftest import wait_ready, with_

from .conftest import APP_ID, activity, eventually, post

QUESTION = "can I accept a friend request from a pupil's parent on facebook?"


def button(call: dict, action: str) -> dict:
    card = call["activity"]["attachments"][0]["content"]
    (data,) = [a["data"] for a in card.get("actions", []) if a["data"].get(ACTION_KEY) == action]
    return data


async def test_helpful_and_not_helpful_are_stored_one_vote_per_person(teams_app, client, connector):
    """In the shared feedback record, with the answer they are about."""
    base, app = await teams_app(escalations=True)
    await wait_ready(client, base)
    await post(client, base, activity(QUESTION, service_url=connector.service_url, conv="a:fb"))
    (answer,) = await connector.wait_messages(1, "a:fb")
    ref = button(answer, FEEDBACK_HELPFUL)["ref"]
    await post(client, base, activity(service_url=connector.service_url, conv="a:fb", value=button(answer,
                                                                                                   FEEDBACK_HELPFUL)))
    await post(client, base, activity(service_url=connector.service_url, conv="a:fb",
                                      value=button(answer, FEEDBACK_UNHELPFUL)))
    await connector.wait_messages(3, "a:fb")
    rows = await app[ESCALATIONS].service.store.feedback(answer_ref=f"teams:{ref}")
    assert [(r.asker_id, r.helpful) for r in rows if r.event == "vote"] == [("aad-user-1", False)]
    (answered,) = [r for r in rows if r.event == "answered"]
    assert (answered.school, answered.platform, answered.asker_id) == ("tsat", "teams", "aad-user-1")
    assert answered.clauses and answered.question == QUESTION
    assert await _voted(app, int(ref)) == []  # not the fallback
    report = await app[ESCALATIONS].service.feedback_report(school="tsat")
    assert report["tsat"].totals.as_dict() == {"answered": 1, "helpful": 0, "not_helpful": 1, "escalated": 0}


async def test_feedback_without_the_escalation_service_is_kept_in_the_inbox(teams_app, client, connector):
    base, app = await teams_app()
    await post(client, base, activity(QUESTION, service_url=connector.service_url, conv="a:fb"))
    (answer,) = await connector.wait_messages(1, "a:fb")
    ref = button(answer, FEEDBACK_HELPFUL)["ref"]
    await post(client, base, activity(service_url=connector.service_url, conv="a:fb", value=button(answer,
                                                                                                   FEEDBACK_HELPFUL)))
    await post(client, base, activity(service_url=connector.service_url, conv="a:fb",
                                      value=button(answer, FEEDBACK_UNHELPFUL)))
    await connector.wait_messages(3, "a:fb")
    assert await _voted(app, int(ref)) == [("aad-user-1", False)]


async def test_universal_action_invoke_gets_an_invoke_response_and_is_acted_on(teams_app, client, connector):
    base, app = await teams_app()
    await post(client, base, activity(QUESTION, service_url=connector.service_url, conv="a:inv"))
    (answer,) = await connector.wait_messages(1, "a:inv")
    data = button(answer, FEEDBACK_HELPFUL)
    invoke = activity(service_url=connector.service_url, conv="a:inv", type_="invoke", name="adaptiveCard/action",
                      value={"action": {"type": "Action.Execute", "verb": "feedback", "data": data}})
    status, body = await post(client, base, invoke)
    assert status == 200 and '"statusCode": 200' in body
    await eventually(lambda: _voted(app, int(data["ref"])))


async def _voted(app, ref: int):
    store = app[TEAMS_ADAPTER].store
    return await store.feedback(await store.get(ref))


async def test_ask_the_lead_escalates_the_original_question(teams_app, teams_settings, client, connector):
    settings = with_(teams_settings, worker_poll_seconds=0.02)
    base, app = await teams_app(settings, escalations=True)
    await wait_ready(client, base)
    await post(client, base, activity(QUESTION, service_url=connector.service_url, conv="a:ask", activity_id="q1"))
    (answer,) = await connector.wait_messages(1, "a:ask")
    data = button(answer, ASK_LEAD)
    for activity_id in ("press-1", "press-2"):  # pressed twice: still one escalation
        await post(client, base, activity(service_url=connector.service_url, conv="a:ask", value=data,
                                          activity_id=activity_id))
    replies = await connector.wait_messages(3, "a:ask")
    # The bundled leads have no Teams id or email here: recorded, and the asker told it was not sent.
    assert "Not sent" in replies[1]["activity"]["text"] and "directly" in replies[1]["activity"]["text"]
    (esc,) = await app[ESCALATIONS].service.list()
    assert esc.reason == "asked_by_user" and esc.question == QUESTION and esc.school == "tsat"
    assert (esc.asker.platform, esc.asker.conversation, esc.asker.thread) == ("teams", "a:ask", "q1")


async def test_logs_carry_ids_not_question_text(teams_app, client, connector, caplog):
    caplog.set_level("DEBUG")
    base, _ = await teams_app()
    secret = "my pupil Jamie Example-Pupil messaged me on snapchat, is that ok?"
    await post(client, base, activity(secret, service_url=connector.service_url, conv="a:priv"))
    await connector.wait_messages(1, "a:priv")
    assert "teams answer: inbox=" in caplog.text
    assert "Jamie Example-Pupil" not in caplog.text


class CountingCredentials(PasswordServiceClientCredentialFactory):
    """Records how often credentials are built and on which thread the token is fetched."""

    def __init__(self, *args):
        super().__init__(*args)
        self.built = 0
        self.token_threads: list[str] = []

    async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate_authority):
        self.built += 1
        threads = self.token_threads

        class Credentials(BasicTokenAuthentication):
            def get_access_token(self, force_refresh: bool = False) -> str:
                threads.append(threading.current_thread().name)
                return "tok"

        return Credentials({"access_token": "tok"})


async def test_outbound_credentials_are_reused_and_their_token_fetched_off_the_loop(
        serve_app, authed_settings, client, connector, key_server):
    factory = CountingCredentials(APP_ID, "pw")
    channel = teams_channel(authed_settings, credentials_factory=factory, retry_base_seconds=0.01)
    base, _ = await serve_app(authed_settings, channels=[channel])
    for conv in ("a:1", "a:2", "a:3"):
        token = key_server.token(connector.service_url)
        await post(client, base, activity(QUESTION, service_url=connector.service_url, conv=conv), token)
    for conv in ("a:1", "a:2", "a:3"):
        await connector.wait_messages(1, conv)
    assert factory.built == 1
    assert len(factory.token_threads) >= 6  # typing + answer for each of three questions
    assert threading.main_thread().name not in factory.token_threads
