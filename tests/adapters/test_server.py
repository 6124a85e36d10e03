"""The server over real HTTP: the JSON API, its errors, token and rate limit, health and
readiness, request/decision logs, and graceful shutdown with an answer in flight."""
from __future__ import annotations

import asyncio
import json
import logging
import threading

import aiohttp
import pytest

from adapters.server import CHANNELS, create_app, serve
from adapters.web_security import RateLimiter, is_loopback
from bot.knowledge.load import KnowledgeError, Problem
from bot.render import answer_json

from .conftest import wait_ready, with_

TSAT_Q = "can I add a pupil's mum on my personal facebook?"
LZW_Q = "can I accept a friend request from a pupil?"


async def post_ask(client, base, body, headers=None):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    async with client.post(f"{base}/api/ask", data=data, headers=headers or {}) as resp:
        return resp.status, await resp.json(), resp.headers


# --- the answer contract, two schools ---

@pytest.mark.parametrize("school,question,clause,stance", [
    ("tsat", TSAT_Q, "5.4", "must not"),
    ("lzw", LZW_Q, "6.2(a)", "must not"),
])
async def test_ask_returns_the_batch_contract_with_the_right_clause(
        serve_app, client, settings, bundled_bot, school, question, clause, stance):
    base, _ = await serve_app(settings)
    status, out, headers = await post_ask(client, base, {"school": school, "question": question})
    assert status == 200
    assert out["decision"] == "answer" and out["school"] == school
    cited = {c["id"]: c for c in out["citations"]}
    assert clause in cited and cited[clause]["stance"] == stance
    # Exactly `policybot batch`'s contract: every key it has, with the same values.
    # (The API only adds keys: display_text / display_lead_in on each citation.)
    expected = answer_json(bundled_bot.answer(school, question))
    assert {k: out[k] for k in expected if k != "citations"} == {k: v for k, v in expected.items() if k != "citations"}
    assert [{k: c[k] for k in e} for c, e in zip(out["citations"], expected["citations"])] == expected["citations"]
    assert len(out["citations"]) == len(expected["citations"])
    assert headers["X-Request-Id"]


async def test_api_schools_lists_leads_policies_and_review_dates(serve_app, client, settings):
    base, _ = await serve_app(settings)
    async with client.get(f"{base}/api/schools") as resp:
        assert resp.status == 200
        data = await resp.json()
    by_slug = {s["slug"]: s for s in data["schools"]}
    assert set(by_slug) == {"arh", "kingsmead", "lzw", "thorpe-acre", "tsat"}
    tsat = by_slug["tsat"]
    assert tsat["name"] == "Thinking Schools Academy Trust"
    assert tsat["lead"]["role"] == "Headteacher/Principal" and tsat["deputy"]["role"] == "Deputy CEO"
    assert tsat["policies"][0]["next_review"] == "December 2026" and tsat["policies"][0]["overdue"] is False
    kingsmead_policy = by_slug["kingsmead"]["policies"][0]
    assert kingsmead_policy["overdue"] is True and kingsmead_policy["due"] == "2021-07-31"
    assert all(s["can_escalate"] is False for s in data["schools"])


# --- errors ---

@pytest.mark.parametrize("body,status,message", [
    ({"school": "nowhere", "question": "can I post photos?"}, 404, "unknown school 'nowhere'"),
    ({"school": "tsat", "question": "   "}, 400, "empty"),
    ({"school": "tsat", "question": "x" * 4001}, 400, "under 4,000"),
    ({"school": "tsat", "question": "\x00\x01\x02" * 20 + "ab"}, 400, "binary"),
    ({"school": "tsat"}, 400, "type a question"),
    ({"question": "can I post photos?"}, 400, "choose a school"),
    (["tsat", "question"], 400, "JSON object"),
    ("{not json", 400, "Please send JSON"),
])
async def test_bad_requests_get_a_polite_json_error(serve_app, client, settings, body, status, message):
    base, _ = await serve_app(settings)
    got, out, _ = await post_ask(client, base, body)
    assert got == status
    assert set(out) == {"error"} and message in out["error"]


