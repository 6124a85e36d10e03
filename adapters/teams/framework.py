"""Every Bot Framework (botbuilder-python) type the bot uses, and nothing else.

botbuilder-python is archived upstream; its successor is the Microsoft 365 Agents SDK. This is
the only module that imports `botbuilder` or `botframework`: it turns an HTTP body into an
authenticated `Incoming`, and an `Outgoing` into a Bot Connector call. Moving SDK means
rewriting this module against `model.py` and nothing more.

Authentication is the SDK's own (CloudAdapter with ConfigurationBotFrameworkAuthentication),
run before the turn so that any failure (missing, forged, expired, unknown-key or
wrong-audience token) is one `Unauthorized` -> 401 and the bot code never runs. The SDK
answers 500 for several of these, and fetches its signing keys with a blocking `requests`
call on the event loop; `keep_key_fetch_off_loop` moves that fetch to a worker thread.
"""
from __future__ import annotations

import asyncio
import html
import logging
import re
from datetime import datetime
from typing import Awaitable, Callable

import requests
from aiohttp import ClientError
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import (CloudAdapter, ConfigurationBotFrameworkAuthentication,
                                           ConfigurationServiceClientCredentialFactory)
from botbuilder.schema import (Activity, ActivityTypes, Attachment, ChannelAccount, ConversationAccount,
                               ConversationReference)
from botframework.connector.auth import AuthenticationConstants, ServiceClientCredentialsFactory
from botframework.connector.auth import jwt_token_extractor
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.config import Settings

from .model import (INSTALL, OTHER, PERSONAL, QUESTION, SUBMIT, BadActivity, Incoming, Outgoing, SendError,
                    Unauthorized)
from .validation import check_activity, check_service_url

log = logging.getLogger("policybot.teams")

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
KEY_FETCH_TIMEOUT = 10.0
_TAG = re.compile(r"<[^>]+>")


class KeysUnavailable(Exception):
    """The channel's signing keys could not be fetched: not the caller's fault (503, not 401)."""


def _fetch_signing_keys(url: str) -> list[dict]:
    response = requests.get(url, timeout=KEY_FETCH_TIMEOUT)
    response.raise_for_status()
    keys = requests.get(response.json()["jwks_uri"], timeout=KEY_FETCH_TIMEOUT)
    keys.raise_for_status()
    return keys.json()["keys"]


def keep_key_fetch_off_loop() -> None:
    """Replace the SDK's key refresh (blocking `requests.get` with no timeout, on the loop) with
    the same fetch on a worker thread, with a timeout. Idempotent."""
    metadata = jwt_token_extractor._OpenIdMetadata  # noqa: SLF001 - the SDK offers no hook
    if getattr(metadata, "_policybot_off_loop", False):
        return

    async def refresh(self) -> None:
        try:
            self.keys = await asyncio.to_thread(_fetch_signing_keys, self.url)
        except (requests.RequestException, KeyError, ValueError) as exc:
            raise KeysUnavailable(f"{type(exc).__name__} fetching {self.url}") from None
        self.last_updated = datetime.now()

    metadata._refresh = refresh
    metadata._policybot_off_loop = True


class OffLoopCredentials(ServiceClientCredentialsFactory):
    """Wraps the SDK's credentials factory, which builds new credentials (and so a new MSAL
    client, with an empty token cache) for every outgoing call, and whose token is fetched with
    a blocking call inside msrest on the event loop. Here one credentials object is kept per
    (app, scope, endpoint) and its token is fetched on a worker thread before each use, so the
    on-loop fetch msrest makes is answered from MSAL's in-memory cache."""

    def __init__(self, inner: ServiceClientCredentialsFactory):
        self.inner = inner
        self._credentials: dict[tuple, object] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return await self.inner.is_valid_app_id(app_id)

    async def is_authentication_disabled(self) -> bool:
        return await self.inner.is_authentication_disabled()

    async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate_authority):
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        credentials = self._credentials.get(key)
        if credentials is None:
            credentials = await self.inner.create_credentials(app_id, oauth_scope, login_endpoint,
                                                              validate_authority)
            self._credentials[key] = credentials
        if app_id and callable(getattr(credentials, "get_access_token", None)):
            await asyncio.to_thread(credentials.get_access_token)
        return credentials


class _Configuration:
    """The attribute bag ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings):
        self.APP_ID = settings.microsoft_app_id or None
        self.APP_PASSWORD = settings.microsoft_app_password or None
        self.APP_TENANTID = settings.microsoft_app_tenant_id or None
        self.APP_TYPE = settings.microsoft_app_type
        if settings.teams_openid_metadata_url:
            # Any of these switches the SDK to its parameterised mode, which then needs them all:
            # public-cloud values, with the signing keys read from the configured place.
            prefix = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = prefix + (
                settings.microsoft_app_tenant_id if settings.microsoft_app_type != "MultiTenant"
                else AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT)
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
            self.OAUTH_URL = AuthenticationConstants.OAUTH_URL
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.teams_openid_metadata_url
            self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = settings.teams_openid_metadata_url
            self.CALLER_ID = "urn:botframework:azure"


def _clean_text(activity: Activity) -> str:
    """The question as typed: the bot's @mention removed, other mentions kept as plain names,
    Teams' HTML markup and entities undone."""
    text = activity.text or ""
    if activity.recipient and activity.recipient.id:
        try:
            text = TurnContext.remove_recipient_mention(activity) or ""
        except (KeyError, TypeError, AttributeError):  # a malformed mention entity: strip tags below
            pass
    text = _TAG.sub(" ", text.replace("<br>", "\n").replace("<br/>", "\n"))
    return re.sub(r"[ \t]+", " ", html.unescape(text)).strip()


