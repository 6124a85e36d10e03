"""The web chat keeps the conversation: /api/ask and /api/escalate keep each turn for the
browser's conversation id, and POST /api/history serves that conversation alone, with any lead
answer that came since; through the real server and escalation store."""
from __future__ import annotations

import secrets

from adapters.escalation_wiring import ESCALATIONS
from tests.adapters.conftest import wait_ready, with_

CONFIDENT = "can I follow a parent back on insta?"
UNSURE = "Jo Smith in 6B wants to add me on chess.com over the summer, is that ok?"


async def _server(serve_app, client, settings, tmp_path, **changes):
    base, app = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3", **changes), escalations=True)
    await wait_ready(client, base)
    return base, app


async def _post(client, base, path, body) -> tuple[int, dict]:
    async with client.post(f"{base}{path}", json=body) as resp:
        return resp.status, await resp.json()


async def test_the_history_is_the_conversations_own_with_the_lead_answer_that_came_later(
        serve_app, client, settings, tmp_path):
    base, app = await _server(serve_app, client, settings, tmp_path)
    mine, theirs = secrets.token_hex(16), secrets.token_hex(16)
    status, first = await _post(client, base, "/api/ask", {"school": "tsat", "question": CONFIDENT,
                                                           "conversation": mine})
    assert status == 200 and first["turn"].startswith("t")
    status, second = await _post(client, base, "/api/ask", {"school": "tsat", "question": UNSURE,
                                                            "conversation": mine})
    assert status == 200 and second["decision"] == "escalate" and second["escalation"]
    await _post(client, base, "/api/ask", {"school": "tsat", "question": "theirs: can I post photos?",
                                           "conversation": theirs})

    status, history = await _post(client, base, "/api/history", {"conversation": mine})
    assert status == 200
    turns = history["turns"]
    assert [t["question"] for t in turns] == [CONFIDENT, UNSURE]
    assert turns[0]["reply"]["text"] == first["text"] and turns[0]["reply"]["feedback_ref"] == first["feedback_ref"]
    assert turns[0]["escalation"] is None and turns[1]["escalation"]["answer"] == ""

    service = app[ESCALATIONS].service
    await service.answer(second["escalation"]["id"], "Ms A Lead", "Not while they are a pupil, please.")
    _, history = await _post(client, base, "/api/history", {"conversation": mine})
    assert history["turns"][1]["escalation"]["answer"] == "Not while they are a pupil, please."
    assert history["turns"][1]["escalation"]["answered_by"] == "Ms A Lead"

    _, other = await _post(client, base, "/api/history", {"conversation": theirs})
    assert [t["question"] for t in other["turns"]] == ["theirs: can I post photos?"]
    _, nobody = await _post(client, base, "/api/history", {"conversation": secrets.token_hex(16)})
    assert nobody == {"turns": []}


async def test_ask_lead_under_a_turn_keeps_its_answer_for_the_reload(serve_app, client, settings, tmp_path):
    base, app = await _server(serve_app, client, settings, tmp_path)
    conv = secrets.token_hex(16)
    _, asked = await _post(client, base, "/api/ask", {"school": "tsat", "question": CONFIDENT, "conversation": conv})
    assert asked["decision"] == "answer"
    # another browser cannot attach its escalation to this turn
    status, _ = await _post(client, base, "/api/escalate", {"school": "tsat", "question": CONFIDENT,
                                                            "conversation": secrets.token_hex(16),
                                                            "turn": asked["turn"]})
    assert status == 201
    _, history = await _post(client, base, "/api/history", {"conversation": conv})
    assert history["turns"][0]["escalation"] is None
    status, sent = await _post(client, base, "/api/escalate", {"school": "tsat", "question": CONFIDENT,
                                                               "conversation": conv, "turn": asked["turn"]})
    assert status == 201
    _, history = await _post(client, base, "/api/history", {"conversation": conv})
    assert history["turns"][0]["escalation"]["id"] == sent["escalation"]["id"]


async def test_bad_conversation_ids_and_bodies_are_4xx(serve_app, client, settings, tmp_path):
    base, _ = await _server(serve_app, client, settings, tmp_path, max_body_bytes=2048)
    for conv in ("short", "x" * 200, "../../etc/passwd" + "a" * 30, 12345, ["a" * 32]):
        status, body = await _post(client, base, "/api/history", {"conversation": conv})
        assert status == 400 and "conversation" in body["error"]
        status, body = await _post(client, base, "/api/ask", {"school": "tsat", "question": CONFIDENT,
                                                              "conversation": conv})
        assert status == 400 and "conversation id" in body["error"]
    status, body = await _post(client, base, "/api/history", {"conversation": "a" * 32, "pad": "x" * 5000})
    assert status == 413 and "too large" in body["error"]
    async with client.post(f"{base}/api/history", data=b"not json") as resp:
        assert resp.status == 400
    # without a conversation id nothing is kept, and the answer is as before
    status, body = await _post(client, base, "/api/ask", {"school": "tsat", "question": CONFIDENT})
    assert status == 200 and "turn" not in body


async def test_without_the_store_history_is_503(serve_app, client, settings):
    base, _ = await serve_app(settings)
    await wait_ready(client, base)
    status, body = await _post(client, base, "/api/history", {"conversation": "a" * 32})
    assert status == 503 and "not kept" in body["error"]
