"""Bot Connector failures: 429 (with Retry-After), 412, 502 and 504 are retried with backoff;
other 4xx fail at once; what is still failing leaves the question pending, never dropped."""
from __future__ import annotations

import pytest

from adapters.teams.channel import TEAMS_ADAPTER
from adapters.teams.delivery import RetryingSender
from adapters.teams.model import Outgoing, SendError

from .conftest import activity, eventually, post

QUESTION = "can I use my personal phone to take photos of pupils on a school trip?"


@pytest.mark.parametrize("status", [429, 412, 502, 504])
async def test_retryable_status_then_success_gives_one_reply(teams_app, client, connector, status):
    base, app = await teams_app()
    connector.fail(2, status, "0" if status == 429 else None)
    await post(client, base, activity(QUESTION, service_url=connector.service_url, conv="a:r"))
    (reply,) = await connector.wait_messages(1, "a:r")
    assert reply["activity"]["attachments"]
    await eventually(lambda: _done(app))
    assert len(connector.messages("a:r")) == 1


async def _done(app) -> bool:
    return not await app[TEAMS_ADAPTER].store.pending()


async def test_a_403_is_not_retried_and_the_question_stays_pending(teams_app, client, connector):
    base, app = await teams_app()
    connector.fail(2, 403)  # e.g. the bot was blocked: typing and the answer each fail once
    await post(client, base, activity(QUESTION, service_url=connector.service_url, conv="a:f"))
    store = app[TEAMS_ADAPTER].store
    await eventually(lambda: _attempts(connector, 2))
    await eventually(lambda: _not_inflight(app))
    assert connector.attempts == 2 and connector.messages() == []
    assert [i.incoming.conversation_id for i in await store.pending()] == ["a:f"]


async def _attempts(connector, n: int) -> bool:
    return connector.attempts >= n


async def _not_inflight(app) -> bool:
    return not app[TEAMS_ADAPTER]._inflight


async def test_retry_after_is_honoured_and_backoff_grows_with_jitter():
    waits: list[float] = []
    failures = [SendError("x", 429, 7.0), SendError("x", 502), SendError("x", 504), SendError("x", None)]

    async def send(reference, message):
        if failures:
            raise failures.pop(0)
        return "ok"

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    sender = RetryingSender(send, retries=4, base_seconds=1.0, max_seconds=30.0, rng=lambda: 1.0, sleep=sleep)
    assert await sender({}, Outgoing(text="x")) == "ok"
    assert waits == [7.0, 2.0, 4.0, 8.0]  # Retry-After, then 1 s doubling (attempts 2, 3, 4)
    low = RetryingSender(send, retries=1, base_seconds=1.0, rng=lambda: 0.0, sleep=sleep)
    failures.append(SendError("x", 502))
    waits.clear()
    await low({}, Outgoing(text="x"))
    assert waits == [0.5]  # jitter: between half and all of the step


async def test_retries_run_out_and_the_error_reaches_the_caller():
    calls = 0

    async def send(reference, message):
        nonlocal calls
        calls += 1
        raise SendError("x", 429, 0.0)

    async def sleep(seconds: float) -> None:
        pass

    with pytest.raises(SendError):
        await RetryingSender(send, retries=3, sleep=sleep)({}, Outgoing(text="x"))
    assert calls == 4
