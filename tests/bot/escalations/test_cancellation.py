"""A cancel at shutdown is never lost in a loop that survives its own failures: a replay pass
(or its clean-up) that turns the CancelledError into another error still stops the sweep, and a
failed release on the way out does not replace the cancel. Before this, a server's teardown
could wait for ever on a sweep that had logged the failure and gone back to sleep."""
from __future__ import annotations

import asyncio

import pytest

from bot.escalations.cancellation import release_on_cancel
from bot.escalations.inbox import sweep_forever


async def test_a_cancel_turned_into_another_error_still_stops_the_sweep():
    started = asyncio.Event()

    async def replay() -> int:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("the clean-up failed") from None  # the cancel, replaced
        return 0

    task = asyncio.create_task(sweep_forever(replay, 3600, "slack"))  # it would sleep an hour after a pass
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()


async def test_a_failed_release_on_the_way_out_does_not_replace_the_cancel(caplog):
    async def release() -> None:
        raise OSError("database gone")

    async def answer() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await release_on_cancel(release(), "teams", 7)
            raise

    task = asyncio.create_task(answer())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "teams inbox=7 not released at shutdown (OSError)" in caplog.text


async def test_a_cancel_arriving_while_a_helper_is_stopped_is_not_swallowed():
    """The lease renewal is stopped when an answer ends; a cancel of the answer arriving during
    that wait must still end the answer (a bare suppress(CancelledError) ate it)."""
    from bot.escalations.cancellation import stop_task

    async def helper() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.2)  # takes a moment to wind down

    async def answer() -> str:
        await stop_task(asyncio.create_task(helper()))
        return "carried on"

    async def sweep_like() -> None:
        while True:  # what sweep_forever does with a pass that swallowed the cancel
            await answer()
            await asyncio.sleep(3600)

    task = asyncio.create_task(sweep_like())
    await asyncio.sleep(0.05)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()
    # And stopping a helper when nobody cancels the caller just returns.
    assert await answer() == "carried on"
