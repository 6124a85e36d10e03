"""The authoring API through the real server: a new school's .docx becomes a draft, is edited,
tried and accepted, and answers in the chat without a restart; an update shows the diff and
carries the live phrasings over; hostile uploads and bodies get 4xx JSON, never a 500; the
routes are behind the web chat's token rule."""
from __future__ import annotations

import io
import json
import re
import zipfile
from urllib.parse import urlencode

import pytest
from hypothesis import given, strategies as st

from bot.config import Settings
from bot.knowledge import documents
from bot.knowledge.load import load_knowledge
from tests.conftest import TODAY

from .conftest import wait_ready
from .policy_docx import write_policy_docx
from .test_hostile_web import JSON_VALUES, _sane

NEW_SCHOOL = {"school": "st-marys", "policy_id": "social-media-policy", "name": "St Mary's Primary School",
              "lead_name": "Mrs J Smith", "lead_email": "j.smith@st-marys.example.org",
              "deputy_email": "dsl@st-marys.example.org"}
LIVESTREAM_Q = "can I livestream the nativity play on my facebook?"


def _settings(root, **kw) -> Settings:
    kw.setdefault("reload_poll_seconds", 0)
    return Settings(knowledge_dir=root, today=TODAY, answer_threshold=0.0, semantic=False,
                    rate_limit_per_minute=100_000, **kw)


async def _upload(client, base, data: bytes, filename="policy.docx", **params):
    query = urlencode({"filename": filename, **params})
    async with client.post(f"{base}/api/authoring/drafts?{query}", data=data,
                           headers={"Content-Type": "application/octet-stream"}) as resp:
        return resp.status, await resp.json()


async def _post(client, url, body):
    async with client.post(url, json=body) as resp:
        return resp.status, await resp.json()


@pytest.fixture
def docx_bytes(tmp_path) -> bytes:
    return write_policy_docx(tmp_path / "st-marys.docx").read_bytes()


async def test_a_new_schools_docx_goes_from_draft_to_answered_without_a_restart(
        serve_app, client, tiny_kb, docx_bytes):
    base, app = await serve_app(_settings(tiny_kb), factory=None)
    await wait_ready(client, base)
    status, draft = await _upload(client, base, docx_bytes, "St Marys policy.docx", **NEW_SCHOOL)
    assert status == 201, draft
    assert [c["id"] for c in draft["clauses"]] == ["1.1", "1.2", "2.1", "2.1(a)", "2.1(b)", "2.2", "3.1"]
    assert draft["metadata"] == {"title": "St Mary's Social Media Policy", "adopted": "20.01.2025", "reviewed": "",
                                 "next_review": "Autumn 2027"}
    assert draft["problems"] == [] and draft["diff"] is None and draft["live"] == []
    assert draft["new_school"] == "St Mary's Primary School"
    ident = draft["id"]

    # Not live yet: the chat does not know the school.
    async with client.post(f"{base}/api/ask", json={"school": "st-marys", "question": LIVESTREAM_Q}) as resp:
        assert resp.status == 404

    status, edited = await _post(client, f"{base}/api/authoring/drafts/{ident}/edit",
                                 {"about": {"3.1": ["put the nativity on facebook live", "  ", "stream sports day"]}})
    assert status == 200 and edited["revision"] == 1
    assert next(c for c in edited["clauses"] if c["id"] == "3.1")["about"] == ["put the nativity on facebook live",
                                                                              "stream sports day"]
    status, tried = await _post(client, f"{base}/api/authoring/drafts/{ident}/ask", {"question": LIVESTREAM_Q})
    assert status == 200 and tried["school"] == "st-marys"
    assert tried["citations"][0]["id"] == "3.1"

    status, accepted = await _post(client, f"{base}/api/authoring/drafts/{ident}/accept", {})
    assert status == 200, accepted
    assert accepted["live"] is True and accepted["reload"]["outcome"] == "reloaded"
    assert accepted["written"] == ["sources/st-marys.txt", "policies/st-marys/social-media-policy.yaml",
                                   "schools/st-marys.yaml"]
    async with client.post(f"{base}/api/ask", json={"school": "st-marys", "question": LIVESTREAM_Q}) as resp:
        assert resp.status == 200
        answer = await resp.json()
    assert answer["citations"][0]["id"] == "3.1"
    assert answer["citations"][0]["text"] == "Staff must not livestream lessons or school events from a personal account."
    # What was written is a valid knowledge base (kb check's loader), with the lead's phrasings.
    kb = load_knowledge(tiny_kb)
    school = kb.schools["st-marys"]
    assert school.lead.name == "Mrs J Smith" and school.deputy.email == "dsl@st-marys.example.org"
    assert next(c for c in school.clauses if c.id == "3.1").about == ("put the nativity on facebook live",
                                                                       "stream sports day")
    # The draft is gone once accepted.
    async with client.get(f"{base}/api/authoring/drafts/{ident}") as resp:
        assert resp.status == 404


