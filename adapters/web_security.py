"""What keeps the web chat safe to run: when it may be on, the bearer token, the per-client
rate limit, the body cap and the browser security headers.

The web chat answers anyone who can reach it, so it is on by default only on loopback,
where "anyone" is the person at the machine. Bound anywhere else it needs a token.
"""
from __future__ import annotations

import hmac
import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web

from bot.config import Settings

from . import json_reader

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


class RateLimiter:
    """A token bucket per client address: `per_minute` requests in a burst, refilled evenly.

    Keyed by the connection's remote address; behind a reverse proxy every client shares the
    proxy's address, so put the limit at the proxy there.
    """

    MAX_CLIENTS = 10_000  # beyond this, full (idle) buckets are forgotten to bound memory

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it could."""
        now = self._clock()
        tokens, last = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            self._forget_idle(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) <= self.MAX_CLIENTS:
            return
        full_after = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}


def api_guard(settings: Settings, limiter: RateLimiter, token_required: bool):
    """Middleware for /api/*: rate limit first (so token guessing is limited too), then token."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX) or request.path in NOT_WEB_CHAT:
            return await handler(request)
        wait = limiter.take(request.remote or "unknown")
        if wait:
            return json_error(429, "Too many questions at once; please wait a moment and try again.",
                              {"Retry-After": str(max(1, math.ceil(wait)))})
        if token_required and not token_ok(request, settings.web_token):
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
