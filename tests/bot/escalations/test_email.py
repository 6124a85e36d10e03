"""EmailNotifier against a real SMTP server on loopback (aiosmtpd)."""
from __future__ import annotations

import pytest

from bot.escalations.model import OutboxMessage
from bot.escalations.notify import EmailNotifier, PermanentError, RetryableError, message_id_for
from bot.escalations.service import EscalationService
from bot.escalations.notify import NotifierRegistry
from bot.escalations.outbox import OutboxWorker
from bot.escalations.sqlite_store import SqliteStore

from .conftest import free_port, make_answer, make_asker, settings


def notifier(port: int) -> EmailNotifier:
    return EmailNotifier("127.0.0.1", port, "policybot@school.test", starttls=False, timeout=5)


@pytest.fixture
async def sqlite(tmp_path):
    s = await SqliteStore(tmp_path / "e.sqlite3").open()
    yield s
    await s.close()


async def _escalate_and_deliver(store, clock, email):
    registry = NotifierRegistry()
    registry.register("email", email)
    service = EscalationService(store, registry, clock)
    esc = await service.escalate(make_answer(), "Can I accept Jo's mum's friend request?",
                                 make_asker("web"))
    await OutboxWorker(store, registry, settings(), clock=clock).tick()
    return esc


async def test_the_lead_gets_a_plain_text_email_with_what_they_need(sqlite, clock, smtp_server):
    esc = await _escalate_and_deliver(sqlite, clock, notifier(smtp_server.port))
    [(rcpts, mail)] = smtp_server.received
    assert rcpts == ["lead@alpha.test"]
    body = mail.get_payload(decode=True).decode()
    assert esc.id in mail["Subject"] and "Alpha Primary" in mail["Subject"]
    assert "Can I accept Jo's mum's friend request?" in body
    assert "Sam Teacher via web" in body and "1.1: Alpha Social Media Policy, 1 Contact with pupils" in body
    assert f"policybot escalations answer {esc.id}" in body
    assert mail["Message-ID"] == message_id_for(f"{esc.id}:notify_lead", "school.test")
    assert mail.get_content_type() == "text/plain"


async def test_the_same_key_is_not_sent_twice(sqlite, clock, smtp_server):
    email = notifier(smtp_server.port)
    esc = await _escalate_and_deliver(sqlite, clock, email)
    [m] = await sqlite.messages(esc.id)
    await email.send(m, esc)
    assert len(smtp_server.received) == 1


async def test_an_urgent_email_is_marked_urgent(sqlite, clock, smtp_server):
    registry = NotifierRegistry()
    registry.register("email", notifier(smtp_server.port))
    service = EscalationService(sqlite, registry, clock)
    await service.escalate(make_answer("urgent", "urgent", concern="disclosure"), "help", make_asker())
    await OutboxWorker(sqlite, registry, settings(), clock=clock).tick()
    mails = [m for _, m in smtp_server.received]
    assert sorted(r for r, _ in smtp_server.received) == [["head@alpha.test"], ["lead@alpha.test"]]
    assert all("URGENT" in m["Subject"] and m["Importance"] == "high" for m in mails)
    assert len({m["Message-ID"] for m in mails}) == 2


def _message(address="lead@alpha.test") -> OutboxMessage:
    return OutboxMessage(id="m1", escalation_id="e1", kind="notify_lead", recipient_role="lead", channel="email",
                         address=address, idempotency_key="e1:notify_lead")


async def test_a_refused_recipient_is_permanent(smtp_server, clock):
    from bot.escalations.model import Escalation

    smtp_server.refuse.add("lead@alpha.test")
    esc = Escalation(id="e1", school="alpha", school_name="A", asker=make_asker(), question="q", candidates=(),
                     reason="low_confidence", urgent=False, lead=None, deputy=None)
    with pytest.raises(PermanentError):
        await notifier(smtp_server.port).send(_message(), esc)
    with pytest.raises(PermanentError):
        await notifier(smtp_server.port).send(_message(address=""), esc)


async def test_no_server_is_retryable():
    from bot.escalations.model import Escalation

    esc = Escalation(id="e1", school="alpha", school_name="A", asker=make_asker(), question="q", candidates=(),
                     reason="low_confidence", urgent=False, lead=None, deputy=None)
    with pytest.raises(RetryableError):
        await notifier(free_port()).send(_message(), esc)