ALPHA_V2 = [
    ("heading", "1 Contact with pupils"),
    ("para", "1.1 Staff must not accept friend requests from current pupils on any social network."),
    ("para", "1.2 Staff may keep in touch with former pupils once they are over twenty five."),
    ("heading", "2 Photographs"),
    ("para", "2.1 Photographs of pupils must never be posted on personal accounts."),
    ("para", "2.2 Staff must not share images of pupils in messaging groups."),
]


async def test_an_update_shows_the_diff_and_carries_the_live_phrasings_over(serve_app, client, tiny_kb, tmp_path):
    base, _ = await serve_app(_settings(tiny_kb), factory=None)
    await wait_ready(client, base)
    data = write_policy_docx(tmp_path / "alpha.docx", ALPHA_V2, title="Alpha Social Media Policy").read_bytes()
    status, draft = await _upload(client, base, data, "alpha 2025.docx", school="alpha", policy_id="social-media")
    assert status == 201, draft
    assert draft["diff"]["counts"] == {"unchanged": 2, "renumbered": 0, "reworded": 1, "removed": 0, "added": 1}
    reworded = next(c for c in draft["diff"]["changes"] if c["kind"] == "reworded")
    assert reworded["new_id"] == "1.2"
    assert {"op": "delete", "text": "one."} in reworded["word_diff"] and {"op": "insert", "text": "five."} in reworded["word_diff"]
    by_id = {c["id"]: c for c in draft["clauses"]}
    assert by_id["1.1"]["about"] == ["pupil adds me on instagram"]       # carried over
    assert by_id["2.1"]["about"] == ["pics of my class on my facebook"]
    assert [c["id"] for c in draft["live"]] == ["1.1", "1.2", "2.1"]      # the live clauses beside
    assert draft["metadata"]["next_review"] == "Autumn 2027"
    status, accepted = await _post(client, f"{base}/api/authoring/drafts/{draft['id']}/accept", {})
    assert status == 200 and accepted["live"], accepted
    # The file it replaced is kept, hidden from the loader and the watcher.
    backups = list((tiny_kb / ".replaced").rglob("social-media.yaml"))
    assert len(backups) == 1 and "twenty one" in backups[0].read_text()
    async with client.post(f"{base}/api/ask", json={"school": "alpha",
                                                    "question": "can I share pics of pupils in a whatsapp group?"}) as r:
        assert (await r.json())["citations"][0]["text"] == "Staff must not share images of pupils in messaging groups."


async def test_a_draft_with_problems_names_them_and_cannot_be_accepted_until_fixed(
        serve_app, client, tiny_kb, tmp_path):
    base, _ = await serve_app(_settings(tiny_kb), factory=None)
    await wait_ready(client, base)
    data = write_policy_docx(tmp_path / "nodates.docx", dates=False).read_bytes()
    status, draft = await _upload(client, base, data, **NEW_SCHOOL)
    assert status == 201
    problems = [p["problem"] for p in draft["problems"]]
    assert any(p.startswith("knowledge/policies/st-marys/social-media-policy.yaml:")
               and "'next_review' is missing" in p for p in problems), problems
    assert all(p["hint"] for p in draft["problems"] if "next_review" in p["problem"])
    status, refused = await _post(client, f"{base}/api/authoring/drafts/{draft['id']}/accept", {})
    assert status == 422 and refused["problems"]
    assert not (tiny_kb / "schools/st-marys.yaml").exists()  # nothing written
    status, fixed = await _post(client, f"{base}/api/authoring/drafts/{draft['id']}/edit",
                                {"metadata": {"next_review": "Autumn 2027"}})
    assert status == 200 and fixed["problems"] == []
    status, accepted = await _post(client, f"{base}/api/authoring/drafts/{draft['id']}/accept", {})
    assert status == 200 and accepted["live"]


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