async def test_body_over_the_cap_is_413(serve_app, client, settings):
    base, _ = await serve_app(with_(settings, max_body_bytes=1024))
    status, out, _ = await post_ask(client, base, {"school": "tsat", "question": "photos " * 300})
    assert status == 413 and "too large" in out["error"]
    # Under the cap the same endpoint answers.
    status, _, _ = await post_ask(client, base, {"school": "tsat", "question": TSAT_Q})
    assert status == 200


async def test_rate_limit_per_client_gives_429_with_retry_after(serve_app, client, settings):
    base, _ = await serve_app(with_(settings, rate_limit_per_minute=3))
    statuses = []
    for _ in range(4):
        status, out, headers = await post_ask(client, base, {"school": "tsat", "question": TSAT_Q})
        statuses.append(status)
    assert statuses == [200, 200, 200, 429]
    assert int(headers["Retry-After"]) >= 1 and "wait" in out["error"]
    async with client.get(f"{base}/healthz") as resp:  # health is never rate-limited
        assert resp.status == 200


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=2, clock=lambda: now[0])
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    assert limiter.take("a") == pytest.approx(30.0)
    assert limiter.take("b") == 0  # another client has its own bucket
    now[0] += 30.0
    assert limiter.take("a") == 0


# --- where the web chat is on, and the token ---

@pytest.mark.parametrize("host,expected", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("policybot.example.org", False),
])
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


async def test_web_chat_on_loopback_serves_page_and_assets(serve_app, client, settings):
    base, app = await serve_app(settings)
    async with client.get(f"{base}/") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        html = await resp.text()
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert 'name="viewport"' in html and '<script src="/app.js"' in html
    async with client.get(f"{base}/app.js") as resp:
        assert resp.status == 200 and "javascript" in resp.content_type
        assert "innerHTML" not in await resp.text()
    lines = [c.status_line(base) for c in app[CHANNELS]]
    assert lines == ["slack: off (set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN)",
                     "teams: off (set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD, or POLICYBOT_TEAMS_EMULATOR=1 for the Emulator)",
                     f"web chat: on at {base}/"]


async def test_web_chat_is_not_mounted_off_loopback_without_a_token(serve_app, client, settings):
    base, app = await serve_app(with_(settings, host="0.0.0.0"))
    for path in ("/", "/api/schools"):
        async with client.get(f"{base}{path}") as resp:
            assert resp.status == 404
    status = (await client.post(f"{base}/api/ask", json={"school": "tsat", "question": TSAT_Q})).status
    assert status == 404
    async with client.get(f"{base}/healthz") as resp:
        assert resp.status == 200
    web_line = [c.status_line(base) for c in app[CHANNELS]][-1]
    assert web_line == "web chat: off (bound to 0.0.0.0, not loopback; set POLICYBOT_WEB_TOKEN to turn it on)"


async def test_web_chat_off_loopback_needs_the_bearer_token(serve_app, client, settings):
    base, _ = await serve_app(with_(settings, host="0.0.0.0", web_token="s3cret-token"))
    body = {"school": "tsat", "question": TSAT_Q}
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic s3cret-token"}):
        status, out, resp_headers = await post_ask(client, base, body, headers)
        assert status == 401 and "token" in out["error"]
        assert resp_headers["WWW-Authenticate"].startswith("Bearer")
        async with client.get(f"{base}/api/schools", headers=headers) as resp:
            assert resp.status == 401
    good = {"Authorization": "Bearer s3cret-token"}
    status, out, _ = await post_ask(client, base, body, good)
    assert status == 200 and out["decision"] == "answer"
    async with client.get(f"{base}/api/schools", headers=good) as resp:
        assert resp.status == 200
    # The page itself and the health checks stay open: the page asks for the token.
    for path in ("/", "/healthz", "/readyz"):
        async with client.get(f"{base}{path}") as resp:
            assert resp.status == 200, path


# --- health and readiness ---

