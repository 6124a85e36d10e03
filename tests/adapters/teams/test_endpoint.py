"""/api/messages in Emulator mode (no authentication): real Activity JSON in, proactive replies
out to the fake Bot Connector; mapping per tenant and team, mentions, typing, re-sends."""
from __future__ import annotations

from adapters.teams.answering import NOT_SET_UP
from adapters.teams.cards import CONTENT_TYPE
from adapters.teams.channel import TEAMS_ADAPTER

from .conftest import TENANT_A, TENANT_B, TENANT_X, activity, channel_activity, eventually, install, post, with_

QUESTION = "can I accept a friend request from a pupil's parent on facebook?"


def card_of(call: dict) -> dict:
    (attachment,) = call["activity"]["attachments"]
    assert attachment["contentType"] == CONTENT_TYPE
    return attachment["content"]


def cited_ids(call: dict) -> list[str]:
    """Clause ids as the card shows them: the bold run after "section " under each quote."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            inlines = node.get("inlines") or []
            texts = [i.get("text", "") for i in inlines if isinstance(i, dict)]
            for i, t in enumerate(texts[:-1]):
                if t == ", section ":
                    found.append(texts[i + 1])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card_of(call))
    return found


def shown(call: dict) -> str:
    """What a client without cards shows (the activity's text, or its summary beside a card)."""
    return call["activity"].get("text") or call["activity"].get("summary") or ""


def clause_ids(bot, school: str) -> set[str]:
    return {c.id for c in bot.kb.schools[school].clauses}


async def test_personal_questions_from_two_tenants_cite_their_own_schools(teams_app, client, connector,
                                                                           bundled_bot):
    base, _ = await teams_app()
    status, _ = await post(client, base, activity(QUESTION, service_url=connector.service_url, tenant=TENANT_A,
                                                   conv="a:conv-a", activity_id="m1"))
    assert status == 200
    status, _ = await post(client, base, activity(QUESTION, service_url=connector.service_url, tenant=TENANT_B,
                                                   conv="a:conv-b", activity_id="m2"))
    assert status == 200
    (to_a,) = await connector.wait_messages(1, "a:conv-a")
    (to_b,) = await connector.wait_messages(1, "a:conv-b")
    expected_a = {c.clause_id for c in bundled_bot.answer("tsat", QUESTION).citations}
    expected_b = {c.clause_id for c in bundled_bot.answer("kingsmead", QUESTION).citations}
    assert expected_a and expected_b
    assert cited_ids(to_a) == [c.clause_id for c in bundled_bot.answer("tsat", QUESTION).citations]
    assert cited_ids(to_b) == [c.clause_id for c in bundled_bot.answer("kingsmead", QUESTION).citations]
    assert expected_a != expected_b
    # the plain-text fallback for clients without cards quotes the same clauses
    assert all(f"section {cid}" in shown(to_a) or cid in shown(to_a) for cid in expected_a)
    assert "Thinking Schools" in shown(to_a) and "Kingsmead" in shown(to_b)
    # a typing indicator went first, to each conversation
    assert {c["conversation"] for c in connector.typing()} == {"a:conv-a", "a:conv-b"}
    assert connector.calls.index(connector.typing()[0]) < connector.calls.index(to_a)


async def test_unmapped_tenant_gets_the_not_set_up_reply_and_no_clauses(teams_app, client, connector, bundled_bot):
    base, _ = await teams_app()
    await post(client, base, activity(QUESTION, service_url=connector.service_url, tenant=TENANT_X,
                                      conv="a:conv-x"))
    (reply,) = await connector.wait_messages(1, "a:conv-x")
    assert shown(reply) == NOT_SET_UP
    assert cited_ids(reply) == []


async def test_channel_mention_is_stripped_and_answered_in_the_thread_of_a_team_mapped_school(
        teams_app, client, connector, bundled_bot):
    base, app = await teams_app()
    body = channel_activity(QUESTION, service_url=connector.service_url, activity_id="1700000000001",
                            team="19:team-k@thread.tacv2", channel="19:chan-k@thread.tacv2")
    assert (await post(client, base, body))[0] == 200
    (reply,) = await connector.wait_messages(1)
    assert reply["conversation"] == "19:chan-k@thread.tacv2;messageid=1700000000001"
    assert reply["reply_to"] == "1700000000001"
    store = app[TEAMS_ADAPTER].store
    (stored,) = [i for i in await store.pending()] or [await store.get(1)]
    assert stored.incoming.text == QUESTION  # no "<at>policybot</at>" left in what the bot read
    # the team entry (kingsmead) wins over the tenant-wide one (tsat)
    assert cited_ids(reply) == [c.clause_id for c in bundled_bot.answer("kingsmead", QUESTION).citations]


async def test_a_re_sent_activity_is_answered_once_even_after_a_restart(teams_app, client, connector,
                                                                        teams_settings):
    base, _ = await teams_app()
    body = activity(QUESTION, service_url=connector.service_url, activity_id="dup-1", conv="a:dup")
    for _ in range(3):
        assert (await post(client, base, body))[0] == 200
    await connector.wait_messages(1, "a:dup")
    base2, app2 = await teams_app(teams_settings)  # a second process on the same store
    assert (await post(client, base2, body))[0] == 200
    await eventually(lambda: _no_pending(app2))
    assert len(connector.messages("a:dup")) == 1


async def _no_pending(app) -> bool:
    return not await app[TEAMS_ADAPTER].store.pending()


async def test_a_question_left_unanswered_by_a_crash_is_answered_on_restart(teams_app, client, connector,
                                                                             teams_settings):
    connector.fail(100, 500)  # Teams unreachable for this whole first run
    teams_settings = with_(teams_settings, retry_base_seconds=0.05)  # tried again soon after
    base, app = await teams_app(teams_settings)
    await post(client, base, activity(QUESTION, service_url=connector.service_url, activity_id="c1", conv="a:c1"))
    await eventually(lambda: _attempted(connector))
    assert await app[TEAMS_ADAPTER].store.pending()
    connector.failures.clear()
    _, app2 = await teams_app(teams_settings)
    (reply,) = await connector.wait_messages(1, "a:c1")
    assert reply["activity"]["attachments"]
    await eventually(lambda: _no_pending(app2))


async def _attempted(connector) -> bool:
    return connector.attempts >= 8  # the typing indicator and the answer, each tried 1 + 3 times


async def test_install_in_personal_scope_greets_and_keeps_the_reference(teams_app, client, connector):
    base, app = await teams_app()
    assert (await post(client, base, install(service_url=connector.service_url)))[0] == 200
    (hello,) = await connector.wait_messages(1, "a:personal-lead")
    assert "Thinking Schools Academy Trust" in shown(hello)
    store = app[TEAMS_ADAPTER].store
    ref = await store.person_reference("aad-lead")
    assert ref and ref["conversation"]["id"] == "a:personal-lead"
    assert await store.person_reference("29:lead") == ref


async def test_channel_messages_never_become_a_persons_reference(teams_app, client, connector):
    base, app = await teams_app()
    await post(client, base, channel_activity(QUESTION, service_url=connector.service_url, activity_id="77",
                                              aad="aad-someone"))
    await connector.wait_messages(1)
    assert await app[TEAMS_ADAPTER].store.person_reference("aad-someone") is None


async def test_empty_oversized_and_malformed_bodies(teams_app, client, connector):
    base, _ = await teams_app()
    assert (await post(client, base, b"{not json"))[0] == 400
    assert (await post(client, base, b"[1, 2]"))[0] == 400
    assert (await post(client, base, {"text": "no type"}))[0] == 400
    assert (await post(client, base, b"x" * (300 * 1024)))[0] == 413
    long_q = "is it ok " * 1000
    await post(client, base, activity(long_q, service_url=connector.service_url, conv="a:long"))
    (reply,) = await connector.wait_messages(1, "a:long")
    assert "characters long" in shown(reply)
    assert not connector.messages("a:none")


async def test_a_large_activity_arriving_in_pieces_is_read_whole(teams_app, client, connector):
    """Teams activities can be large (rich text, entities); the body may arrive over many reads."""
    import asyncio
    import json

    base, _ = await teams_app()
    body = activity(QUESTION, service_url=connector.service_url, conv="a:big")
    body["channelData"]["padding"] = "x" * 150_000
    raw = json.dumps(body).encode()

    async def pieces():
        for i in range(0, len(raw), 8192):
            yield raw[i:i + 8192]
            await asyncio.sleep(0)

    async with client.post(f"{base}/api/messages", data=pieces(),
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 200
    (reply,) = await connector.wait_messages(1, "a:big")
    assert cited_ids(reply)
