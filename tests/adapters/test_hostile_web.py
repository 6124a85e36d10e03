"""Hostile and malformed input to the web API and the request log (issue 16): the examples the
outside probe found, each as a regular test, then property-based fuzzing of every web route.
The property: a 4xx JSON error or a sane answer, never a 500, and the server still healthy."""
from __future__ import annotations

import io
import json
import logging
import sys

from hypothesis import given, strategies as st

from adapters.escalation_wiring import ESCALATIONS
from adapters.server import configure_logging

from .conftest import wait_ready, with_

SURROGATE_Q = "can I post \ud800 photos of sports day on my instagram account?"


async def _server(serve_app, client, settings, tmp_path, escalations=True):
    s = with_(settings, db_path=tmp_path / "esc.sqlite3", worker_poll_seconds=0.05, rate_limit_per_minute=100_000)
    base, app = await serve_app(s, escalations=escalations)
    await wait_ready(client, base)
    return base, app


async def _post(client, url, data: bytes):
    async with client.post(url, data=data, headers={"Content-Type": "application/json"}) as resp:
        return resp.status, resp.content_type, await resp.read()


async def _healthy(client, base) -> None:
    async with client.get(f"{base}/healthz") as resp:
        assert resp.status == 200
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 200


def _sane(status: int, content_type: str, raw: bytes) -> dict:
    assert status != 500 and status < 500 or status == 503, (status, raw[:300])
    assert content_type == "application/json", raw[:300]
    body = json.loads(raw)
    if status >= 400:
        assert isinstance(body.get("error"), str) and body["error"] and "Traceback" not in body["error"]
    return body


# --- the probe's rows ---

async def test_a_lone_surrogate_in_a_question_is_answered_not_a_500(serve_app, client, settings, tmp_path):
    base, app = await _server(serve_app, client, settings, tmp_path)
    body = json.dumps({"school": "tsat", "question": SURROGATE_Q}).encode()  # "\ud800" escaped, valid JSON
    for path, ok in (("/api/ask", 200), ("/api/escalate", 201)):
        status, _, raw = await _post(client, base + path, body)
        assert status == ok, raw[:300]
    stored = await app[ESCALATIONS].service.list()
    assert stored and all("\ud800" not in e.question for e in stored)
    for e in stored:
        e.question.encode("utf-8")  # nothing stored that UTF-8 cannot hold
    # a question that is mostly surrogates is refused politely, like binary junk
    status, _, raw = await _post(client, base + "/api/ask", json.dumps({"school": "tsat", "question": "\ud800" * 40}).encode())
    assert status == 400 and "text question" in json.loads(raw)["error"]


async def test_json_nested_16000_deep_is_a_400_not_a_recursion_error(serve_app, client, settings, tmp_path):
    base, _ = await _server(serve_app, client, settings, tmp_path, escalations=False)
    for body in ("[" * 16_000 + "]" * 16_000, '{"school": "tsat", "question": ' + "[" * 16_000 + "]" * 16_000 + "}"):
        status, _, raw = await _post(client, base + "/api/ask", body.encode())
        assert status == 400 and "JSON" in json.loads(raw)["error"]
    await _healthy(client, base)


