"""A fake Bot Connector service and a fake OpenID key server on loopback, real Activity JSON,
signed channel tokens, and the real server with the Teams channel mounted on it."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

import jwt
import pytest
from aiohttp import web
from botframework.connector.auth import PasswordServiceClientCredentialFactory
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from msrest.authentication import BasicTokenAuthentication

from adapters.teams.channel import teams_channel

from ..conftest import eventually, opened_store, running, stored, with_  # noqa: F401 - re-exported for the tests

BOT_ID = "28:policybot-bot"
APP_ID = "11111111-2222-3333-4444-555555555555"
OUTBOUND_TOKEN = "outbound-test-token"
TENANT_A, TENANT_B, TENANT_X = "tenant-tsat", "tenant-kingsmead", "tenant-unmapped"


@dataclass
class FakeConnector:
    """Records every Bot Connector call as a dict (conversation, reply_to, activity, auth);
    `fail(n, status, retry_after)` makes the next n calls answer with that status."""

    calls: list[dict] = field(default_factory=list)
    attempts: int = 0
    failures: list[tuple[int, str | None]] = field(default_factory=list)
    base_url: str = ""

    @property
    def service_url(self) -> str:
        return self.base_url + "/teams/"

    def fail(self, n: int, status: int, retry_after: str | None = None) -> None:
        self.failures.extend([(status, retry_after)] * n)

    def messages(self, conversation: str | None = None) -> list[dict]:
        return [c for c in self.calls if c["activity"].get("type") == "message"
                and (conversation is None or c["conversation"] == conversation)]

    def typing(self) -> list[dict]:
        return [c for c in self.calls if c["activity"].get("type") == "typing"]

    async def wait_messages(self, count: int = 1, conversation: str | None = None, polls: int = 1500) -> list[dict]:
        for _ in range(polls):
            if len(self.messages(conversation)) >= count:
                return self.messages(conversation)
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.messages(conversation))} messages, expected {count}: {self.calls}")

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.failures:
            status, retry_after = self.failures.pop(0)
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return web.json_response({"error": {"code": "Throttled" if status == 429 else "ServiceError",
                                                "message": "fake failure"}}, status=status, headers=headers)
        parts = [unquote(p) for p in request.match_info["tail"].split("/") if p]
        # v3 / conversations / {conversation} / activities [/ {reply_to}]
        assert parts[:2] == ["v3", "conversations"] and parts[3] == "activities", parts
        self.calls.append({"conversation": parts[2], "reply_to": parts[4] if len(parts) > 4 else None,
                           "activity": await request.json(), "auth": request.headers.get("Authorization", "")})
        return web.json_response({"id": f"sent-{len(self.calls)}"})


@pytest.fixture
async def connector():
    fake = FakeConnector()
    app = web.Application()
    app.router.add_post("/teams/{tail:.*}", fake.handle)
    async with running(app) as base:
        fake.base_url = base
        yield fake


def activity(text: str = "", *, service_url: str, tenant: str = TENANT_A, conv: str = "a:personal-1",
             conv_type: str = "personal", activity_id: str | None = None, user: str = "29:user-1",
             aad: str = "aad-user-1", user_name: str = "Sam Teacher", team: str | None = None,
             channel: str | None = None, mention: bool = False, value: dict | None = None,
             type_: str = "message", **extra) -> dict:
    """A Teams activity as the channel posts it (the shape of real captured activities)."""
    body = {
        "type": type_, "id": activity_id or uuid.uuid4().hex, "timestamp": "2026-11-25T10:00:00.000Z",
        "serviceUrl": service_url, "channelId": "msteams",
        "from": {"id": user, "name": user_name, "aadObjectId": aad},
        "conversation": {"id": conv, "conversationType": conv_type, "tenantId": tenant,
                         **({"isGroup": True} if conv_type != "personal" else {})},
        "recipient": {"id": BOT_ID, "name": "policybot"},
        "channelData": {"tenant": {"id": tenant},
                        **({"team": {"id": team}} if team else {}),
                        **({"channel": {"id": channel}} if channel else {})},
        "locale": "en-GB", "textFormat": "plain",
    }
    if type_ == "message":
        body["text"] = f"<at>policybot</at> {text}" if mention else text
        if mention:
            body["entities"] = [{"type": "mention", "text": "<at>policybot</at>",
                                 "mentioned": {"id": BOT_ID, "name": "policybot"}}]
    if value is not None:
        body["value"] = value
    body.update(extra)
    return body


def channel_activity(text: str, *, service_url: str, activity_id: str, team: str = "19:team-a@thread.tacv2",
                     channel: str = "19:chan-a@thread.tacv2", tenant: str = TENANT_A, **kw) -> dict:
    """A channel post @mentioning the bot: a new thread, whose id carries the message id."""
    return activity(text, service_url=service_url, activity_id=activity_id, tenant=tenant,
                    conv=f"{channel};messageid={activity_id}", conv_type="channel", team=team, channel=channel,
                    mention=True, **kw)


def install(*, service_url: str, tenant: str = TENANT_A, conv: str = "a:personal-lead", user: str = "29:lead",
            aad: str = "aad-lead", name: str = "Ms Lead") -> dict:
    """The bot added to someone's personal scope."""
    return activity(service_url=service_url, tenant=tenant, conv=conv, user=user, aad=aad, user_name=name,
                    type_="conversationUpdate", membersAdded=[{"id": BOT_ID}, {"id": user}])


