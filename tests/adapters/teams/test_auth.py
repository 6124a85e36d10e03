"""With credentials configured: the SDK's token validation against signing keys served on
loopback. A valid channel token is answered; a missing, forged, expired, unknown-key,
wrong-audience or wrong-service-URL token gets 401 and the bot code never runs.

How botbuilder-python tests this (libraries/botframework-connector/tests/test_auth.py): it
validates recorded channel tokens, with expiry switched off, against the live
login.botframework.com signing keys, and gets fresh ones with MicrosoftAppCredentials; both need
the internet. Here the same SDK validation code reads its keys from a local OpenID server
(TEAMS_OPENID_METADATA_URL), tokens are signed with a key generated per run, and expiry is on.
"""
from __future__ import annotations

import pytest

from adapters.teams.channel import TEAMS_ADAPTER

from .conftest import OUTBOUND_TOKEN, activity, new_key, post

QUESTION = "can I post photos of sports day on my own instagram?"


async def test_a_valid_channel_token_is_answered_with_the_bots_own_outbound_token(
        teams_app, authed_settings, client, connector, key_server):
    base, app = await teams_app(authed_settings)
    token = key_server.token(connector.service_url)
    status, _ = await post(client, base, activity(QUESTION, service_url=connector.service_url, conv="a:ok"), token)
    assert status == 200
    (reply,) = await connector.wait_messages(1, "a:ok")
    assert reply["auth"] == f"Bearer {OUTBOUND_TOKEN}"
    assert key_server.hits >= 1  # the keys were fetched (on a worker thread: the server shares this loop)


def _bad_tokens(key_server, service_url: str) -> dict[str, str | None]:
    return {
        "missing": None,
        "not a jwt": "not-a-token",
        "forged (signed by another key, same key id)": key_server.token(service_url, key=new_key()),
        "expired": key_server.token(service_url, expires_in=-3600),
        "unknown key id": key_server.token(service_url, kid="key-nobody-published"),
        "another bot's audience": key_server.token(service_url, aud="some-other-app-id"),
        "wrong issuer": key_server.token(service_url, iss="https://evil.example"),
        "token for another service url": key_server.token("https://elsewhere.example/teams/"),
    }


@pytest.mark.parametrize("case", ["missing", "not a jwt", "forged (signed by another key, same key id)", "expired",
                                  "unknown key id", "another bot's audience", "wrong issuer",
                                  "token for another service url"])
async def test_bad_tokens_get_401_and_the_bot_never_runs(teams_app, authed_settings, client, connector, key_server,
                                                         case, caplog):
    base, app = await teams_app(authed_settings)
    token = _bad_tokens(key_server, connector.service_url)[case]
    body = activity("a pupil named Jamie Example sent me a photo", service_url=connector.service_url,
                    conv="a:bad", activity_id="bad-1")
    status, text = await post(client, base, body, token)
    assert status == 401, (case, status, text)
    store = app[TEAMS_ADAPTER].store
    assert await store.get(1) is None and await store.reference("conversation:a:bad") is None
    assert connector.calls == []
    assert "Jamie Example" not in caplog.text  # logs carry ids, never the rejected question


async def test_emulator_mode_accepts_no_token_and_says_so(teams_app, teams_settings, client, connector):
    from adapters.teams.channel import teams_channel

    assert "no authentication" in teams_channel(teams_settings).status_line("http://127.0.0.1:3978")
    base, _ = await teams_app(teams_settings)
    assert (await post(client, base, activity(QUESTION, service_url=connector.service_url, conv="a:emu")))[0] == 200
    (reply,) = await connector.wait_messages(1, "a:emu")
    assert reply["activity"]["attachments"]


async def test_signing_keys_unreachable_is_503_not_401(teams_app, authed_settings, client, connector):
    from tests.adapters.conftest import with_

    dead = with_(authed_settings, teams_openid_metadata_url="http://127.0.0.1:9/openid")
    base, _ = await teams_app(dead)
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.c2ln"
    status, _ = await post(client, base, activity(QUESTION, service_url=connector.service_url), token)
    assert status == 503