async def test_a_forged_request_log_line_is_escaped(serve_app, client, settings, tmp_path):
    """GET /api/escalations/x%0Aescalation ... answered by ...: the path decodes to a newline; the log
    (the last-resort notifier) must show one line, with NUL and terminal escapes made visible."""
    base, _ = await _server(serve_app, client, settings, tmp_path, escalations=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    real_stderr, sys.stderr = sys.stderr, out
    try:
        configure_logging()  # what `policybot serve` installs
    finally:
        sys.stderr = real_stderr
    try:
        forged = "/api/escalations/x%0Aescalation%20E1%20answered%20by%20Ms%20Lead%00%1b[2J%1b]0;pwned%07"
        async with client.get(base + forged) as resp:
            assert resp.status in (404, 503)
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    lines = [line for line in out.getvalue().splitlines() if "request id=" in line or "answered by" in line]
    assert len(lines) == 1, out.getvalue()
    (line,) = lines
    assert line.startswith("request id=") and "\x00" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert "path=/api/escalations/x%0Aescalation%20E1%20answered%20by%20Ms%20Lead%00%1B" in line


# --- fuzzing ---

_SERVERS: dict[int, tuple] = {}


async def _shared(serve_app, client, settings, tmp_path_factory):
    """One server for all of a fuzz test's examples (fixtures are set up once per test, not per
    example), so "still healthy afterwards" is checked against everything sent before."""
    key = id(serve_app)
    if key not in _SERVERS:
        _SERVERS.clear()
        _SERVERS[key] = await _server(serve_app, client, settings, tmp_path_factory.mktemp("fuzz"))
    return _SERVERS[key]

JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(
    st.characters(blacklist_categories=()), max_size=40)
JSON_VALUES = st.recursive(JSON_LEAVES, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=300)
SCHOOLS = st.sampled_from(["tsat", "lzw", "nowhere", ""]) | ANY_TEXT
CONVERSATIONS = st.sampled_from(["0123456789abcdef" * 2, "f" * 64]) | ANY_TEXT | JSON_VALUES
ASK_BODIES = (st.fixed_dictionaries({"school": SCHOOLS, "question": ANY_TEXT | JSON_VALUES},
                                    optional={"client": JSON_VALUES, "conversation": CONVERSATIONS,
                                              "turn": st.just("t0123456789abcdef") | JSON_VALUES}
                                    ).map(lambda d: json.dumps(d).encode())
              | JSON_VALUES.map(lambda v: json.dumps(v).encode())
              | st.binary(max_size=300)
              | st.integers(1, 3000).map(lambda n: (b"[" * n) + (b"]" * n)))


@given(body=ASK_BODIES, path=st.sampled_from(["/api/ask", "/api/escalate"]))
async def test_fuzz_ask_and_escalate(serve_app, client, settings, tmp_path_factory, body, path):
    base, app = await _shared(serve_app, client, settings, tmp_path_factory)
    status, content_type, raw = await _post(client, base + path, body)
    out = _sane(status, content_type, raw)
    if status == 200:
        assert out["decision"] in ("answer", "escalate", "urgent") and 0 <= out["confidence"] <= 1
    if status == 201:
        esc = await app[ESCALATIONS].service.get(out["escalation"]["id"])
        assert esc.question.strip() and esc.question.encode("utf-8")  # whole, and storable
    await _healthy(client, base)


@given(ident=st.text(st.characters(blacklist_categories=()), min_size=1, max_size=200))
async def test_fuzz_escalation_status(serve_app, client, settings, tmp_path_factory, ident):
    base, _ = await _shared(serve_app, client, settings, tmp_path_factory)
    from urllib.parse import quote
    async with client.get(base + "/api/escalations/" + quote(ident, safe="", errors="surrogatepass")) as resp:
        raw = await resp.read()
        assert resp.status in (200, 404, 405) or resp.status < 500, (resp.status, raw[:200])
        if resp.status == 404 and resp.content_type == "application/json":
            assert "error" in json.loads(raw)
    await _healthy(client, base)


# Bodies over the cap (POLICYBOT_MAX_BODY_BYTES, 32,768 by default) must be a 413, never a 400 or a 500.
OVERSIZED = st.integers(32_800, 40_000).map(lambda n: b'{"ref": "web:' + b"x" * n + b'", "helpful": true}')
FEEDBACK_BODIES = (st.fixed_dictionaries({"ref": st.just("web:0000000000000000") | ANY_TEXT | JSON_VALUES,
                                          "helpful": JSON_VALUES}, optional={"client": JSON_VALUES}
                                         ).map(lambda d: json.dumps(d).encode())
                   | JSON_VALUES.map(lambda v: json.dumps(v).encode())
                   | st.binary(max_size=300)
                   | st.integers(1, 3000).map(lambda n: (b"[" * n) + (b"]" * n))
                   | OVERSIZED)


@given(body=FEEDBACK_BODIES)
async def test_fuzz_feedback(serve_app, client, settings, tmp_path_factory, body):
    base, _ = await _shared(serve_app, client, settings, tmp_path_factory)
    status, content_type, raw = await _post(client, base + "/api/feedback", body)
    out = _sane(status, content_type, raw)
    assert status in (200, 400, 404, 413), (status, out)
    if len(body) > 32_768:
        assert status == 413
    await _healthy(client, base)


HISTORY_BODIES = (st.fixed_dictionaries({"conversation": CONVERSATIONS}).map(lambda d: json.dumps(d).encode())
                  | JSON_VALUES.map(lambda v: json.dumps(v).encode())
                  | st.binary(max_size=300)
                  | OVERSIZED)


@given(body=HISTORY_BODIES)
async def test_fuzz_history(serve_app, client, settings, tmp_path_factory, body):
    base, _ = await _shared(serve_app, client, settings, tmp_path_factory)
    status, content_type, raw = await _post(client, base + "/api/history", body)
    out = _sane(status, content_type, raw)
    assert status in (200, 400, 413), (status, out)
    if status == 200:
        assert isinstance(out["turns"], list)
    if len(body) > 32_768:
        assert status == 413
    await _healthy(client, base)
