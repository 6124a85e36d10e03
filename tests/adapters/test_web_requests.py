"""A retried POST /api/ask (the same request id) is answered once, through the real server on
SQLite and PostgreSQL: the retry gets the first reply (from this process or another sharing the
database), with one escalation, one feedback count and one conversation turn; a reused id with
another question is refused; a request whose process died is taken over; one still being
answered elsewhere is waited for, then refused with 503."""
from __future__ import annotations

import asyncio

from adapters.web_requests import _sha
from bot.escalations.conversations import conversation_key
from bot.escalations.inbox import Inbox

from .conftest import opened_store, wait_ready, with_

ESCALATES = "a year 8 girl told me an adult she met online is asking her for nude pictures"
ANSWERS = "can I add a pupil's mum on my personal facebook?"
RID = "0123456789abcdef0123456789abcdef"
CONV = "c" * 32


async def _post(client, base, body: dict) -> tuple[int, dict, dict]:
    async with client.post(f"{base}/api/ask", json=body) as r:
        return r.status, await r.json(), dict(r.headers)


async def test_the_same_request_twice_gets_the_first_reply_and_writes_everything_once(
        serve_app, client, settings, database):
    s = with_(settings, **database)
    base, app = await serve_app(s, escalations=True)
    await wait_ready(client, base)
    body = {"school": "arh", "question": ESCALATES, "request": RID, "conversation": CONV, "client": "tab-1"}
    status, first, _ = await _post(client, base, body)
    assert status == 200 and first["decision"] == "urgent" and first["escalation"]["id"]
    status, again, headers = await _post(client, base, body)
    assert status == 200 and again == first and headers.get("X-Policybot-Replayed") == "1"
    async with opened_store(s) as db:
        assert len(await db.list()) == 1  # one escalation, one notice round
        assert len(await db.turns(conversation_key(CONV))) == 1
        (item,) = await db.inbox_items("web")
        assert item.status == "answered" and item.dedupe_key == _sha(RID) and item.question == ""
        assert RID not in repr(item)  # only its hash is kept


async def test_a_retry_reaching_another_process_gets_the_same_reply(serve_app, client, settings, database):
    s = with_(settings, **database)
    base1, _ = await serve_app(s, escalations=True)
    base2, _ = await serve_app(s, escalations=True)  # a second process on the same database
    await wait_ready(client, base1)
    await wait_ready(client, base2)
    body = {"school": "tsat", "question": ANSWERS, "request": RID, "client": "tab-1"}
    status, first, _ = await _post(client, base1, body)
    assert status == 200 and first["feedback_ref"]
    status, again, headers = await _post(client, base2, body)
    assert status == 200 and again == first and headers.get("X-Policybot-Replayed") == "1"
    async with opened_store(s) as db:
        answered = [r for r in await db.feedback(school="tsat") if r.event == "answered"]
        assert [r.answer_ref for r in answered] == [first["feedback_ref"]]  # counted once


async def test_a_reused_id_with_another_question_and_a_malformed_id_are_refused(serve_app, client, settings,
                                                                                database):
    base, _ = await serve_app(with_(settings, **database), escalations=True)
    await wait_ready(client, base)
    assert (await _post(client, base, {"school": "tsat", "question": ANSWERS, "request": RID}))[0] == 200
    status, body, _ = await _post(client, base, {"school": "tsat", "question": "something else", "request": RID})
    assert status == 409 and "already used" in body["error"]
    for bad in ("short", "x" * 200, "has spaces in it here!!", 12345):
        status, body, _ = await _post(client, base, {"school": "tsat", "question": ANSWERS, "request": bad})
        assert status == 400 and "request id" in body["error"]


async def test_a_request_whose_process_died_is_taken_over(serve_app, client, settings, database):
    s = with_(settings, **database)
    base, _ = await serve_app(s, escalations=True)
    await wait_ready(client, base)
    async with opened_store(s) as db:  # a process recorded it long ago, then died before answering
        dead = Inbox(lambda: db, "web", clock=lambda: 1_000_000.0)
        await dead.record("ask", _sha(RID), "", {"school": "tsat", "question": _sha(ANSWERS)})
    status, body, headers = await _post(client, base, {"school": "tsat", "question": ANSWERS, "request": RID})
    assert status == 200 and body["decision"] == "answer" and "X-Policybot-Replayed" not in headers
    async with opened_store(s) as db:
        (item,) = await db.inbox_items("web")
        assert item.status == "answered" and item.attempts == 2 and item.reply == body


async def test_a_request_still_being_answered_elsewhere_is_waited_for_then_refused(serve_app, client, settings,
                                                                                  database):
    s = with_(settings, shutdown_grace_seconds=0.3, **database)
    base, _ = await serve_app(s, escalations=True)
    await wait_ready(client, base)
    async with opened_store(s) as db:  # held by a live process, for longer than this request waits
        live = Inbox(lambda: db, "web", lease_seconds=600)
        held, _ = await live.record("ask", _sha(RID), "", {"school": "tsat", "question": _sha(ANSWERS)})
        status, body, headers = await _post(client, base, {"school": "tsat", "question": ANSWERS, "request": RID})
        assert status == 503 and headers.get("Retry-After") and "still being answered" in body["error"]
        await live.mark_answered(held, reply={"decision": "answer", "text": "given by the other process"})
        waiting = asyncio.create_task(_post(client, base, {"school": "tsat", "question": ANSWERS, "request": RID}))
        status, body, _ = await waiting
        assert status == 200 and body["text"] == "given by the other process"


async def test_without_a_store_a_request_id_changes_nothing(serve_app, client, settings):
    base, _ = await serve_app(settings)
    for _ in range(2):
        status, body, headers = await _post(client, base, {"school": "tsat", "question": ANSWERS, "request": RID})
        assert status == 200 and body["decision"] == "answer" and "X-Policybot-Replayed" not in headers
