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


# --- the database behind the server: every channel test runs on SQLite and on PostgreSQL ---

PG_ENV = "POLICYBOT_TEST_DATABASE_URL"


async def pg_unavailable(url: str | None) -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    if not url:
        return f"{PG_ENV} is not set"
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(url), timeout=5)
    except Exception as exc:  # noqa: BLE001 - any reason is a reason to skip, printed
        return f"cannot connect to {url.rsplit('@', 1)[-1]}: {type(exc).__name__}: {exc}"
    await conn.close()
    return None


@contextlib.asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema; yields a DATABASE_URL whose connections use it (search_path),
    so parallel tests never see each other's rows. Skips the test when PostgreSQL is unavailable."""
    import os
    import uuid

    import asyncpg

    url = os.environ.get(PG_ENV)
    reason = await pg_unavailable(url)
    if reason:
        pytest.skip(f"PostgreSQL not available: {reason}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(url)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    try:
        yield f"{url}{'&' if '?' in url else '?'}search_path={schema}"
    finally:
        conn = await asyncpg.connect(url)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request, tmp_path) -> AsyncIterator[dict]:
    """Settings changes for the server's database: the SQLite file, or a PostgreSQL schema of its
    own (POLICYBOT_DB_PATH is still set: it is where an old adapters' file would be)."""
    changes = {"db_path": tmp_path / "policybot.sqlite3", "database_url": ""}
    if request.param == "sqlite":
        yield changes
        return
    async with pg_schema() as url:
        yield {**changes, "database_url": url}


@contextlib.asynccontextmanager
async def opened_store(settings: Settings):
    """The server's store opened on its own connection (what another process would see)."""
    from bot.escalations.factory import open_store

    store = open_store(settings)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def stored(settings: Settings, channel: str) -> list:
    """Every inbox item of a channel, read through a connection of its own."""
    async with opened_store(settings) as store:
        return await store.inbox_items(channel)
