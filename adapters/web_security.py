"""What keeps the web chat safe to run: when it may be on, the bearer token, the rate limit
(per person, shared with Slack and Teams), the body cap and the browser security headers.

The web chat answers anyone who can reach it, so it is on by default only on loopback,
where "anyone" is the person at the machine. Bound anywhere else it needs a token.
"""
from __future__ import annotations

import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web

from bot.config import Settings

from . import json_reader
from .client_address import FORWARDED_FOR, client_address
from .rate_limit import RateLimiter, rate_limited_text, retry_after

API_PREFIX = "/api/"
# Bot Framework's endpoint sits under /api/ by convention but has its own authentication (the
# channel's signed token), and Teams' servers share addresses: not the web chat's guard.
NOT_WEB_CHAT = frozenset({"/api/messages"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and the name localhost; anything else (0.0.0.0, a LAN name) is not."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebChatDecision:
    on: bool
    token_required: bool
    why_off: str = ""


def web_chat_decision(settings: Settings) -> WebChatDecision:
    """On when allowed; off says which environment variable turns it on."""
    if not settings.web_chat:
        return WebChatDecision(False, False, "POLICYBOT_WEB_CHAT is off; unset it to turn it on")
    if settings.web_token:
        return WebChatDecision(True, True)
    if is_loopback(settings.host):
        return WebChatDecision(True, False)
    return WebChatDecision(False, False, f"bound to {settings.host}, not loopback; "
                                         "set POLICYBOT_WEB_TOKEN to turn it on")


def json_error(status: int, message: str, headers: dict | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def token_ok(request: web.Request, token: str) -> bool:
    """Constant-time comparison, so response timing does not leak how much of a guess was right."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


# The web chat's per-tab id (app.js sends it on every API call): a person's own bucket.
CLIENT_HEADER = "X-Policybot-Client"
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
# The client's address as the guard worked it out (trusted proxies honoured), for the handlers.
CLIENT_ADDRESS = web.RequestKey("client_address", str)


def request_address(request: web.Request, settings: Settings) -> str:
    """The client's address, through the configured trusted proxies only (adapters/client_address.py)."""
    known = request.get(CLIENT_ADDRESS)
    if known is None:
        known = client_address(request.remote, request.headers.getall(FORWARDED_FOR, []), settings.trusted_proxies)
        request[CLIENT_ADDRESS] = known
    return known


def limit_key(request: web.Request, settings: Settings, authorised: bool) -> str:
    """Whose bucket a web request comes out of: the browser tab's own once the request has shown
    the token (or needs none, on loopback), else its address. A request that fails the token
    check counts against its address, so rotating tab ids does not buy more token guesses."""
    tab = request.headers.get(CLIENT_HEADER, "")
    if authorised and _CLIENT_ID.fullmatch(tab):
        return f"web:{tab}"
    return f"addr:{request_address(request, settings)}"


def api_guard(settings: Settings, limiter: RateLimiter, token_required: bool):
    """Middleware for /api/*: the rate limit (per person, or per address for requests without
    the token), then the token."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX) or request.path in NOT_WEB_CHAT:
            return await handler(request)
        authorised = not token_required or token_ok(request, settings.web_token)
        wait = limiter.take(limit_key(request, settings, authorised))
        if wait:
            return json_error(429, rate_limited_text(wait), {"Retry-After": str(retry_after(wait))})
        if not authorised:
            return json_error(401, "This web chat needs its access token.",
                              {"WWW-Authenticate": 'Bearer realm="policybot"'})
        return await handler(request)

    return guard


class BodyTooLarge(Exception):
    pass


async def read_capped(request: web.Request, cap: int) -> bytes:
    """The whole body, reading at most `cap` + 1 bytes whatever Content-Length claims (a
    single `read(n)` may return only what has arrived so far, so it loops to the end)."""
    if request.content_length is not None and request.content_length > cap:
        raise BodyTooLarge
    chunks, size = [], 0
    while size <= cap:
        chunk = await request.content.read(cap + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > cap:
        raise BodyTooLarge
    return b"".join(chunks)


async def read_json_capped(request: web.Request, cap: int) -> object:
    """The request's JSON (at most `cap` bytes, nested at most json_reader.MAX_DEPTH deep, strings
    cleaned by bot.text_input). Raises BodyTooLarge, or ValueError (json_reader.BadJSON) for a
    body that is not UTF-8 JSON or nests too deep."""
    return json_reader.loads(await read_capped(request, cap))


async def read_json_object(request: web.Request, cap: int, example: str,
                           too_large: str = "") -> dict | web.Response:
    """The request's JSON object, or the 4xx JSON response to send instead: 413 over `cap`
    bytes, 400 for anything that is not a JSON object (`example` shows the expected shape)."""
    try:
        payload = await read_json_capped(request, cap)
    except BodyTooLarge:
        return json_error(413, f"That request is too large (over {cap:,} bytes){too_large}.")
    except ValueError:
        return json_error(400, f"Please send JSON: an object like {example}.")
    if not isinstance(payload, dict):
        return json_error(400, f"Please send a JSON object like {example}.")
    return payload


# The page loads its own script and stylesheet only; nothing inline, nothing remote.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                                "form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