async def test_hostile_uploads_get_a_4xx_json_error(serve_app, client, tiny_kb, docx_bytes, monkeypatch):
    base, _ = await serve_app(_settings(tiny_kb, max_upload_bytes=64 * 1024), factory=None)
    await wait_ready(client, base)
    monkeypatch.setattr(documents, "MAX_DOCX_UNPACKED", 1024 * 1024)
    cases = [
        (b"x" * (65 * 1024), "big.txt", 413, "too large"),
        (b"MZ\x90\x00 an exe", "policy.exe", 415, "Word (.docx), PDF"),
        (b"no suffix", "policy", 415, "Word (.docx), PDF"),
        (docx_bytes, "policy.pdf", 415, "not a PDF file"),
        (b"%PDF-1.4 and then nothing", "policy.docx", 415, "not a Word .docx file"),
        (b"PK\x03\x04" + b"\x00" * 200, "policy.docx", 422, "not a Word .docx file that can be opened"),
        (_zip({"[Content_Types].xml": b"<junk"}), "policy.docx", 422, "not a Word .docx file that can be opened"),
        (_zip({"word/document.xml": b"\x00" * (2 * 1024 * 1024)}), "policy.docx", 422, "unpacks to 2 MB"),
        (b"%PDF-1.4\n" + bytes(range(256)) * 10, "policy.pdf", 422, "policy.pdf"),
        (b"\x00\x01binary", "policy.txt", 415, "not a text file"),
        (b"", "policy.docx", 400, "Choose the policy document"),
    ]
    for data, name, want, words in cases:
        status, body = await _upload(client, base, data, name, **NEW_SCHOOL)
        assert status == want and words in body["error"], (name, status, body)
        assert not re.search(r"upload\.(docx|pdf|txt)", body["error"])  # the lead's file name, not the temporary one
    for params, words in [({"school": "st-marys"}, "give its name, lead and deputy"),
                          ({"school": "Not A Slug", "name": "X"}, "lower-case letters"),
                          ({"school": "alpha", "name": "Alpha again"}, "already a school"),
                          ({"school": "alpha", "policy_id": "nope"}, "has no policy 'nope'"),
                          ({**NEW_SCHOOL, "lead_email": ""}, "one way to reach the lead")]:
        status, body = await _upload(client, base, docx_bytes, **params)
        assert status == 400 and words in body["error"], (params, body)
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 200


async def test_the_authoring_routes_are_behind_the_web_token(serve_app, client, tiny_kb, docx_bytes):
    base, _ = await serve_app(_settings(tiny_kb, web_token="s3cret"), factory=None)
    await wait_ready(client, base)
    status, body = await _upload(client, base, docx_bytes, **NEW_SCHOOL)
    assert status == 401
    async with client.post(f"{base}/api/knowledge/reload") as resp:
        assert resp.status == 401
    query = urlencode({"filename": "p.docx", **NEW_SCHOOL})
    async with client.post(f"{base}/api/authoring/drafts?{query}", data=docx_bytes,
                           headers={"Authorization": "Bearer s3cret"}) as resp:
        assert resp.status == 201
    # Off loopback with no token, none of it is mounted (the web chat's rule).
    base2, _ = await serve_app(_settings(tiny_kb, host="0.0.0.0"), factory=None)
    for path in ("/author", "/api/authoring/drafts", "/api/knowledge/reload"):
        async with client.post(base2 + path) as resp:
            assert resp.status in (404, 405)


# --- fuzzing the JSON endpoints and the upload ---

_SHARED: dict = {}


async def _shared_draft(serve_app, client, tmp_path_factory):
    key = id(serve_app)
    if key not in _SHARED:
        _SHARED.clear()
        from tests.conftest import POLICY_A, SCHOOL_A, write

        root = tmp_path_factory.mktemp("authoring-fuzz") / "knowledge"
        write(root, "schools/alpha.yaml", SCHOOL_A)
        write(root, "policies/alpha/social-media.yaml", POLICY_A)
        base, _ = await serve_app(_settings(root), factory=None)
        await wait_ready(client, base)
        doc = write_policy_docx(root.parent / "p.docx").read_bytes()
        status, draft = await _upload(client, base, doc, **NEW_SCHOOL)
        assert status == 201
        _SHARED[key] = base, draft["id"], doc
    return _SHARED[key]


EDIT_BODIES = (st.fixed_dictionaries({}, optional={
    "about": st.dictionaries(st.sampled_from(["1.1", "3.1", "nope"]) | st.text(max_size=8),
                             st.lists(st.text(max_size=250), max_size=25) | JSON_VALUES, max_size=3) | JSON_VALUES,
    "metadata": st.dictionaries(st.sampled_from(["title", "next_review", "adopted", "id"]) | st.text(max_size=8),
                                st.text(max_size=250) | JSON_VALUES, max_size=3) | JSON_VALUES})
    .map(lambda d: json.dumps(d).encode())
    | JSON_VALUES.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200))
ASK_BODIES = (st.fixed_dictionaries({"question": st.text(max_size=300) | JSON_VALUES}).map(lambda d: json.dumps(d).encode())
              | JSON_VALUES.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200))