async def test_healthz(serve_app, client, settings):
    base, _ = await serve_app(settings)
    async with client.get(f"{base}/healthz") as resp:
        assert resp.status == 200 and await resp.json() == {"status": "ok"}


async def test_readyz_is_503_while_loading_then_200(serve_app, client, settings, bundled_bot):
    gate = threading.Event()

    def slow_factory(_settings):
        assert gate.wait(10), "test never released the bot build"
        return bundled_bot

    base, _ = await serve_app(settings, factory=slow_factory)
    try:
        async with client.get(f"{base}/readyz") as resp:
            assert resp.status == 503
            assert await resp.json() == {"ready": False, "reason": "loading knowledge base"}
        status, out, headers = await post_ask(client, base, {"school": "tsat", "question": TSAT_Q})
        assert status == 503 and "not ready" in out["error"] and headers["Retry-After"]
        async with client.get(f"{base}/healthz") as resp:  # alive while loading
            assert resp.status == 200
    finally:
        gate.set()
    ready = await wait_ready(client, base)
    assert ready["ready"] is True and ready["schools"] == 5 and ready["clauses"] > 100
    status, _, _ = await post_ask(client, base, {"school": "tsat", "question": TSAT_Q})
    assert status == 200


def _bm25_twin(bundled_bot):
    from bot.service import BM25, build_bot

    return build_bot(bundled_bot.settings, bundled_bot.kb, BM25, concerns=bundled_bot.concerns,
                     lexical=bundled_bot.retriever.lexical)


async def _readyz(client, base) -> dict:
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 200
        return await resp.json()


async def test_bm25_answers_at_once_while_the_semantic_stage_finishes(serve_app, client, settings, bundled_bot):
    """A staged factory (bot.service.build_stages' shape): /readyz is 200 and /api/ask answers
    from the BM25 bot while the fused one is built, then the fused one takes over."""
    gate = threading.Event()
    bm25 = _bm25_twin(bundled_bot)

    def staged(_settings):
        yield bm25
        assert gate.wait(10), "test never released the semantic stage"
        yield bundled_bot

    base, app = await serve_app(settings, factory=staged)
    try:
        first = await wait_ready(client, base, final=False)
        assert (first["retrieval"], first["semantic"]) == ("bm25", "loading")
        status, out, _ = await post_ask(client, base, {"school": "tsat", "question": TSAT_Q})
        assert status == 200 and "5.4" in [c["id"] for c in out["citations"]]
        from adapters.appkeys import RUNTIME
        assert app[RUNTIME].bot is bm25
    finally:
        gate.set()
    for _ in range(400):
        body = await _readyz(client, base)
        if body["semantic"] != "loading":
            break
        await asyncio.sleep(0.02)
    assert (body["retrieval"], body["semantic"]) == ("fused", "ready")
    assert app[RUNTIME].bot is bundled_bot


async def test_a_failing_semantic_stage_leaves_bm25_answering(serve_app, client, settings, bundled_bot, caplog):
    caplog.set_level(logging.INFO, logger="policybot")
    bm25 = _bm25_twin(bundled_bot)

    def staged(_settings):
        yield bm25
        raise MemoryError("no room for the vectors")

    base, _ = await serve_app(settings, factory=staged)
    await wait_ready(client, base, final=False)
    for _ in range(400):
        body = await _readyz(client, base)
        if body["semantic"] != "loading":
            break
        await asyncio.sleep(0.02)
    assert (body["retrieval"], body["semantic"]) == ("bm25", "unavailable")
    assert any("semantic stage failed (MemoryError" in r.getMessage() for r in caplog.records)
    status, _, _ = await post_ask(client, base, {"school": "tsat", "question": TSAT_Q})
    assert status == 200


@pytest.mark.parametrize("semantic,expected", [(True, ("fused", "ready")), (False, ("bm25", "off"))])
async def test_readyz_names_the_stages_of_a_one_stage_factory(serve_app, client, settings, bundled_bot,
                                                              semantic, expected):
    bot = bundled_bot if semantic else _bm25_twin(bundled_bot)
    base, _ = await serve_app(with_(settings, semantic=semantic), factory=lambda _s: bot)
    body = await wait_ready(client, base)
    assert (body["retrieval"], body["semantic"]) == expected


