"""The web chat's Helpful / Not helpful: /api/ask answers carry a feedback reference, and
POST /api/feedback records the vote in the shared feedback record (one per tab per answer)."""
from __future__ import annotations

from adapters.escalation_wiring import ESCALATIONS
from tests.adapters.conftest import wait_ready, with_

CONFIDENT = "can I follow a parent back on insta?"


async def _server(serve_app, client, settings, tmp_path):
    base, app = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    await wait_ready(client, base)
    return base, app


async def _ask(client, base, question=CONFIDENT, client_id="tab-1") -> dict:
    async with client.post(f"{base}/api/ask", json={"school": "tsat", "question": question,
                                                    "client": client_id}) as resp:
        assert resp.status == 200
        return await resp.json()


async def _vote(client, base, ref, helpful, client_id="tab-1") -> tuple[int, dict]:
    async with client.post(f"{base}/api/feedback", json={"ref": ref, "helpful": helpful,
                                                         "client": client_id}) as resp:
        return resp.status, await resp.json()


async def test_an_answer_is_recorded_and_its_votes_are_one_per_tab(serve_app, client, settings, tmp_path):
    base, app = await _server(serve_app, client, settings, tmp_path)
    body = await _ask(client, base)
    ref = body["feedback_ref"]
    assert ref.startswith("web:")
    assert (await _vote(client, base, ref, True))[0] == 200
    assert (await _vote(client, base, ref, False))[0] == 200  # the same tab changes its mind
    assert (await _vote(client, base, ref, True, client_id="tab-2"))[0] == 200
    rows = await app[ESCALATIONS].service.store.feedback(answer_ref=ref)
    (answered,) = [r for r in rows if r.event == "answered"]
    assert (answered.school, answered.platform, answered.asker_id, answered.decision) == ("tsat", "web", "tab-1",
                                                                                          "answer")
    assert "5.4" in answered.clauses and answered.question == CONFIDENT
    assert sorted((r.asker_id, r.helpful) for r in rows if r.event == "vote") == [("tab-1", False), ("tab-2", True)]


async def test_unknown_or_malformed_feedback_is_refused(serve_app, client, settings, tmp_path):
    base, app = await _server(serve_app, client, settings, tmp_path)
    assert (await _vote(client, base, "web:0000000000000000", True))[0] == 404
    assert (await _vote(client, base, "slack:1", True))[0] == 400  # only the web's own answers
    assert (await _vote(client, base, "web:x", "yes"))[0] == 400
    async with client.post(f"{base}/api/feedback", data=b"not json") as resp:
        assert resp.status == 400
    assert await app[ESCALATIONS].service.store.feedback() == []


async def test_without_a_feedback_record_there_is_no_reference(serve_app, client, settings):
    base, _ = await serve_app(settings)
    body = await _ask(client, base)
    assert "feedback_ref" not in body
    status, _ = await _vote(client, base, "web:abc", True)
    assert status == 503


async def test_logs_carry_the_reference_not_the_question(serve_app, client, settings, tmp_path, caplog):
    caplog.set_level("DEBUG", logger="policybot")  # (aiosqlite's own DEBUG lines echo SQL parameters)
    base, _ = await _server(serve_app, client, settings, tmp_path)
    secret = "my pupil Jamie Example-Pupil asked to follow me on insta, can I?"
    body = await _ask(client, base, secret)
    await _vote(client, base, body["feedback_ref"], False)
    assert f"feedback recorded: ref={body['feedback_ref']}" in caplog.text
    assert "Jamie" not in caplog.text


async def test_an_oversized_feedback_body_is_413_json(serve_app, client, settings, tmp_path):
    base, _ = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3", max_body_bytes=1024),
                              escalations=True)
    await wait_ready(client, base)
    async with client.post(f"{base}/api/feedback", json={"ref": "web:0", "helpful": True, "pad": "x" * 4096}) as resp:
        assert resp.status == 413 and resp.content_type == "application/json"
        assert "too large" in (await resp.json())["error"]
