"""Replies state what really happened to an escalation, through the real server: told whom by
which channel, still queued, nobody reachable, or not recorded; reachability is reported by
/api/schools, /readyz, start-up and `kb check` before anyone relies on it."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys

import pytest

from adapters.escalation_wiring import ESCALATIONS
from bot.decide.answer import PolicyBot
from tests.bot.escalations.conftest import smtp_server  # noqa: F401 - a fixture
from tests.conftest import REPO

from .conftest import eventually, wait_ready, with_

URGENT_Q = "a pupil has sent me a nude photo of another pupil, what do I do?"


def with_contacts(bot: PolicyBot, slug: str, **lead_fields) -> PolicyBot:
    """The bundled bot, with one school's lead given addresses (the deployment's own ids)."""
    kb = bot.kb
    school = kb.schools[slug]
    school = dataclasses.replace(school, lead=dataclasses.replace(school.lead, **lead_fields))
    kb = dataclasses.replace(kb, schools={**kb.schools, slug: school})
    return PolicyBot(kb, bot.retriever, bot.settings, bot.model, bot.mode, bot.concerns)


async def ask(client, base, school, question):
    async with client.post(f"{base}/api/ask", json={"school": school, "question": question}) as resp:
        return resp.status, await resp.json()


async def test_nobody_reachable_is_said_and_never_claimed_as_sent(serve_app, settings, client, tmp_path):
    """The bundled schools: no lead address, no SMTP. The reply says nobody could be notified."""
    base, app = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    ready = await wait_ready(client, base)
    assert ready["ready"] and set(ready["unreachable_schools"]) == {"arh", "kingsmead", "lzw", "thorpe-acre", "tsat"}
    status, out = await ask(client, base, "tsat", URGENT_Q)
    assert status == 200 and out["decision"] == "urgent"
    assert out["delivery"]["state"] == "nobody_reachable" and out["escalation"]["id"]
    assert "could not notify anyone" in out["text"] and "in person now" in out["text"]
    for claim in ("has told", "goes straight", "marked urgent", "Sent to"):
        assert claim not in out["text"] and claim not in out["delivery_text"]
    async with client.get(f"{base}/api/schools") as resp:
        schools = {s["slug"]: s for s in (await resp.json())["schools"]}
    assert schools["tsat"]["reach"] == {"lead": [], "deputy": [], "anyone": False}


async def test_a_reachable_lead_is_told_by_email_and_the_reply_says_so(serve_app, settings, client, tmp_path,
                                                                      bundled_bot, smtp_server):  # noqa: F811
    bot = with_contacts(bundled_bot, "tsat", email="head@tsat.test")
    s = with_(settings, db_path=tmp_path / "esc.sqlite3", smtp_host="127.0.0.1", smtp_port=smtp_server.port,
              smtp_starttls=False, worker_poll_seconds=30.0)  # the reply's wake-up, not the poll, sends it
    base, app = await serve_app(s, escalations=True, factory=lambda _s: bot)
    ready = await wait_ready(client, base)
    assert "tsat" not in ready["unreachable_schools"] and ready["notice_channels"] == ["email"]
    status, out = await ask(client, base, "tsat", URGENT_Q)
    assert out["delivery"]["state"] == "delivered"
    assert "policybot has told the Headteacher/Principal by email, marked urgent" in out["text"]
    assert len(smtp_server.received) == 1  # the claim is true: the SMTP server has the notice
    assert "Go to them in person anyway" in out["text"]


async def test_an_unreadable_store_is_an_error_the_asker_sees(serve_app, settings, client, tmp_path):
    db = tmp_path / "esc.sqlite3"
    db.write_bytes(os.urandom(4096))
    base, app = await serve_app(with_(settings, db_path=db), escalations=True)
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 503
    await eventually(lambda: _loaded(client, base))
    status, out = await ask(client, base, "tsat", URGENT_Q)
    assert status == 200 and out["decision"] == "urgent"
    assert out["delivery"]["state"] == "not_recorded" and out["escalation"] is None
    assert "could not record or send this" in out["text"] and "in person now" in out["text"]
    async with client.post(f"{base}/api/escalate", json={"school": "tsat", "question": "can I use tiktok?"}) as resp:
        assert resp.status == 503 and "directly" in (await resp.json())["error"]


async def _loaded(client, base):
    async with client.get(f"{base}/api/schools") as resp:
        return resp.status == 200


async def test_a_failed_write_is_reported_and_readiness_says_so_until_one_succeeds(serve_app, settings, client,
                                                                                   tmp_path):
    base, app = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    await wait_ready(client, base)
    service = app[ESCALATIONS].service
    real_create = service.store.create

    async def broken(*args, **kwargs):
        raise OSError("disk full")

    service.store.create = broken
    status, out = await ask(client, base, "tsat", URGENT_Q)
    assert out["delivery"]["state"] == "not_recorded" and "could not record" in out["text"]
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 503 and "failed a write" in (await resp.json())["reason"]
    service.store.create = real_create
    status, out = await ask(client, base, "tsat", URGENT_Q)
    assert out["delivery"]["state"] == "nobody_reachable"
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 200


def test_startup_warns_per_unreachable_school(caplog):
    """The same check `policybot serve` logs at start (and /readyz reports)."""
    from bot.escalations.reach import unreachable_warnings
    from bot.knowledge.load import bundled_knowledge_dir, load_knowledge

    kb = load_knowledge(bundled_knowledge_dir())
    lines = unreachable_warnings(kb, ())
    assert len(lines) == 5 and all("set SMTP_HOST" in line for line in lines)
    lines = unreachable_warnings(kb, ("email",))
    assert "tsat: escalations cannot reach the Headteacher/Principal or the Deputy CEO: give the lead or deputy " \
           "an email address (email) in knowledge/schools/tsat.yaml" in lines[-1]


async def test_serve_logs_the_reachability_warnings_once_loaded(serve_app, settings, client, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="policybot.server")
    base, _ = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    await wait_ready(client, base)
    warned = await eventually(lambda: _async([r for r in caplog.records if "escalations cannot reach" in r.message]))
    assert len(warned) == 5


async def _async(value):
    return value


def _cli(*args, env_extra=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "SLACK_", "MICROSOFT_"))}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_the_command_line_says_plainly_it_sends_nothing(tmp_path):
    db = tmp_path / "esc.sqlite3"
    proc = _cli("ask", "--school", "tsat", URGENT_Q, env_extra={"POLICYBOT_DB_PATH": str(db)})
    assert proc.returncode == 0
    assert "policybot does not send anything from the command line: go to" in proc.stdout
    assert "goes straight" not in proc.stdout and not db.exists()
    proc = _cli("ask", "--json", "--school", "tsat", URGENT_Q)
    assert json.loads(proc.stdout)["delivery"]["state"] == "not_sent_here"


@pytest.mark.parametrize("smtp,expect_warning", [("", True), ("127.0.0.1", True)])
def test_kb_check_warns_per_unreachable_school(smtp, expect_warning):
    proc = _cli("kb", "check", env_extra={"SMTP_HOST": smtp} if smtp else None)
    assert proc.returncode == 0
    assert ("warning: tsat: escalations cannot reach" in proc.stdout) is expect_warning
    assert ("escalation channels configured here: email" in proc.stdout) is bool(smtp)


async def test_an_off_topic_question_is_not_sent_unasked_and_can_be_sent_anyway(serve_app, settings, client,
                                                                                 tmp_path):
    base, app = await serve_app(with_(settings, db_path=tmp_path / "esc.sqlite3"), escalations=True)
    await wait_ready(client, base)
    status, out = await ask(client, base, "tsat", "what time is the staff christmas party on friday?")
    assert out["reason"] == "out_of_scope" and "delivery" not in out
    assert "It has not been sent to anyone" in out["text"] and "ask them anyway" in out["text"]
    assert await app[ESCALATIONS].service.list() == []
    async with client.post(f"{base}/api/escalate",
                           json={"school": "tsat", "question": "what time is the staff christmas party on friday?"}) as resp:
        sent = await resp.json()
    assert resp.status == 201 and sent["escalation"]["id"]
    (esc,) = await app[ESCALATIONS].service.list()
    assert esc.reason == "asked_by_user"
