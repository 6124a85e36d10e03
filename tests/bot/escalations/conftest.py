"""Fixtures for the escalation tests: the same store suite over SQLite and PostgreSQL, a
controllable clock, a real local SMTP server, and Answers with chosen contacts."""
from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from dataclasses import replace
from email import message_from_bytes

import pytest

from bot.decide.answer import Answer, Citation
from bot.config import Settings
from bot.escalations.model import Asker
from bot.knowledge.load import Contact

PG_ENV = "POLICYBOT_TEST_DATABASE_URL"

LEAD = Contact(role="Online Safety Lead", name="Ms A Lead", email="lead@alpha.test", slack_user_id="U_LEAD")
DEPUTY = Contact(role="Headteacher", name="Mr A Head", email="head@alpha.test")


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 0, minutes: float = 0) -> None:
        self.now += seconds + minutes * 60


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_answer(decision: str = "escalate", reason: str = "low_confidence", lead: Contact = LEAD,
                deputy: Contact = DEPUTY, concern: str = "") -> Answer:
    cites = (Citation("1.1", "1 Contact with pupils", "Alpha Social Media Policy", "social-media",
                      "Staff must not accept friend requests from current pupils.", "alpha", "prohibition"),)
    return Answer(school="alpha", school_name="Alpha Primary", decision=decision, confidence=0.2, reason=reason,
                  citations=cites if decision != "urgent" else (), lead=lead, deputy=deputy, concern=concern)


def make_asker(platform: str = "web", user: str = "u1") -> Asker:
    return Asker(platform=platform, user_id=user, conversation="conv-1", thread="th-1", display_name="Sam Teacher")


def settings(**changes) -> Settings:
    base = Settings(reminder_minutes=60, deputy_after_minutes=30, urgent_renotify_minutes=5,
                    max_delivery_attempts=3, retry_base_seconds=10, retry_max_seconds=100,
                    delivery_lease_seconds=60, worker_poll_seconds=0.01, retention_days=90)
    return replace(base, **changes)


async def _pg_reason(url: str | None) -> str | None:
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


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    """An open, empty store of each backend; each PostgreSQL test gets its own schema."""
    if request.param == "sqlite":
        from bot.escalations.sqlite_store import SqliteStore

        s = await SqliteStore(tmp_path / "escalations.sqlite3").open()
        yield s
        await s.close()
        return
    url = os.environ.get(PG_ENV)
    reason = await _pg_reason(url)
    if reason:
        pytest.skip(f"PostgreSQL not available: {reason}")
    from bot.escalations.postgres_store import PostgresStore

    schema = f"t_{uuid.uuid4().hex[:12]}"
    s = await PostgresStore(url, schema=schema).open()
    try:
        yield s
    finally:
        await s.close()
        import asyncpg

        conn = await asyncpg.connect(url)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """What the local SMTP server received: (envelope recipients, parsed message) per DATA."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content)))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [m["Message-ID"] for _, m in self.received]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd), on a free port."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()
