"""Reload triggers that are not HTTP: the knowledge directory's file stamps, polled, and SIGHUP.

Polling rather than inotify: it works the same on every platform and on network or container
file systems, and one walk of a few dozen files every couple of seconds costs nothing. A
change is reloaded once the stamps have held still for one more poll, so a file half written
by an editor, or the three files the authoring view writes, are read as one change.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator, Callable

from aiohttp import web

from .runtime import BotRuntime

log = logging.getLogger("policybot.server")

FILE_CHANGE, SIGHUP, COMMAND = "file change", "SIGHUP", "policybot reload"


async def watch(runtime: BotRuntime, interval: float) -> None:
    """Until cancelled: reload when the knowledge files changed and have settled."""
    await runtime.settled()
    pending = None
    while True:
        await asyncio.sleep(interval)
        current = await runtime.current_stamps()
        if current == runtime.stamps:
            pending = None
            continue
        if current != pending:  # still changing, or just changed: look again next poll
            pending = current
            continue
        pending = None
        await runtime.reload(FILE_CHANGE)


def watch_hook(runtime: BotRuntime, interval: float) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the watcher for the app's lifetime (nothing when interval is 0)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(watch(runtime, interval), name="watch-knowledge") if interval > 0 else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifecycle


def on_sighup(runtime: BotRuntime) -> Callable[[], None]:
    """The SIGHUP handler `policybot serve` installs: start a reload, keep the task referenced."""
    tasks: set[asyncio.Task] = set()

    def handler() -> None:
        log.info("SIGHUP: reloading the knowledge base")
        task = asyncio.get_running_loop().create_task(runtime.reload(SIGHUP))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return handler
