"""Real servers on free loopback ports, real HTTP: the adapters' tests share these helpers."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from adapters.server import create_app
from bot.config import Settings
from bot.knowledge.load import bundled_knowledge_dir
from tests.conftest import TODAY


@contextlib.asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[str]:
    """Serves `app` on 127.0.0.1 on a port the OS picks; yields the base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def wait_ready(session: aiohttp.ClientSession, base: str, attempts: int = 400,
                     final: bool = True) -> dict:
    """Polls /readyz until it answers 200 (bounded by attempts, not by a clock assertion) and,
    with `final`, until the semantic stage is no longer loading (the bot the server settles on;
    BM25 answers before that, see adapters/runtime.py)."""
    for _ in range(attempts):
        async with session.get(f"{base}/readyz") as resp:
            if resp.status == 200:
                body = await resp.json()
                if not final or body.get("semantic") != "loading":
                    return body
        await asyncio.sleep(0.02)
    raise AssertionError("/readyz never answered 200")


async def eventually(check, polls: int = 1500):
    """Polls an async check until it returns something truthy (bounded by polls, not by a clock)."""
    for _ in range(polls):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


@pytest.fixture
def settings() -> Settings:
    return Settings(knowledge_dir=bundled_knowledge_dir(), today=TODAY)


@pytest.fixture
async def serve_app(bundled_bot):
    """serve_app(settings, **create_app_kwargs) -> (base_url, app); the bundled bot is reused
    (built once per session) unless a factory is passed. Servers stop at the test's end."""
    stack = contextlib.AsyncExitStack()

    async def start(settings: Settings, **kwargs) -> tuple[str, web.Application]:
        kwargs.setdefault("factory", lambda _settings: bundled_bot)
        app = create_app(settings, **kwargs)
        base = await stack.enter_async_context(running(app))
        return base, app

    async with stack:
        yield start


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield session


def with_(settings: Settings, **changes) -> Settings:
    return dataclasses.replace(settings, **changes)
