"""Escalations inside `policybot serve`: the web chat creates them, the worker delivers, the
lead's answer comes back to the page, and a store that cannot open is reported, not hidden."""
from __future__ import annotations

import asyncio

from adapters.escalation_wiring import ESCALATIONS
from tests.adapters.conftest import wait_ready, with_
from tests.conftest import TODAY

OFF_TOPIC = "what time does the school canteen open on Fridays?"
# The policy does not settle it: escalated as low confidence (an off-topic question is not sent unasked).
UNSURE = "is it ok to play music from spotify in class?"
CONFIDENT = "can I follow a parent back on insta?"


async def _server(serve_app, client, settings, tmp_path, **changes):
    settings = with_(settings, db_path=tmp_path / "esc.sqlite3", worker_poll_seconds=0.02, **changes)
    base, app = await serve_app(settings, escalations=True)
    await wait_ready(client, base)
    return base, app


async def _until(predicate, attempts=500):
    for _ in range(attempts):
        if await predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_an_escalated_answer_creates_an_escalation_the_worker_delivers(serve_app, client, settings, tmp_path):
    base, app = await _server(serve_app, client, settings, tmp_path)
    async with client.post(f"{base}/api/ask", json={"school": "tsat", "question": UNSURE, "client": "tab1"}) as r:
        body = await r.json()
    assert body["decision"] == "escalate" and body["reason"] == "low_confidence"
    esc = body["escalation"]
    assert esc["status"] == "open" and esc["lead"]
    service = app[ESCALATIONS].service
    stored = await service.get(esc["id"])
    assert stored.school == "tsat" and stored.asker.platform == "web" and stored.asker.user_id == "tab1"

    async def delivered():
        return any(m.status == "sent" for m in await service.messages(esc["id"]))

    assert await _until(delivered), "the worker never delivered the lead's notice"


async def test_the_leads_answer_reaches_the_page(serve_app, client, settings, tmp_path):
    base, app = await _server(serve_app, client, settings, tmp_path)
    async with client.post(f"{base}/api/escalate", json={"school": "lzw", "question": CONFIDENT}) as r:
        assert r.status == 201
        esc = (await r.json())["escalation"]
    service = app[ESCALATIONS].service
    assert (await service.get(esc["id"])).reason == "asked_by_user"
    async with client.get(f"{base}/api/escalations/{esc['id']}") as r:
        assert (await r.json())["escalation"]["answer"] == ""
    await service.acknowledge(esc["id"], "Ms Lead")
    await service.answer(esc["id"], "Ms Lead", "Yes, but only from your work account.")
    async with client.get(f"{base}/api/escalations/{esc['id']}") as r:
        shown = (await r.json())["escalation"]
    assert shown["status"] == "answered" and shown["answered_by"] == "Ms Lead"
    assert "only from your work account" in shown["answer"]
    async with client.get(f"{base}/api/escalations/nope") as r:
        assert r.status == 404


async def test_urgent_question_is_escalated_as_urgent(serve_app, client, settings, tmp_path):
    base, app = await _server(serve_app, client, settings, tmp_path)
    question = "a year 8 girl told me an adult she met online is asking her for nude pictures"
    async with client.post(f"{base}/api/ask", json={"school": "arh", "question": question}) as r:
        body = await r.json()
    assert body["decision"] == "urgent" and body["escalation"]["urgent"] is True
    stored = await app[ESCALATIONS].service.get(body["escalation"]["id"])
    assert stored.reason == "urgent"


async def test_schools_say_escalation_is_available(serve_app, client, settings, tmp_path):
    base, _ = await _server(serve_app, client, settings, tmp_path)
    async with client.get(f"{base}/api/schools") as r:
        assert all(s["can_escalate"] for s in (await r.json())["schools"])


async def test_unreachable_store_is_reported_and_escalation_refused(serve_app, client, settings, tmp_path):
    settings = with_(settings, database_url="postgresql://nobody:wrong@127.0.0.1:1/none")
    base, _ = await serve_app(settings, escalations=True)
    async with client.get(f"{base}/readyz") as r:
        for _ in range(200):
            if r.status == 503 and "escalation store" in (await r.json()).get("reason", ""):
                break
            await asyncio.sleep(0.02)
            r = await client.get(f"{base}/readyz")
        assert r.status == 503 and "escalation store unreachable" in (await r.json())["reason"]
    async with client.post(f"{base}/api/escalate", json={"school": "lzw", "question": CONFIDENT}) as r:
        assert r.status == 503 and "contact your online-safety lead directly" in (await r.json())["error"]
    async with client.get(f"{base}/api/schools") as r:
        assert not any(s["can_escalate"] for s in (await r.json())["schools"])


async def test_serve_opens_the_sqlite_file_database_url_names(serve_app, client, tmp_path):
    """`policybot serve`'s settings from DATABASE_URL=sqlite:////abs/path alone: the escalation
    the web chat creates is in that file."""
    from bot.config import from_env
    from bot.escalations.sqlite_store import SqliteStore

    path = tmp_path / "served" / "esc.sqlite3"
    settings = with_(from_env({"DATABASE_URL": f"sqlite:///{path}"}), today=TODAY, worker_poll_seconds=0.02)
    assert settings.database_url == "" and settings.db_path == path
    base, _ = await serve_app(settings, escalations=True)
    await wait_ready(client, base)
    async with client.post(f"{base}/api/ask", json={"school": "tsat", "question": UNSURE, "client": "tab1"}) as r:
        esc_id = (await r.json())["escalation"]["id"]
    async with SqliteStore(path) as store:
        assert (await store.get(esc_id)).school == "tsat"
