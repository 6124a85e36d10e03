"""Keeping a cancel from being lost in a loop that survives its own failures.

A background loop (a channel's replay sweep, a lease renewal) catches Exception so that one
failed pass does not end it. If a cancel arrives while a pass is under way and something in
that pass turns the CancelledError into another exception (a clean-up step that itself fails),
the loop would log it and carry on, and whoever cancelled it at shutdown would wait for ever:
seen as a test run that hung in teardown. Task.cancelling() still counts the request, so the
loop can tell."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable

log = logging.getLogger("policybot.escalations")


def raise_if_cancelling(exc: BaseException | None = None) -> None:
    """Raises CancelledError when this task has been asked to stop: in an `except Exception`
    block (a cancel turned into another error), or after a call that may have swallowed one."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError() from exc


async def release_on_cancel(release: Awaitable, channel: str, item_id: object) -> None:
    """While a cancel is on its way out of an answer: let the item go for another process,
    shielded from the cancel. A failure to let it go is logged (its lease runs out instead),
    never raised in the cancel's place."""
    try:
        await asyncio.shield(release)
    except Exception as exc:  # noqa: BLE001 - the cancel must still come out
        log.warning("%s inbox=%s not released at shutdown (%s); its lease runs out instead", channel, item_id,
                    type(exc).__name__)


async def stop_task(task: asyncio.Task) -> None:
    """Cancel a helper task and wait for it to end, without swallowing a cancel of the caller: a
    bare `suppress(CancelledError)` around the wait also eats the caller's own cancel when it
    arrives meanwhile (the hang this module is about)."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
