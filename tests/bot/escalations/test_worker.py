"""The outbox worker with an injected clock and scripted notifiers: retries with backoff,
fallback to the next contact, urgent re-notification until acknowledged, answers to askers."""
from __future__ import annotations

import pytest

from bot.escalations.model import CANCELLED, FAILED, PENDING, REROUTED, SENT
from bot.knowledge.load import Contact
from bot.escalations.notify import LogNotifier, NotifierRegistry, PermanentError, RetryableError
from bot.escalations.outbox import OutboxWorker
from bot.escalations.service import EscalationService

from .conftest import make_answer, make_asker, settings


class Scripted:
    """A notifier that fails as told, then succeeds; records what it delivered, once per key."""

    def __init__(self, failures=(), name="chat"):
        self.failures, self.name = list(failures), name
        self.sent: list[tuple[str, str, str]] = []
        self.attempts = 0

    async def send(self, message, escalation):
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        assert message.idempotency_key not in {k for k, _, _ in self.sent}, "same key sent twice"
        self.sent.append((message.idempotency_key, message.kind, message.recipient_role))


def setup(store, clock, **notifiers):
    registry = NotifierRegistry()
    registry.register("log", notifiers.pop("log", LogNotifier()))
    for channel, notifier in notifiers.items():
        registry.register(channel, notifier)
    s = settings(max_delivery_attempts=3, retry_base_seconds=10, retry_max_seconds=100)
    worker = OutboxWorker(store, registry, s, clock=clock, rng=lambda: 1.0)
    return EscalationService(store, registry, clock), worker


async def test_delivers_and_marks_sent(store, clock):
    slack = Scripted()
    service, worker = setup(store, clock, slack=slack)
    esc = await service.escalate(make_answer(), "q", make_asker())
    assert await worker.tick() == 1
    assert slack.sent == [(f"{esc.id}:notify_lead", "notify_lead", "lead")]
    [m] = await store.messages(esc.id)
    assert m.status == SENT and m.attempts == 1
    assert await worker.tick() == 0 and len(slack.sent) == 1


async def test_fails_twice_then_succeeds_with_growing_backoff(store, clock):
    slack = Scripted([RetryableError("503"), ConnectionError("reset")])
    service, worker = setup(store, clock, slack=slack)
    esc = await service.escalate(make_answer(), "q", make_asker())
    await worker.tick()
    [m] = await store.messages(esc.id)
    assert (m.status, m.attempts, m.next_attempt_at - clock.now) == (PENDING, 1, 10)  # base * 2^0
    assert "503" in m.last_error
    clock.advance(9)
    await worker.tick()
    assert slack.attempts == 1  # not due yet
    clock.advance(1)
    await worker.tick()
    [m] = await store.messages(esc.id)
    assert (m.attempts, m.next_attempt_at - clock.now) == (2, 20)  # base * 2^1
    clock.advance(20)
    await worker.tick()
    [m] = await store.messages(esc.id)
    assert m.status == SENT and m.attempts == 3 and slack.sent[0][0] == f"{esc.id}:notify_lead"


async def test_unreachable_lead_falls_back_to_next_contact_and_records_it(store, clock):
    slack = Scripted([RetryableError("down")] * 3)
    email = Scripted()
    service, worker = setup(store, clock, slack=slack, email=email)
    esc = await service.escalate(make_answer(), "q", make_asker())
    for _ in range(3):
        await worker.tick()
        clock.advance(1000)
    await worker.tick()
    msgs = await store.messages(esc.id)
    first = next(m for m in msgs if m.channel == "slack")
    second = next(m for m in msgs if m.id == first.rerouted_to)
    assert first.status == REROUTED and "3 attempts failed" in first.last_error
    # the deputy has no Slack id, so the next contact in the chain is the lead's email
    assert (second.recipient_role, second.channel, second.status) == ("lead", "email", SENT)
    assert email.sent == [(second.idempotency_key, "notify_lead", "lead")]


async def test_permanent_failure_falls_back_at_once_down_to_the_log(store, clock):
    email = Scripted([PermanentError("550")] * 2)
    log = Scripted()
    service, worker = setup(store, clock, email=email, log=log)
    esc = await service.escalate(make_answer(), "q", make_asker())
    await worker.tick()  # lead email refused -> deputy email
    clock.advance(1)
    await worker.tick()  # deputy email refused -> log
    clock.advance(1)
    await worker.tick()
    by_id = {m.id: m for m in await store.messages(esc.id)}
    m, chain = next(m for m in by_id.values() if m.recipient_role == "lead"), []
    while m:  # follow the recorded hand-overs
        chain.append((m.recipient_role, m.channel, m.status))
        m = by_id.get(m.rerouted_to)
    assert chain == [("lead", "email", REROUTED), ("deputy", "email", REROUTED), ("log", "log", SENT)]
    assert log.sent[0][1] == "notify_lead"


async def test_urgent_renotifies_until_acknowledged(store, clock):
    slack, email = Scripted(), Scripted()
    service, worker = setup(store, clock, slack=slack, email=email)
    esc = await service.escalate(make_answer("urgent", "urgent", concern="disclosure"), "q", make_asker())
    await worker.tick()
    assert sorted(r for _, _, r in slack.sent + email.sent) == ["deputy", "lead"]
    clock.advance(minutes=5)
    await worker.tick()
    clock.advance(minutes=5)
    await worker.tick()
    assert len(slack.sent + email.sent) == 6  # 3 rounds x (lead on Slack, deputy by email)
    await service.acknowledge(esc.id, "Mr A Head")
    clock.advance(minutes=30)
    await worker.tick()
    assert len(slack.sent + email.sent) == 6


