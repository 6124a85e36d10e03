"""The rate limit every channel shares: a token bucket per person, and the words an asker over it gets.

Why one limiter for all channels: an answer costs the same CPU whichever channel asked, and a
person is limited as a person. Keys name the person where the channel knows one (Slack user,
Teams Entra object id, web chat tab) and the client address otherwise.
"""
from __future__ import annotations

import math
import time
from typing import Callable


class RateLimiter:
    """A token bucket per key: `per_minute` requests in a burst, refilled evenly.

    Keys name a person where the channel knows one ("slack:T1:U1", "teams:TENANT:AAD",
    "web:<tab id>") and an address otherwise ("addr:10.1.2.3"), so staff behind one proxy or
    NAT do not share a bucket. Shared by every channel of the server (app[RATE_LIMITER]).
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
        if len(self._buckets) > self.MAX_CLIENTS:  # a flood of new keys: keep the most recent half
            recent = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[-(self.MAX_CLIENTS // 2):]
            self._buckets = dict(recent)


def rate_limited_text(wait: float) -> str:
    """What an asker over the limit is told, on every channel: that the question was neither
    answered nor passed on (so nobody thinks it was), when to ask again, and that a child at
    risk does not wait for the limit."""
    return (f"You have asked a lot of questions in a short time, so I have not answered or passed on "
            f"that one. Please ask again in about {retry_after(wait)} seconds. If a child may be at risk "
            "right now, do not wait: speak to your designated safeguarding lead in person.")


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))