def _kind(activity: Activity) -> tuple[str, dict]:
    value = activity.value if isinstance(activity.value, dict) else {}
    if activity.type == ActivityTypes.message:
        if value:
            return SUBMIT, value
        return (QUESTION, {}) if (activity.text or "").strip() else (OTHER, {})
    if activity.type == ActivityTypes.invoke and activity.name == "adaptiveCard/action":
        data = (value.get("action") or {}).get("data") or {}
        return (SUBMIT, data) if isinstance(data, dict) else (OTHER, {})
    if activity.type == ActivityTypes.conversation_update:
        added = [m.id for m in (activity.members_added or [])]
        if activity.recipient and activity.recipient.id in added:
            return INSTALL, {}
    if activity.type == ActivityTypes.installation_update and (activity.action or "").startswith("add"):
        return INSTALL, {}
    return OTHER, {}


def to_incoming(activity: Activity) -> Incoming:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation or ConversationAccount()
    sender = activity.from_property or ChannelAccount()
    kind, value = _kind(activity)
    reference = TurnContext.get_conversation_reference(activity).serialize()
    return Incoming(
        kind=kind, conversation_id=conversation.id or "", activity_id=activity.id or "",
        conversation_type=conversation.conversation_type or PERSONAL,  # the Emulator sends none
        tenant=(data.get("tenant") or {}).get("id") or conversation.tenant_id or "",
        team=(data.get("team") or {}).get("id", ""), channel=(data.get("channel") or {}).get("id", ""),
        user_id=sender.id or "", aad_id=sender.aad_object_id or "", user_name=sender.name or "",
        text=_clean_text(activity) if kind == QUESTION else "", value=value, reference=reference,
        invoke=activity.type == ActivityTypes.invoke)


OnIncoming = Callable[[Incoming], Awaitable[dict | None]]


class BotFramework:
    """The CloudAdapter, its authentication, and sending to a stored conversation reference."""

    def __init__(self, settings: Settings, *, credentials_factory: ServiceClientCredentialsFactory | None = None):
        keep_key_fetch_off_loop()
        self.app_id = settings.microsoft_app_id
        self.emulator = settings.teams_emulator
        config = _Configuration(settings)
        self.credentials = OffLoopCredentials(credentials_factory or ConfigurationServiceClientCredentialFactory(config))
        self.auth = ConfigurationBotFrameworkAuthentication(config, credentials_factory=self.credentials)
        self.adapter = CloudAdapter(self.auth)

    async def receive(self, body: dict, auth_header: str, on_incoming: OnIncoming) -> dict | None:
        """Authenticate, then run one turn that hands the activity to `on_incoming`; returns the
        invoke response body for invoke activities. Raises Unauthorized, BadActivity or
        KeysUnavailable."""
        check_activity(body, loopback_only=self.emulator)  # BadActivity (400) before anything else
        try:
            activity = Activity().deserialize(body)
        except Exception as exc:  # noqa: BLE001 - msrest raises several kinds
            raise BadActivity(f"not an activity: {type(exc).__name__}") from None
        if not activity.type:
            raise BadActivity("activity has no type")
        try:
            result = await self.auth.authenticate_request(activity, auth_header or None)
        except KeysUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the SDK raises PermissionError, jwt errors, IndexError...
            raise Unauthorized(type(exc).__name__) from None
        out: dict = {}

        async def turn(context: TurnContext) -> None:
            reply = await on_incoming(to_incoming(context.activity))
            if context.activity.type == ActivityTypes.invoke:
                out["body"] = reply or {}
                await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                                     value=InvokeResponse(status=200, body=reply or {})))

        await self.adapter.process_activity(result, activity, turn)
        return out.get("body")

    async def send(self, reference: dict, message: Outgoing) -> str:
        """One attempt at sending into the referenced conversation (a reply in its thread when
        the reference points at a message). Raises SendError with the HTTP status."""
        if self.emulator:  # no authentication: only ever reply to this machine (validation.py)
            try:
                check_service_url(reference.get("serviceUrl") or reference.get("service_url"), loopback_only=True)
            except BadActivity as exc:
                raise SendError(f"not sent: {exc}", 400) from None
        ref = ConversationReference().deserialize(reference)
        if message.typing:
            activity = Activity(type=ActivityTypes.typing)
        else:
            # With a card, the text goes in `summary`: what a client that cannot render cards shows
            # instead (Teams would otherwise show the text above the card as well).
            card = message.card
            activity = Activity(type=ActivityTypes.message, text_format="plain",
                                text=None if card else message.text, summary=message.text if card else None,
                                attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)] if card
                                else None)
        sent: list[str] = []

        async def callback(context: TurnContext) -> None:
            # Addressed from the stored reference itself: TurnContext.send_activity would make it a
            # reply to the continuation event's random id rather than to the referenced message.
            TurnContext.apply_conversation_reference(activity, ref)
            (response,) = await context.adapter.send_activities(context, [activity])
            sent.append(getattr(response, "id", "") or "")

        try:
            await self.adapter.continue_conversation(ref, callback, bot_app_id=self.app_id or None)
        except HttpOperationError as exc:
            status = exc.response.status_code if exc.response is not None else None
            raise SendError(f"bot connector answered {status}", status, _retry_after(exc)) from None
        except (ClientRequestError, ClientError, OSError, asyncio.TimeoutError) as exc:
            raise SendError(f"bot connector unreachable: {type(exc).__name__}") from None
        return sent[0] if sent else ""


def _retry_after(exc: HttpOperationError) -> float | None:
    raw = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None