async def test_ordinary_reminder_then_deputy_and_ack_cancels(store, clock):
    slack, email = Scripted(), Scripted()
    service, worker = setup(store, clock, slack=slack, email=email)
    esc = await service.escalate(make_answer(), "q", make_asker())
    await worker.tick()
    clock.advance(minutes=60)
    await worker.tick()
    assert [k for k, _, _ in slack.sent] == [f"{esc.id}:notify_lead", f"{esc.id}:remind"]
    clock.advance(minutes=30)
    await worker.tick()
    assert email.sent == [(f"{esc.id}:notify_deputy", "notify_deputy", "deputy")]
    await service.acknowledge(esc.id, "Ms A Lead")
    clock.advance(minutes=600)
    await worker.tick()
    assert len(slack.sent) == 2 and len(email.sent) == 1


async def test_a_reminder_claimed_after_acknowledgement_is_cancelled_not_sent(store, clock):
    slack = Scripted()
    service, worker = setup(store, clock, slack=slack)
    esc = await service.escalate(make_answer(), "q", make_asker())
    await worker.tick()
    clock.advance(minutes=60)
    await worker.run_timers()
    [remind] = await store.claim_due(clock.now, ["slack"], 10, 60, worker.token)  # in flight...
    await service.acknowledge(esc.id, "Ms A Lead")  # ...when the lead acknowledges
    await worker._deliver(remind)
    assert {m.kind: m.status for m in await store.messages(esc.id)} == {"notify_lead": SENT, "remind": CANCELLED}
    assert [kind for _, kind, _ in slack.sent] == ["notify_lead"]


async def test_answer_waits_pending_without_a_notifier_for_the_askers_platform(store, clock):
    service, worker = setup(store, clock, email=Scripted())
    esc = await service.escalate(make_answer(), "q", make_asker(platform="teams"))
    await service.answer(esc.id, "Ms A Lead", "No.")
    for _ in range(3):
        clock.advance(1000)
        await worker.tick()
    reply = next(m for m in await store.messages(esc.id) if m.kind == "answer_to_asker")
    assert reply.status == PENDING and reply.attempts == 0  # not dropped, not rerouted: waiting
    teams = Scripted()
    _, worker2 = setup(store, clock, email=Scripted(), teams=teams)
    await worker2.tick()
    assert teams.sent == [(f"{esc.id}:answer_to_asker", "answer_to_asker", "asker")]


async def test_answer_to_asker_keeps_retrying_but_never_reroutes(store, clock):
    web = Scripted([RetryableError("x")] * 5)
    service, worker = setup(store, clock, web=web)
    esc = await service.escalate(make_answer(), "q", make_asker(platform="web"))
    await service.answer(esc.id, "Ms A Lead", "No.")
    for _ in range(6):
        await worker.tick()
        clock.advance(1000)
    reply = next(m for m in await store.messages(esc.id) if m.kind == "answer_to_asker")
    assert reply.status == SENT and reply.attempts == 6 and reply.recipient_role == "asker"


async def test_answer_to_asker_refused_permanently_is_failed_and_visible(store, clock):
    web = Scripted([PermanentError("user left")])
    service, worker = setup(store, clock, web=web)
    esc = await service.escalate(make_answer(), "q", make_asker(platform="web"))
    await service.answer(esc.id, "Ms A Lead", "No.")
    await worker.tick()
    reply = next(m for m in await store.messages(esc.id) if m.kind == "answer_to_asker")
    assert reply.status == FAILED and reply.last_error == "user left"


async def test_worker_purges_on_its_schedule(store, clock):
    service, worker = setup(store, clock)
    worker.purge_every = 3600
    esc = await service.escalate(make_answer(), "secret", make_asker())
    await service.close(esc.id)
    await worker.tick()
    assert (await store.get(esc.id)).question == "secret"
    clock.advance(minutes=90 * 24 * 60 + 1)
    await worker.tick()
    assert (await store.get(esc.id)).question == ""


def test_an_unknown_pause_point_is_refused(tmp_path):
    with pytest.raises(ValueError, match="POLICYBOT_WORKER_TEST_PAUSE"):
        OutboxWorker(None, NotifierRegistry(), settings(worker_test_pause="sometime"))


async def test_log_notifier_logs_ids_never_the_question(store, clock, caplog):
    service, worker = setup(store, clock)
    esc = await service.escalate(make_answer(lead=Contact(role="Lead"), deputy=Contact(role="Head")),
                                 "Is Jo Bloggs in danger?", make_asker())
    caplog.set_level("DEBUG")
    await worker.tick()
    assert esc.id in caplog.text and "notify_lead" in caplog.text
    assert "Jo Bloggs" not in caplog.text


async def test_a_live_worker_renews_its_short_lease_so_a_slow_send_is_not_taken_over(store):
    """The lease is short so a dead worker's claim returns quickly; a live one renews it while
    its notifier works, so a second worker never sends the same notice meanwhile."""
    import asyncio
    import time as real_time

    gate = asyncio.Event()

    class Slow:
        sent = 0

        async def send(self, message, escalation):
            await gate.wait()
            Slow.sent += 1

    registry = NotifierRegistry()
    registry.register("slack", Slow())
    live = OutboxWorker(store, registry, settings(delivery_lease_seconds=0.3))
    await EscalationService(store, registry).escalate(make_answer(), "q", make_asker())
    task = asyncio.create_task(live.deliver_due())
    await asyncio.sleep(0.9)  # three leases: without renewal the claim would have lapsed
    assert await store.claim_due(real_time.time(), ["slack"], 10, 0.3, "other") == []
    gate.set()
    assert await task == 1 and Slow.sent == 1
    assert [m.status for m in await store.messages()] == [SENT]
