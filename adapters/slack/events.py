"""Shape checks for what Slack sends, before any of it is stored or handed to Bolt.

Why: a request with a valid signature is from Slack (or from whoever holds the signing secret),
but its body is still only JSON: an `event` that is a list, `text` that is a number or `user`
that is an object used to raise inside the ack path and answer 500 with a traceback. Each check
here returns the reason a body is refused (logged by request id, never with the body), or "".
"""
from __future__ import annotations

from typing import Any

# Slack's own limits: ids are short; a message's text is at most 40,000 characters.
MAX_ID = 255
MAX_TEXT = 40_000

# event fields read by the bot, that must be strings when present
_EVENT_STRINGS = ("type", "subtype", "user", "ts", "thread_ts", "channel", "channel_type", "team", "bot_id",
                  "tab", "event_ts")


def _bad_string(value: Any, limit: int) -> bool:
    return value is not None and not (isinstance(value, str) and len(value) <= limit)


def callback_problem(payload: dict) -> str:
    """Why an Events API callback (type event_callback) is malformed, or "" when it is usable."""
    for key in ("team_id", "event_id", "api_app_id"):
        if _bad_string(payload.get(key), MAX_ID):
            return f"{key} is not a short string"
    event = payload.get("event")
    if not isinstance(event, dict):
        return "event is not an object"
    for key in _EVENT_STRINGS:
        if _bad_string(event.get(key), MAX_ID):
            return f"event.{key} is not a short string"
    if _bad_string(event.get("text"), MAX_TEXT):
        return "event.text is not a string of at most 40,000 characters"
    auths = payload.get("authorizations")
    if auths is not None and not (isinstance(auths, list) and all(isinstance(a, dict) for a in auths)):
        return "authorizations is not a list of objects"
    for auth in auths or ():
        if _bad_string(auth.get("user_id"), MAX_ID):
            return "authorizations.user_id is not a short string"
    return ""


def form_problem(body: dict) -> str:
    """Why a slash command or interactive payload (as Bolt parses it) is malformed, or ""."""
    if "payload" in body:
        return "" if isinstance(body["payload"], dict) else "payload is not an object"
    for key in ("team_id", "channel_id", "user_id", "trigger_id", "command"):
        if _bad_string(body.get(key), MAX_ID):
            return f"{key} is not a short string"
    if _bad_string(body.get("text"), MAX_TEXT):
        return "text is not a string of at most 40,000 characters"
    return ""