@given(body=EDIT_BODIES | ASK_BODIES, path=st.sampled_from(["edit", "ask"]), ident=st.sampled_from(["ok", "x", ""]))
async def test_fuzz_draft_json_endpoints(serve_app, client, tmp_path_factory, body, path, ident):
    base, draft_id, _ = await _shared_draft(serve_app, client, tmp_path_factory)
    url = f"{base}/api/authoring/drafts/{draft_id if ident == 'ok' else ident or 'none'}/{path}"
    async with client.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
        _sane(resp.status, resp.content_type, await resp.read())
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 200


@given(data=st.binary(max_size=2000), name=st.sampled_from(["p.docx", "p.pdf", "p.txt", "p.md", "p.html", "p.exe", ""])
       | st.text(max_size=40), params=st.dictionaries(st.sampled_from(["school", "policy_id", "name", "lead_email"]),
                                                      st.text(max_size=30), max_size=3),
       splice=st.integers(0, 3))
async def test_fuzz_upload(serve_app, client, tmp_path_factory, data, name, params, splice):
    base, _, doc = await _shared_draft(serve_app, client, tmp_path_factory)
    if splice:  # a real .docx with part of it overwritten: damaged, but a zip to start with
        cut = len(doc) * splice // 4
        data = doc[:cut] + data + doc[cut + len(data):]
    query = urlencode({"filename": name, **params} if params else {"filename": name, **NEW_SCHOOL})
    async with client.post(f"{base}/api/authoring/drafts?{query}", data=data) as resp:
        _sane(resp.status, resp.content_type, await resp.read())
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 200


def test_uploads_are_capped_by_their_own_setting():
    from bot.config import ConfigError, from_env

    assert from_env({}).max_upload_bytes == 10 * 1024 * 1024
    assert from_env({"POLICYBOT_MAX_UPLOAD_BYTES": "2048"}).max_upload_bytes == 2048
    assert from_env({"POLICYBOT_RELOAD_POLL_SECONDS": "0"}).reload_poll_seconds == 0
    with pytest.raises(ConfigError, match="POLICYBOT_RELOAD_POLL_SECONDS"):
        from_env({"POLICYBOT_RELOAD_POLL_SECONDS": "soon"})


async def test_a_draft_is_kept_in_the_database_for_a_restart_and_every_worker(
        serve_app, client, tiny_kb, docx_bytes, database):
    """Two servers on one database stand for `serve --workers 2` (or one server before and after a
    restart): a draft uploaded to one is shown, edited and accepted through the other, and once
    discarded it is gone from both."""
    settings = _settings(tiny_kb, **database)
    base_a, _ = await serve_app(settings, factory=None, escalations=True)
    base_b, _ = await serve_app(settings, factory=None, escalations=True)
    await wait_ready(client, base_a)
    await wait_ready(client, base_b)
    status, draft = await _upload(client, base_a, docx_bytes, "St Marys policy.docx", **NEW_SCHOOL)
    assert status == 201, draft
    ident = draft["id"]

    async with client.get(f"{base_b}/api/authoring/drafts/{ident}") as resp:
        assert resp.status == 200
        shown = await resp.json()
    assert [c["id"] for c in shown["clauses"]] == [c["id"] for c in draft["clauses"]]
    assert shown["new_school"] == "St Mary's Primary School"
    status, edited = await _post(client, f"{base_b}/api/authoring/drafts/{ident}/edit",
                                 {"about": {"3.1": ["put the nativity on facebook live"]}})
    assert status == 200 and edited["revision"] == 1
    # The first server sees the edit (it re-reads a newer revision) and tries questions on it.
    async with client.get(f"{base_a}/api/authoring/drafts/{ident}") as resp:
        again = await resp.json()
    assert again["revision"] == 1
    assert next(c for c in again["clauses"] if c["id"] == "3.1")["about"] == ["put the nativity on facebook live"]
    status, tried = await _post(client, f"{base_a}/api/authoring/drafts/{ident}/ask", {"question": LIVESTREAM_Q})
    assert status == 200 and tried["citations"][0]["id"] == "3.1"

    async with client.delete(f"{base_a}/api/authoring/drafts/{ident}") as resp:
        assert resp.status == 200
    for base in (base_a, base_b):
        async with client.get(f"{base}/api/authoring/drafts/{ident}") as resp:
            assert resp.status == 404
            assert "30 days" in (await resp.json())["error"]

    # A second upload, accepted through the other server: written once, gone from both.
    status, draft = await _upload(client, base_a, docx_bytes, "St Marys policy.docx", **NEW_SCHOOL)
    ident = draft["id"]
    status, accepted = await _post(client, f"{base_b}/api/authoring/drafts/{ident}/accept", {})
    assert status == 200 and accepted["live"] is True, accepted
    assert load_knowledge(tiny_kb).schools["st-marys"].name == "St Mary's Primary School"
    async with client.get(f"{base_a}/api/authoring/drafts/{ident}") as resp:
        assert resp.status == 404