async def post(client, base: str, body: dict | str | bytes, token: str | None = None,
               content_type: str = "application/json") -> tuple[int, str]:
    data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with client.post(f"{base}/api/messages", data=data, headers=headers) as resp:
        return resp.status, await resp.text()


# --- authentication: a fake OpenID key server and channel tokens signed like Bot Framework's ---

@dataclass
class KeyServer:
    key: rsa.RSAPrivateKey
    kid: str = "key-1"
    url: str = ""
    hits: int = 0

    def jwk(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "endorsements": ["msteams"]}

    def token(self, service_url: str, *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None,
              aud: str = APP_ID, iss: str = "https://api.botframework.com", expires_in: int = 3600) -> str:
        now = int(time.time())
        claims = {"iss": iss, "aud": aud, "serviceurl": service_url, "nbf": now - 60, "iat": now - 60,
                  "exp": now + expires_in}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def key_server():
    server = KeyServer(new_key())
    app = web.Application()

    async def metadata(request: web.Request) -> web.Response:
        server.hits += 1
        return web.json_response({"issuer": "https://api.botframework.com", "jwks_uri": server.url + "/keys"})

    async def keys(request: web.Request) -> web.Response:
        return web.json_response({"keys": [server.jwk()]})

    app.router.add_get("/openid", metadata)
    app.router.add_get("/keys", keys)
    async with running(app) as base:
        server.url = base
        yield server


class StaticTokenCredentials(PasswordServiceClientCredentialFactory):
    """The SDK's password factory (so app-id checks are the real ones) with the outbound token
    fixed: the real one comes from Entra ID over the internet, which tests cannot reach."""

    async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate_authority):
        return BasicTokenAuthentication({"access_token": OUTBOUND_TOKEN})


@pytest.fixture
def teams_settings(settings, database):
    """Emulator mode: no app id, no authentication (the local run the Emulator uses); the database
    is SQLite or PostgreSQL (each test runs on both)."""
    return with_(settings, teams_emulator=True,
                 teams_tenant_schools=f"{TENANT_A}={'tsat'},{TENANT_B}=kingsmead,"
                                      f"{TENANT_A}:19:team-k@thread.tacv2=kingsmead",
                 teams_api_retries=3, **database)


@pytest.fixture
def authed_settings(teams_settings, key_server):
    return with_(teams_settings, teams_emulator=False, microsoft_app_id=APP_ID, microsoft_app_password="pw",
                 microsoft_app_tenant_id="bot-tenant", teams_openid_metadata_url=key_server.url + "/openid")


@pytest.fixture
async def teams_app(serve_app, teams_settings):
    """teams_app(settings=None, **create_app_kwargs) -> (base_url, app) with only Teams mounted."""

    async def start(settings=None, **kwargs):
        s = settings or teams_settings
        channel = teams_channel(s, credentials_factory=StaticTokenCredentials(s.microsoft_app_id or None,
                                                                              s.microsoft_app_password or None),
                                retry_base_seconds=0.01)
        return await serve_app(s, channels=[channel], **kwargs)

    return start

