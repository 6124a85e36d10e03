"""Routing rules as pure functions with a made-up clock: who is told, where, and when."""
from __future__ import annotations

from dataclasses import replace

from bot.escalations import routing
from bot.escalations.model import ACKNOWLEDGED, Candidate, ContactRef, Escalation

from .conftest import make_asker, settings

T0 = 1_800_000_000.0
LEAD = ContactRef("Online Safety Lead", "Ms A Lead", "lead@alpha.test", slack_user_id="U_LEAD")
DEPUTY = ContactRef("Headteacher", "Mr A Head", "head@alpha.test", slack_user_id="U_HEAD")
ALL = ["slack", "email", "log"]


def esc(urgent=False, lead=LEAD, deputy=DEPUTY, status="open", platform="slack") -> Escalation:
    return Escalation(id="e1", school="alpha", school_name="Alpha", asker=make_asker(platform), question="q",
                      candidates=(Candidate("1.1", "P, 1"),), reason="urgent" if urgent else "low_confidence",
                      urgent=urgent, lead=lead, deputy=deputy, status=status, created_at=T0)


def summary(msgs):
    return sorted((m.kind, m.recipient_role, m.channel) for m in msgs)


def test_ordinary_goes_to_the_lead_on_chat_first():
    assert summary(routing.initial_messages(esc(), ALL, T0)) == [("notify_lead", "lead", "slack")]


def test_without_a_chat_notifier_the_lead_gets_email():
    assert summary(routing.initial_messages(esc(), ["email", "log"], T0)) == [("notify_lead", "lead", "email")]


def test_a_lead_with_no_address_falls_back_and_says_so():
    blank = ContactRef("Online Safety Lead")
    [m] = routing.initial_messages(esc(lead=blank), ALL, T0)
    assert (m.recipient_role, m.channel) == ("deputy", "slack")
    assert "lead has no reachable address" in m.payload["note"]


def test_nobody_reachable_goes_to_the_log():
    blank = esc(lead=ContactRef("Lead"), deputy=ContactRef("Head"))
    [m] = routing.initial_messages(blank, ALL, T0)
    assert (m.recipient_role, m.channel) == ("log", "log") and m.payload["note"]


def test_reminder_then_deputy_only_while_unacknowledged():
    s = settings(reminder_minutes=60, deputy_after_minutes=30)
    assert routing.due_messages(esc(), T0 + 59 * 60, s, ALL) == []
    assert summary(routing.due_messages(esc(), T0 + 60 * 60, s, ALL)) == [("remind", "lead", "slack")]
    later = routing.due_messages(esc(), T0 + 90 * 60, s, ALL)
    assert summary(later) == [("notify_deputy", "deputy", "slack"), ("remind", "lead", "slack")]
    assert {m.idempotency_key for m in later} == {"e1:remind", "e1:notify_deputy"}
    assert all(m.cancel_on_ack for m in later)
    assert routing.due_messages(esc(status=ACKNOWLEDGED), T0 + 90 * 60, s, ALL) == []


def test_urgent_tells_both_at_once_then_renotifies_until_acknowledged():
    s = settings(urgent_renotify_minutes=5)
    first = routing.initial_messages(esc(urgent=True), ALL, T0)
    assert summary(first) == [("urgent", "deputy", "slack"), ("urgent", "lead", "slack")]
    assert not any(m.cancel_on_ack for m in first)
    assert routing.due_messages(esc(urgent=True), T0 + 4 * 60, s, ALL) == []
    round1 = routing.due_messages(esc(urgent=True), T0 + 5 * 60, s, ALL)
    assert {m.idempotency_key for m in round1} == {"e1:urgent:1:lead", "e1:urgent:1:deputy"}
    round3 = routing.due_messages(esc(urgent=True), T0 + 16 * 60, s, ALL)
    assert {m.idempotency_key for m in round3} == {"e1:urgent:3:lead", "e1:urgent:3:deputy"}
    assert routing.due_messages(esc(urgent=True, status=ACKNOWLEDGED), T0 + 16 * 60, s, ALL) == []


def test_urgent_to_the_same_place_twice_is_one_message():
    [m] = routing.initial_messages(esc(urgent=True, deputy=ContactRef("Head")), ALL, T0)
    assert m.recipient_role == "lead"


def test_fallback_chain_lead_deputy_then_email_then_log():
    e = esc()
    [m] = routing.initial_messages(e, ALL, T0)
    hops = []
    while True:
        target = routing.next_target(e, m, ALL)
        if target is None:
            break
        m = routing.reroute_message(e, m, target, T0, "failing")
        hops.append((m.recipient_role, m.channel))
    assert hops == [("deputy", "slack"), ("lead", "email"), ("deputy", "email"), ("log", "log")]


def test_the_asker_platform_is_preferred_among_chats():
    e = esc(platform="teams", lead=replace(LEAD, teams_user_id="T_LEAD"))
    [m] = routing.initial_messages(e, ["slack", "teams", "email", "log"], T0)
    assert m.channel == "teams" and m.address == "T_LEAD"


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    low, high = (lambda: 0.0), (lambda: 1.0)
    assert [routing.backoff_seconds(n, 10, 100, high) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 100]
    assert [routing.backoff_seconds(n, 10, 100, low) for n in (1, 2, 3)] == [5, 10, 20]
