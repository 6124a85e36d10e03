"""Socket Mode that stays connected: Bolt's aiohttp handler, watched by a small supervisor.

Why: the handler reconnects by itself after a close frame, a `disconnect` message or missed
pongs, but it can also end up connected to nothing and say so only in its own logs: e.g. when
a handshake fails it retries the same one-time wss URL for ever (slack_sdk reuses `wss_uri`),
or one of its receive / monitor / dispatch tasks has ended. The supervisor checks every ping
interval that the client is connected and its tasks are alive; after a few failed checks in
a row (time for the handler's own reconnect) it closes that handler and starts a fresh one,
which asks Slack for a new URL. It also connects in the background, so the server starts (and
/healthz answers) while Slack is unreachable.

Privacy: slack_sdk logs every received message body at DEBUG, and a body holds the question;
the handler gets its own logger held at INFO so turning on DEBUG elsewhere cannot leak them.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Callable

log = logging.getLogger("policybot.slack")

SOCKET_PING_SECONDS = 10.0  # Bolt's default ping interval; also the supervisor's check interval
UNHEALTHY_CHECKS = 3        # failed checks in a row before the handler is replaced
SOCKET_LOGGER = "policybot.slack.socket"


def socket_logger() -> logging.Logger:
    logger = logging.getLogger(SOCKET_LOGGER)
    logger.setLevel(logging.INFO)  # never DEBUG: slack_sdk logs message bodies (questions) there
    return logger


async def healthy(handler: Any) -> bool:
    """Connected, and the client's receive, monitor and dispatch tasks still running."""
    client = handler.client
    tasks = (client.message_processor, client.message_receiver, client.current_session_monitor)
    if any(t is None or t.done() for t in tasks):
        return False
    return await client.is_connected()


class SocketModeSupervisor:
    """Keeps one Socket Mode handler connected. `make_handler` builds a fresh (unconnected) one."""

    def __init__(self, make_handler: Callable[[], Any], check_every: float = SOCKET_PING_SECONDS,
                 unhealthy_checks: int = UNHEALTHY_CHECKS):
        self.make_handler = make_handler
        self.check_every = check_every
        self.unhealthy_checks = unhealthy_checks
        self.handler: Any = None
        self.restarts = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="slack-socket-mode")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                handler = self.handler = self.make_handler()
            except Exception as exc:  # noqa: BLE001 - keep trying; the log says why
                log.error("slack: cannot set up Socket Mode: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(self.check_every * self.unhealthy_checks)
                continue
            connecting = asyncio.create_task(handler.connect_async(), name="slack-socket-connect")
            try:
                await self._watch(handler)
                log.warning("slack: Socket Mode not connected for %d checks in a row; replacing the connection "
                            "(restart %d)", self.unhealthy_checks, self.restarts + 1)
            finally:
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await connecting
                with contextlib.suppress(Exception):
                    await handler.close_async()
            self.restarts += 1

    async def _watch(self, handler: Any) -> None:
        """Returns once the handler has failed `unhealthy_checks` checks in a row."""
        bad, was_up = 0, False
        while bad < self.unhealthy_checks:
            await asyncio.sleep(self.check_every)
            try:
                ok = await healthy(handler)
            except Exception:  # noqa: BLE001 - a check that cannot tell counts as a failed one
                ok = False
            if ok and not was_up:
                log.info("slack: Socket Mode connected")
            elif not ok and was_up:
                log.info("slack: Socket Mode connection lost; waiting for it to reconnect")
            bad, was_up = (0 if ok else bad + 1), ok
