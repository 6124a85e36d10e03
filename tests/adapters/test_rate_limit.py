"""The web chat's rate limit over real HTTP: per browser tab (the person), per client address when
the person is unknown, X-Forwarded-For honoured only from POLICYBOT_TRUSTED_PROXIES, and
requests without the token limited per address however they name themselves."""
from __future__ import annotations

import pytest

from adapters.rate_limit import RateLimiter
from tests.adapters.conftest import with_

Q = {"school": "tsat", "question": "can I follow a parent back on insta?"}


async def statuses(client, base, n, *, tab=None, xff=None, token=None, path="/api/ask"):
    out = []
    for i in range(n):
        headers = {}
        if tab is not None:
            headers["X-Policybot-Client"] = tab(i) if callable(tab) else tab
        if xff is not None:
            headers["X-Forwarded-For"] = xff(i) if callable(xff) else xff
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with client.post(base + path, json=Q, headers=headers) as resp:
            out.append(resp.status)
            if resp.status == 429:
                body = await resp.json()
                assert int(resp.headers["Retry-After"]) >= 1
                assert "not answered or passed on" in body["error"] and "safeguarding lead" in body["error"]
    return out


async def test_each_browser_tab_has_its_own_bucket(serve_app, client, settings):
    base, _ = await serve_app(with_(settings, rate_limit_per_minute=2))
    assert await statuses(client, base, 3, tab="tab-aaaaaaaa") == [200, 200, 429]
    assert await statuses(client, base, 2, tab="tab-bbbbbbbb") == [200, 200]  # same address, another person
    assert await statuses(client, base, 3) == [200, 200, 429]  # no tab id: the address's bucket
    assert await statuses(client, base, 1, tab="x") == [429]   # not a tab id: the address's bucket


async def test_forwarded_for_from_a_trusted_proxy_separates_the_people_behind_it(serve_app, client, settings):
    base, _ = await serve_app(with_(settings, rate_limit_per_minute=2, trusted_proxies=("127.0.0.0/8",)))
    assert await statuses(client, base, 3, xff="203.0.113.5") == [200, 200, 429]
    assert await statuses(client, base, 2, xff="198.51.100.7, 203.0.113.6") == [200, 200]


@pytest.mark.parametrize("trusted", [(), ("10.0.0.0/8",)])
async def test_forwarded_for_from_anyone_else_is_ignored(serve_app, client, settings, trusted):
    """A client making up a new X-Forwarded-For each time still has one bucket: its own address's."""
    base, _ = await serve_app(with_(settings, rate_limit_per_minute=2, trusted_proxies=trusted))
    assert await statuses(client, base, 3, xff=lambda i: f"203.0.113.{i + 1}") == [200, 200, 429]


async def test_without_the_token_the_address_is_limited_whatever_tab_id_it_sends(serve_app, client, settings):
    base, _ = await serve_app(with_(settings, rate_limit_per_minute=2, web_token="s3cret-token"))
    guesses = await statuses(client, base, 3, tab=lambda i: f"tab-guess{i:04d}", token="wrong")
    assert guesses == [401, 401, 429]  # rotating tab ids buys no more guesses
    assert await statuses(client, base, 1, token="s3cret-token") == [429]  # the address's bucket is spent
    # with the token, a tab is a person with a bucket of its own
    assert await statuses(client, base, 3, tab="tab-staff001", token="s3cret-token") == [200, 200, 429]


def test_a_flood_of_new_keys_is_bounded():
    limiter = RateLimiter(per_minute=5, clock=lambda: 0.0)
    limiter.MAX_CLIENTS = 100
    for i in range(1000):
        limiter.take(f"web:tab{i}")
    assert len(limiter._buckets) <= 100
