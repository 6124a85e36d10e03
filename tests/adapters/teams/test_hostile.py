"""Hostile and malformed activities at /api/messages (issue 16), as real Activity JSON over HTTP
against the fake Bot Connector: deep JSON, activities the bot could never answer (refused, never
stored), the Emulator replying only to loopback; then fuzzing in Emulator and authenticated mode."""
from __future__ import annotations

import copy
import json

from hypothesis import given, strategies as st

from adapters.teams.channel import TEAMS_ADAPTER

from .conftest import activity, post

Q = "can I follow a parent back on insta?"


async def _nothing_stored(app) -> None:
    store = app[TEAMS_ADAPTER].store
    assert await store.pending() == [] and await store.get(1) is None


async def test_json_nested_50000_deep_is_a_400(teams_app, client):
    base, app = await teams_app()
    status, text = await post(client, base, "[" * 50_000 + "]" * 50_000)
    assert status == 400 and json.loads(text)["error"]
    body = activity(Q, service_url="http://127.0.0.1:9/", value={"deep": json.loads("[" * 60 + "]" * 60)})
    body["value"] = "[" * 50_000  # a string that looks deep is only a string
    assert (await post(client, base, body))[0] == 200


async def test_activities_the_bot_could_never_answer_are_refused_and_not_stored(teams_app, client, connector):
    base, app = await teams_app()
    good = activity(Q, service_url=connector.service_url, conv="a:hostile")
    broken = {
        "no conversation": {k: v for k, v in good.items() if k != "conversation"},
        "conversation without id": {**good, "conversation": {"conversationType": "personal"}},
        "100,000-character id": {**good, "id": "x" * 100_000},
        "100,000-character conversation id": {**good, "conversation": {**good["conversation"], "id": "c" * 100_000}},
        "no id": {k: v for k, v in good.items() if k != "id"},
        "no serviceUrl": {k: v for k, v in good.items() if k != "serviceUrl"},
        "serviceUrl not a URL": {**good, "serviceUrl": "javascript:alert(1)"},
        "no sender": {k: v for k, v in good.items() if k != "from"},
        "tenant as a string": {**good, "channelData": {"tenant": "tenant-tsat"}},
        "conversation as a list": {**good, "conversation": [good["conversation"]]},
        "text as an object": {**good, "text": {"q": Q}},
        "entities not a list": {**good, "entities": "mention"},
    }
    for case, body in broken.items():
        status, text = await post(client, base, body)
        assert status == 400, (case, status, text)
        assert json.loads(text)["error"] == "not a Bot Framework activity"
    await _nothing_stored(app)
    assert await app[TEAMS_ADAPTER].store.reference("conversation:a:hostile") is None
    assert connector.calls == []
    assert (await post(client, base, good))[0] == 200  # and a good one still works
    assert await connector.wait_messages(1, "a:hostile")


async def test_the_emulator_only_replies_to_loopback_service_urls(teams_app, client, connector):
    base, app = await teams_app()
    for url in ("https://attacker.example/", "http://203.0.113.9:3978/", "http://127.0.0.1.attacker.example/",
                "http://[2001:db8::1]/"):
        status, _ = await post(client, base, activity(Q, service_url=url, conv="a:elsewhere"))
        assert status == 400, url
    await _nothing_stored(app)
    assert await post(client, base, activity(Q, service_url=connector.service_url, conv="a:here"))
    assert await connector.wait_messages(1, "a:here")


# --- fuzzing: a real activity with one part replaced by arbitrary JSON ---

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(st.characters(blacklist_categories=()), max_size=50),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=10), kids, max_size=3),
                    max_leaves=8)
PATHS = st.sampled_from([("type",), ("id",), ("serviceUrl",), ("conversation",), ("conversation", "id"),
                         ("conversation", "conversationType"), ("from",), ("from", "id"), ("from", "aadObjectId"),
                         ("recipient",), ("channelData",), ("channelData", "tenant"), ("channelData", "tenant", "id"),
                         ("text",), ("value",), ("entities",), ("name",), ("membersAdded",), ("channelId",)])
MUTATIONS = st.lists(st.tuples(PATHS, JSON | st.just(KeyError)), min_size=1, max_size=3)
TYPES = st.sampled_from(["message", "invoke", "conversationUpdate", "installationUpdate", "typing"])


def _mutate(body: dict, mutations) -> dict:
    body = copy.deepcopy(body)
    for path, value in mutations:
        target = body
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if value is KeyError:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    return body


async def _check(client, base, app, body, token=None) -> None:
    status, text = await post(client, base, body, token)
    assert status in (200, 400, 401), (status, text[:300])
    if status != 200:
        assert json.loads(text)["error"]
    for item in await app[TEAMS_ADAPTER].store.pending():  # whatever was stored is whole
        assert item.incoming.conversation_id and item.incoming.activity_id and item.incoming.reference
    async with client.get(f"{base}/healthz") as resp:
        assert resp.status == 200


_APPS: dict = {}


@given(kind=TYPES, text=st.text(st.characters(blacklist_categories=()), max_size=200), mutations=MUTATIONS)
async def test_fuzz_messages_emulator(teams_app, client, connector, kind, text, mutations):
    if id(teams_app) not in _APPS:
        _APPS.clear()
        _APPS[id(teams_app)] = await teams_app()
    base, app = _APPS[id(teams_app)]
    body = _mutate(activity(text or Q, service_url=connector.service_url, type_=kind), mutations)
    await _check(client, base, app, body)


@given(text=st.text(st.characters(blacklist_categories=()), max_size=200), mutations=MUTATIONS)
async def test_fuzz_messages_authenticated(teams_app, authed_settings, client, connector, key_server, text, mutations):
    if id(teams_app) not in _APPS:
        _APPS.clear()
        _APPS[id(teams_app)] = await teams_app(authed_settings)
    base, app = _APPS[id(teams_app)]
    body = _mutate(activity(text or Q, service_url=connector.service_url), mutations)
    await _check(client, base, app, body, key_server.token(connector.service_url))


@given(raw=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
async def test_fuzz_messages_raw_bodies(teams_app, client, raw):
    if id(teams_app) not in _APPS:
        _APPS.clear()
        _APPS[id(teams_app)] = await teams_app()
    base, app = _APPS[id(teams_app)]
    await _check(client, base, app, raw)
