"""`policybot serve`: one aiohttp application for every channel.

`create_app` mounts health checks and each channel that is configured, and nothing else: a
channel that is off has no routes at all. Later issues add a channel (Slack, Teams) by
passing a `Channel`, and background work (the escalation worker, its store) by passing a
cleanup-context hook, without touching this module's logic.

`run` binds, logs one line per channel (on, or off and which variables turn it on), and
on SIGTERM/SIGINT stops accepting, lets answers in flight finish within
POLICYBOT_SHUTDOWN_GRACE seconds, then closes what the hooks opened.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from typing import AsyncIterator, Callable, Sequence

from aiohttp import web

from bot.config import Settings
from . import authoring_api, escalation_wiring, health, knowledge_api, knowledge_watch, web_api
from .appkeys import (CAN_ESCALATE, RATE_LIMITER, READINESS_CHECKS, READINESS_NOTES, RUNTIME, SETTINGS,
                      STARTUP_WARNINGS)
from .channel import Channel
from .log_format import SafeFormatter
from .request_log import log_requests
from .runtime import BotFactory, BotRuntime
from .rate_limit import RateLimiter
from .web_security import api_guard, security_headers, web_chat_decision

log = logging.getLogger("policybot.server")

CleanupHook = Callable[[web.Application], AsyncIterator[None]]


CHANNELS = web.AppKey("channels", list)
LISTEN_BACKLOG = 1024


def web_chat_channel(settings: Settings) -> Channel:
    decision = web_chat_decision(settings)
    if not decision.on:
        return Channel("web chat", None, decision.why_off)
    return Channel("web chat", _mount_web, where="/" + (" (bearer token required)" if decision.token_required else ""))


def _mount_web(app: web.Application) -> None:
    """The web chat, and with it (behind the same token rule) the reload endpoint and the lead's
    authoring view."""
    web_api.mount(app)
    knowledge_api.mount(app)
    authoring_api.mount(app)


def default_channels(settings: Settings) -> list[Channel]:
    # Imported here, as before; the channels import Channel from adapters/channel.py, not from here.
    from .slack.channel import slack_channel
    from .teams.channel import teams_channel
    return [slack_channel(settings), teams_channel(settings), web_chat_channel(settings)]


def create_app(settings: Settings, *, factory: BotFactory | None = None,
               channels: Sequence[Channel] | None = None,
               cleanup_hooks: Sequence[CleanupHook] = (),
               can_escalate: Callable[[str], bool] | None = None,
               escalations: bool = False) -> web.Application:
    """The whole server; tests build it with their own settings, factory and channels.
    `escalations`: open the escalation store and run its worker in this process (what
    `policybot serve` does; off by default so tests that don't need a store don't get one).
    `factory` builds the bot (default: bot.service.BotBuilder, which reuses what the serving bot
    loaded on a reload); it is called again for every reload."""
    channels = default_channels(settings) if channels is None else list(channels)
    web_chat = web_chat_decision(settings)
    limiter = RateLimiter(settings.rate_limit_per_minute)
    app = web.Application(middlewares=[log_requests, security_headers,
                                       api_guard(settings, limiter, web_chat.token_required)])
    app[SETTINGS] = settings
    app[RATE_LIMITER] = limiter
    app[RUNTIME] = runtime = BotRuntime(settings, factory)
    app[READINESS_CHECKS] = []
    app[READINESS_NOTES] = []
    app[STARTUP_WARNINGS] = []
    app[CHANNELS] = channels
    if escalations:
        escalation_wiring.install(app, settings)
    holder = app.get(escalation_wiring.ESCALATIONS)
    app[CAN_ESCALATE] = can_escalate or (lambda slug: holder is not None and holder.service is not None)
    health.mount(app)
    for channel in channels:
        if channel.mount is not None:
            channel.mount(app)
    app.cleanup_ctx.append(_bot_lifecycle(app, runtime))
    app.cleanup_ctx.append(knowledge_watch.watch_hook(runtime, settings.reload_poll_seconds))
    app.cleanup_ctx.extend(cleanup_hooks)
    return app


def _bot_lifecycle(app: web.Application, runtime: BotRuntime) -> CleanupHook:
    """Starts loading the bot without holding up the listening socket, so /readyz can say
    "loading" meanwhile; at cleanup (after in-flight handlers drained) closes the pool."""

    def warn(kb) -> None:
        for warnings in app[STARTUP_WARNINGS]:
            for line in warnings(kb):
                log.warning("warning: %s", line)

    def warn_new_schools(old, new) -> None:
        """A reload that adds a school says what start-up would have said about it."""
        known = set(old.kb.schools) if old is not None else set()
        added = {slug: s for slug, s in new.kb.schools.items() if slug not in known}
        if added:
            warn(dataclasses.replace(new.kb, schools=added))

    runtime.on_swap.append(warn_new_schools)

    async def load(app: web.Application) -> None:
        loading = asyncio.ensure_future(runtime.load())
        try:
            if await runtime.wait_loaded(timeout=None):  # the first stage (BM25) is answering
                warn(runtime.bot.kb)
            await loading  # later stages (the semantic one) replace it as they are built
        finally:
            loading.cancel()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(load(app), name="load-bot")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        runtime.close()

    return lifecycle


def _display_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def serve(settings: Settings, app: web.Application | None = None,
                stop: asyncio.Event | None = None,
                started: Callable[[str], object] | None = None, reuse_port: bool = False) -> None:
    """Runs until `stop` is set (run() sets it on SIGTERM/SIGINT), then shuts down gracefully.
    `started` gets the base URL once the socket is bound (tests use port 0). `reuse_port`: bind
    with SO_REUSEPORT, beside the other workers of `serve --workers N` (adapters/workers.py)."""
    app = app or create_app(settings, escalations=True)
    stop = stop or asyncio.Event()
    runner = web.AppRunner(app, handle_signals=False, access_log=None,
                           shutdown_timeout=settings.shutdown_grace_seconds)
    await runner.setup()
    try:
        # A burst of chat events (Slack retries, a whole staff room asking at once) opens many
        # connections together; the default queue of 128 would make the rest retry after 1 s.
        site = web.TCPSite(runner, settings.host, settings.port, backlog=LISTEN_BACKLOG,
                           reuse_port=True if reuse_port else None)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else settings.port
        base_url = f"http://{_display_host(settings.host)}:{port}"
        log.info("policybot serve: listening on %s", base_url)
        for channel in app[CHANNELS]:
            log.info("%s", channel.status_line(base_url))
        if started is not None:
            started(base_url)
        await stop.wait()
        log.info("stopping: no new connections; waiting up to %g s for answers in flight",
                 settings.shutdown_grace_seconds)
    finally:
        # AppRunner.cleanup stops the sites (no new connections), waits for running handlers up
        # to shutdown_timeout, then runs the cleanup contexts (bot pool, stores, workers).
        await runner.cleanup()
        log.info("stopped")


def configure_logging(prefix: str = "") -> None:
    """Plain lines on stderr (the platform's log collector adds timestamps): our own and the
    core's at INFO, libraries' only when they warn; control characters from outside escaped.
    `prefix` starts every line (a worker of `serve --workers N` says which one it is)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(prefix.replace("%", "%%") + "%(message)s"))  # one escaped line per record
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("policybot", "bot"):
        logging.getLogger(name).setLevel(logging.INFO)


def run(settings: Settings, *, worker: int | None = None, reuse_port: bool = False) -> int:
    """Blocking entry point for `policybot serve` (one process, or worker `worker` of
    `serve --workers N`); exit code 0 after a clean shutdown."""
    configure_logging(f"worker {worker}: " if worker is not None else "")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        app = create_app(settings, escalations=True)
        # SIGHUP re-reads the knowledge base (kill -HUP PID), as daemons re-read their configuration.
        loop.add_signal_handler(signal.SIGHUP, knowledge_watch.on_sighup(app[RUNTIME]))
        await serve(settings, app, stop=stop, reuse_port=reuse_port)

    try:
        asyncio.run(main())
    except OSError as exc:
        log.error("policybot serve: cannot listen on %s:%s: %s (set POLICYBOT_HOST / PORT)",
                  settings.host, settings.port, exc)
        return 2
    return 0