async def test_readyz_is_503_with_the_reason_when_the_build_fails(serve_app, client, settings):
    def broken(_settings):
        raise KnowledgeError([Problem("schools/x.yaml", 3, "missing lead")])

    base, _ = await serve_app(settings, factory=broken)
    for _ in range(400):
        async with client.get(f"{base}/readyz") as resp:
            body = await resp.json()
        if body["reason"] != "loading knowledge base":
            break
        await asyncio.sleep(0.02)
    assert resp.status == 503 and body["ready"] is False
    assert "1 problem" in body["reason"] and "kb check" in body["reason"]


async def test_readyz_runs_extra_checks_added_by_other_components(serve_app, client, settings):
    base, app = await serve_app(settings)
    from adapters.appkeys import READINESS_CHECKS

    async def store_down() -> str:
        return "escalation store unreachable"

    app[READINESS_CHECKS].append(store_down)
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 503 and (await resp.json())["reason"] == "escalation store unreachable"


# --- logs ---

async def test_logs_one_line_per_request_and_decision_without_the_question(serve_app, client, settings, caplog):
    caplog.set_level(logging.INFO, logger="policybot")
    base, _ = await serve_app(settings)
    _, _, headers = await post_ask(client, base, {"school": "tsat", "question": TSAT_Q})
    rid = headers["X-Request-Id"]
    lines = [r.getMessage() for r in caplog.records if rid in r.getMessage()]
    decision = next(line for line in lines if line.startswith("decision "))
    request = next(line for line in lines if line.startswith("request "))
    assert "school=tsat decision=answer reason=confident" in decision and "5.4" in decision
    assert "confidence=" in decision and " ms=" in decision
    assert "method=POST path=/api/ask status=200" in request
    assert all("insta" not in r.getMessage() for r in caplog.records)


async def test_question_text_is_logged_only_when_asked_for(serve_app, client, settings, caplog):
    caplog.set_level(logging.INFO, logger="policybot")
    base, _ = await serve_app(with_(settings, log_questions=True))
    await post_ask(client, base, {"school": "tsat", "question": TSAT_Q})
    assert any(f'question="{TSAT_Q}"' in r.getMessage() for r in caplog.records)


# --- graceful shutdown ---

class GatedBot:
    """The bundled bot, but each answer waits for the test's go-ahead, so one is in flight."""

    def __init__(self, bot):
        self.bot, self.kb, self.mode = bot, bot.kb, bot.mode
        self.entered, self.go = threading.Event(), threading.Event()

    def answer(self, school, question):
        self.entered.set()
        assert self.go.wait(10)
        return self.bot.answer(school, question)


async def test_shutdown_stops_accepting_and_lets_the_answer_in_flight_finish(settings, bundled_bot):
    gated = GatedBot(bundled_bot)
    app = create_app(with_(settings, port=0), factory=lambda _s: gated)
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(with_(settings, port=0), app, stop, started=bound.set_result))
    base = await bound
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base)
        in_flight = asyncio.create_task(session.post(f"{base}/api/ask", json={"school": "tsat", "question": TSAT_Q}))
        assert await asyncio.to_thread(gated.entered.wait, 10)
        stop.set()
        # New connections are refused while the answer is still running...
        refused = False
        for _ in range(200):
            try:
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
                    async with fresh.get(f"{base}/healthz"):
                        pass
            except aiohttp.ClientConnectionError:
                refused = True
                break
            await asyncio.sleep(0.01)
        assert refused
        assert not server.done() and not in_flight.done()
        # ...and the answer in flight still completes before the server finishes.
        gated.go.set()
        resp = await in_flight
        assert resp.status == 200 and (await resp.json())["citations"][0]["id"] == "5.4"
        resp.release()
    await server
