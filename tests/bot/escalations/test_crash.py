"""Kill a real `policybot worker` with SIGKILL between write and send, restart it, and count
what reached a real SMTP server: nothing lost, nothing sent twice under a different identity.

Two deterministic kill points (POLICYBOT_WORKER_TEST_PAUSE makes the worker hang there and
print PAUSED; the test then SIGKILLs it):
* after_claim: the message is `sending` in the database, nothing sent yet;
* after_send: the SMTP server has accepted it, `sent` not yet committed.
"""
from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter

from bot.escalations.model import SENT, Asker
from bot.escalations.notify import NotifierRegistry, message_id_for
from bot.escalations.service import EscalationService
from bot.escalations.sqlite_store import SqliteStore
from tests.conftest import REPO

from .conftest import make_answer

QUESTION = "Jo Bloggs in Year 5 sent me a friend request, what do I do?"


def _env(db, smtp_port, pause="", lease="0.5"):
    """`lease` None: the default delivery lease, as a deployment runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "POLICYBOT_")) and k != "DATABASE_URL"}
    env.update(POLICYBOT_DB_PATH=str(db), SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port), SMTP_STARTTLS="0",
               SMTP_FROM="policybot@school.test", POLICYBOT_WORKER_POLL_SECONDS="0.05",
               POLICYBOT_RETRY_BASE_SECONDS="0.05", POLICYBOT_RETRY_MAX_SECONDS="0.2", POLICYBOT_WORKER_TEST_PAUSE=pause)
    if lease is not None:
        env["POLICYBOT_DELIVERY_LEASE_SECONDS"] = lease
    return env


def _start(db, smtp_port, log, pause="", lease="0.5"):
    return subprocess.Popen([sys.executable, "-m", "adapters.cli", "worker"], cwd=REPO,
                            env=_env(db, smtp_port, pause, lease), stdout=subprocess.PIPE, stderr=log, text=True)


def _stop_all(procs, log):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    log.close()


def _wait_paused(proc, point, limit=30.0):
    """The PAUSED line the worker prints when it reaches `point` (a safety limit, not a timing check)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(f"PAUSED {point} "):
                return line.split()[3]  # the idempotency key
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"worker never reached {point} (exit code {proc.poll()})")


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


async def _seed(db):
    """Three escalations for the lead by email, one already answered back to an email asker."""
    registry = NotifierRegistry()
    registry.register("email", object())  # routing may choose email; this process never sends
    async with SqliteStore(db) as store:
        service = EscalationService(store, registry)
        made = [await service.escalate(make_answer(), f"{QUESTION} ({i})",
                                       Asker("email", "sam@alpha.test", display_name="Sam")) for i in range(3)]
        await service.answer(made[2].id, "Ms A Lead", "Do not accept it; tell me and I will speak to the family.")
        return {m.idempotency_key for m in await store.messages()}


async def _statuses(db):
    async with SqliteStore(db) as store:
        return {m.idempotency_key: m for m in await store.messages()}


def test_sigkill_at_each_point_loses_nothing_and_duplicates_nothing_unrecognisably(tmp_path, smtp_server):
    db = tmp_path / "policybot.sqlite3"
    keys = asyncio.run(_seed(db))
    assert len(keys) == 4
    expected_ids = {message_id_for(k, "school.test"): k for k in keys}
    log = open(tmp_path / "worker.log", "w")
    procs = []
    try:
        # 1. killed after claiming, before sending: the message is 'sending', nothing went out
        procs.append(_start(db, smtp_server.port, log, pause="after_claim"))
        claimed_key = _wait_paused(procs[-1], "after_claim")
        _kill(procs[-1])
        assert smtp_server.received == []
        assert asyncio.run(_statuses(db))[claimed_key].status == "sending"

        # 2. killed after the SMTP server accepted a message, before 'sent' was committed
        procs.append(_start(db, smtp_server.port, log, pause="after_send"))
        sent_key = _wait_paused(procs[-1], "after_send")
        _kill(procs[-1])
        assert smtp_server.message_ids() == [message_id_for(sent_key, "school.test")]
        assert asyncio.run(_statuses(db))[sent_key].status == "sending"

        # 3. a normal worker finishes the job, then stops cleanly on SIGTERM
        procs.append(_start(db, smtp_server.port, log))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(m.status != SENT for m in asyncio.run(_statuses(db)).values()):
            time.sleep(0.1)
        procs[-1].send_signal(signal.SIGTERM)
        assert procs[-1].wait(10) == 0
    finally:
        _stop_all(procs, log)

    final = asyncio.run(_statuses(db))
    assert {k: m.status for k, m in final.items()} == {k: SENT for k in keys}  # nothing lost
    counts = Counter(smtp_server.message_ids())
    assert set(counts) == set(expected_ids)  # every notification and the answer arrived, nothing else
    # Exactly one SMTP delivery per message, including the one killed after claiming; the single
    # exception is the message killed after the server accepted it and before 'sent' was
    # committed: it is sent again under the same Message-ID, i.e. the same email to the reader.
    assert {expected_ids[mid]: n for mid, n in counts.items()} == {k: (2 if k == sent_key else 1) for k in keys}
    # the answer went back to the asker, quoted and attributed to the lead by name
    answer = next(m for rcpt, m in smtp_server.received if rcpt == ["sam@alpha.test"])
    body = answer.get_payload(decode=True).decode()
    assert "Ms A Lead (Online Safety Lead)" in body and "> Do not accept it" in body
    # and the worker's logs carry ids, never the question
    logs = (tmp_path / "worker.log").read_text()
    assert "delivered: escalation=" in logs and "Jo Bloggs" not in logs


async def _seed_urgent(db):
    """One urgent escalation, lead and deputy by email."""
    registry = NotifierRegistry()
    registry.register("email", object())
    async with SqliteStore(db) as store:
        answer = make_answer("urgent", "urgent", concern="self-harm or suicide")
        await EscalationService(store, registry).escalate(answer, QUESTION, Asker("email", "sam@alpha.test"))
        return {m.idempotency_key for m in await store.messages()}


def test_an_urgent_notice_claimed_by_a_killed_worker_is_sent_within_one_short_lease(tmp_path, smtp_server):
    """With the default lease (not the 0.5 s the test above uses): a worker killed holding an
    urgent notice used to leave it for the 120 s lease; the claim is now short and renewed only
    by a live worker, so the next worker sends it within one lease of the kill."""
    from bot.config import Settings

    db = tmp_path / "policybot.sqlite3"
    keys = asyncio.run(_seed_urgent(db))
    log = open(tmp_path / "worker.log", "w")
    procs = []
    try:
        procs.append(_start(db, smtp_server.port, log, pause="after_claim", lease=None))
        _wait_paused(procs[-1], "after_claim")
        _kill(procs[-1])
        killed = time.monotonic()
        procs.append(_start(db, smtp_server.port, log, lease=None))
        while time.monotonic() - killed < 60 and len(smtp_server.received) < len(keys):
            time.sleep(0.1)
        waited = time.monotonic() - killed
    finally:
        _stop_all(procs, log)
    assert len(smtp_server.received) == len(keys) == 2  # lead and deputy, each once
    # Within one lease (plus a poll and the restart), far from the old 120 s.
    assert waited < Settings.delivery_lease_seconds + 15
