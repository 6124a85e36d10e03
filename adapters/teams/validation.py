"""Shape checks on an incoming activity (plain JSON), before it is authenticated, stored or
handed to the Bot Framework SDK.

Why: an activity with no conversation, a 100,000-character id or a tenant that is a string used
to be stored with a 200, never answered (the SDK cannot reply to it), and retried from the store
on every restart. Anything the bot would store or reply through must be here and sane, or the
request is answered 400 and nothing is stored. In Emulator mode (no authentication) the bot
only replies to a serviceUrl on loopback, so a request cannot make it post answers elsewhere.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from adapters.web_security import is_loopback

from .model import BadActivity

# Teams' conversation ids ("19:...@thread.tacv2;messageid=...", "a:1...") and user ids are a few
# hundred characters at most; a service URL is a short https URL.
MAX_ID = 1024
MAX_URL = 2048
MAX_NAME = 1024


def _string(value: Any, what: str, *, required: bool = False, limit: int = MAX_ID) -> None:
    if value is None or value == "":
        if required:
            raise BadActivity(f"{what} is missing")
        return
    if not isinstance(value, str):
        raise BadActivity(f"{what} is not a string")
    if len(value) > limit:
        raise BadActivity(f"{what} is longer than {limit:,} characters")


def _object(value: Any, what: str, *, required: bool = False) -> dict:
    if value is None:
        if required:
            raise BadActivity(f"{what} is missing")
        return {}
    if not isinstance(value, dict):
        raise BadActivity(f"{what} is not an object")
    return value


def check_service_url(url: Any, loopback_only: bool) -> None:
    _string(url, "serviceUrl", required=True, limit=MAX_URL)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise BadActivity("serviceUrl is not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise BadActivity("serviceUrl is not an http(s) URL")
    if loopback_only and not is_loopback(host):
        raise BadActivity("serviceUrl is not on loopback (Emulator mode replies only to this machine)")


def check_activity(body: dict, loopback_only: bool = False) -> None:
    """Raises BadActivity naming the first field that is missing or malformed."""
    _string(body.get("type"), "type", required=True, limit=64)
    _string(body.get("id"), "id", required=True)
    check_service_url(body.get("serviceUrl"), loopback_only)
    _string(body.get("channelId"), "channelId", limit=64)
    conversation = _object(body.get("conversation"), "conversation", required=True)
    _string(conversation.get("id"), "conversation.id", required=True)
    for key in ("conversationType", "tenantId", "name"):
        _string(conversation.get(key), f"conversation.{key}", limit=MAX_NAME)
    sender = _object(body.get("from"), "from", required=True)
    _string(sender.get("id"), "from.id", required=True)
    _string(sender.get("aadObjectId"), "from.aadObjectId")
    _string(sender.get("name"), "from.name", limit=MAX_NAME)
    recipient = _object(body.get("recipient"), "recipient")
    _string(recipient.get("id"), "recipient.id")
    _string(recipient.get("name"), "recipient.name", limit=MAX_NAME)
    data = _object(body.get("channelData"), "channelData")
    for key in ("tenant", "team", "channel"):
        _string(_object(data.get(key), f"channelData.{key}").get("id"), f"channelData.{key}.id")
    for key in ("text", "textFormat", "name", "action", "replyToId", "locale"):
        _string(body.get(key), key, limit=256 * 1024)
    for key in ("entities", "membersAdded", "membersRemoved", "attachments"):
        items = body.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            raise BadActivity(f"{key} is not a list of objects")
    for member in body.get("membersAdded") or ():
        _string(member.get("id"), "membersAdded.id")
