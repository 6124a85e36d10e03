"""`policybot serve --workers 2` as real processes behind one port, sharing SQLite or PostgreSQL,
with Slack on against the fake Web API: the same event delivered to both processes is answered
once; an event whose process is SIGKILLed while posting the reply is answered by the other (once,
after looking for the lost reply); an urgent escalation's lead notice is claimed and sent by
exactly one process's outbox worker; the lead's answer reaches the asker's thread once."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.slack import blocks as bk
from adapters.slack.notifier import ESC_ANSWER
from bot.escalations.model import ANSWER_TO_ASKER, SENT
from bot.knowledge.load import bundled_knowledge_dir
from tests.conftest import REPO

from ..conftest import opened_store, stored, with_
from .conftest import BOT_USER, SECRET, action_form, event_body, mention, signed
from .test_lead_keep import submission

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="--workers needs SO_REUSEPORT (Linux)")

FORM = "application/x-www-form-urlencoded"
TSAT_Q = "can I follow a parent back on insta?"
URGENT_Q = "a year 8 girl told me an adult she met online is asking her for nude pictures"
LEAD = "ULEAD"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Workers:
    """The supervisor process and what its workers write to stderr."""

    def __init__(self, proc: subprocess.Popen, log: Path, base: str):
        self.proc, self.log, self.base = proc, log, base

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_log(self, pattern: str, count: int = 1, polls: int = 3000) -> list[re.Match]:
        for _ in range(polls):
            found = list(re.finditer(pattern, self.text(), re.M))
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.text()[-4000:]}")
            await asyncio.sleep(0.02)
        raise AssertionError(f"{pattern!r} seen fewer than {count} times in:\n{self.text()[-4000:]}")

    def pid_of(self, worker: int) -> int:
        return int(re.findall(rf"^worker {worker} started: pid (\d+)$", self.text(), re.M)[-1])


@pytest.fixture
async def workers(fake_slack, settings, database, tmp_path):
    """Starts `policybot serve --workers 2` (Slack on, tsat's lead reachable in Slack) and yields
    (Workers, settings the test can open the same database with); stops it with SIGTERM."""
    kdir = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), kdir)
    school = kdir / "schools" / "tsat.yaml"
    school.write_text(school.read_text().replace('  name: ""\n  email: ""\n  slack_user_id: ""',
                                                 f'  name: "Ms A Lead"\n  email: ""\n  slack_user_id: "{LEAD}"', 1))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "TEAMS_", "SMTP_"))}
    env.update(PORT=str(port), POLICYBOT_HOST="127.0.0.1", POLICYBOT_TODAY="2026-11-25",
               POLICYBOT_KNOWLEDGE_DIR=str(kdir), SLACK_SIGNING_SECRET=SECRET, SLACK_BOT_TOKEN="xoxb-test",
               SLACK_API_URL=fake_slack.base_url, SLACK_TEAM_SCHOOLS="T1=tsat", SLACK_API_RETRIES="0",
               DATABASE_URL=database["database_url"], POLICYBOT_DB_PATH=str(database["db_path"]),
               POLICYBOT_DELIVERY_LEASE_SECONDS="2", POLICYBOT_WORKER_POLL_SECONDS="0.2",
               POLICYBOT_DELIVERY_WAIT_SECONDS="0", POLICYBOT_RELOAD_POLL_SECONDS="0", POLICYBOT_SEMANTIC="off")
    env.pop("WEB_CONCURRENCY", None)
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve", "--workers", "2"], cwd=REPO,
                                env=env, stdout=subprocess.DEVNULL, stderr=err)
    running = Workers(proc, log, f"http://127.0.0.1:{port}")
    try:
        await running.wait_log(r"^worker [12]: ready: ", 2)
        yield running, with_(settings, knowledge_dir=kdir, **database)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def deliver(base: str, body: str, retry: int | None = None, content_type: str = "application/json") -> int:
    """One delivery on a connection of its own (the kernel spreads new connections across the workers)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        async with session.post(f"{base}/slack/events", data=body.encode(),
                                headers=signed(body, retry=retry, content_type=content_type)) as resp:
            return resp.status


def in_thread(fake_slack, ts: str) -> list[dict]:
    return [p for p in fake_slack.of("chat.postMessage") if p.get("thread_ts") == ts]


async def test_one_event_delivered_to_both_workers_is_answered_once_and_escalations_go_out_once(
        workers, fake_slack):
    running, settings = workers
    body = event_body("EvBoth", mention(TSAT_Q, ts="500.1"))
    seen_by: set[str] = set()
    for attempt in range(200):  # Slack's retries, until both workers have had it (new connections, random spread)
        assert await deliver(running.base, body, retry=attempt or None) == 200, running.text()[-3000:]
        seen_by = set(re.findall(r"^worker (\d): slack (?:question stored|duplicate dropped): .*event=EvBoth",
                                 running.text(), re.M))
        if len(seen_by) == 2:
            break
    assert seen_by == {"1", "2"}, "the kernel never gave the event to both workers"
    assert len(re.findall(r"slack question stored: .*event=EvBoth", running.text())) == 1
    (reply,) = await fake_slack.wait_for("chat.postMessage")
    assert reply["thread_ts"] == "500.1"

    async def answered():
        items = [i for i in await stored(settings, "slack") if i.alt_key == "EvBoth"]
        return len(items) == 1 and items[0].status == "answered"

    await _eventually(answered)
    assert len(in_thread(fake_slack, "500.1")) == 1

    # An urgent question: the lead's notice is claimed and sent by one outbox worker of the two.
    urgent = event_body("EvUrgent", mention(URGENT_Q, ts="501.1"))
    assert await deliver(running.base, urgent) == 200
    (notice,) = [p for p in await fake_slack.wait_for_to(f"D{LEAD}")]
    esc_id = [e["value"] for b in notice["blocks"] if b["type"] == "actions" for e in b["elements"]
              if e["action_id"] == ESC_ANSWER][0]
    async with opened_store(settings) as db:
        async def lead_notice_sent():
            return [m for m in await db.messages(esc_id) if m.channel == "slack" and m.address == LEAD
                    and m.status == SENT]

        (sent,) = await _eventually(lead_notice_sent)
        assert sent.attempts == 1  # one claim, by one worker: never taken twice
    assert len(await fake_slack.wait_for_to(f"D{LEAD}")) == 1

    # The lead answers in the modal (at whichever worker): the asker's thread gets it once.
    form = action_form(ESC_ANSWER, esc_id, channel=f"D{LEAD}", user=LEAD)
    assert await deliver(running.base, form, content_type=FORM) == 200
    (opened,) = await fake_slack.wait_for("views.open")
    answer = "Please speak to the DSL now; I have been told and am dealing with it."
    assert await deliver(running.base, submission(opened["view"], answer), content_type=FORM) == 200

    async def delivered_to_asker():
        return [p for p in in_thread(fake_slack, "501.1") if answer in json.dumps(p)]

    (back,) = await _eventually(delivered_to_asker)
    assert back["channel"] == "C1"
    async with opened_store(settings) as db:
        async def answer_sent():
            return [m for m in await db.messages(esc_id) if m.kind == ANSWER_TO_ASKER and m.status == SENT]

        (message,) = await _eventually(answer_sent)
        assert message.attempts == 1
    assert len([p for p in in_thread(fake_slack, "501.1") if answer in json.dumps(p)]) == 1


async def test_an_event_whose_worker_is_killed_while_replying_is_answered_by_the_other_once(workers, fake_slack):
    running, settings = workers
    fake_slack.hang_threads.add("600.1")  # the first reply to this question never reaches Slack
    body = event_body("EvKill", mention(TSAT_Q, ts="600.1"))
    assert await deliver(running.base, body) == 200
    (stored_by,) = await running.wait_log(r"^worker (\d): slack question stored: .*event=EvKill")
    worker = int(stored_by.group(1))
    await fake_slack.wait_for_attempt("chat.postMessage")  # it is posting the reply now: status "sending"
    pid = running.pid_of(worker)
    os.kill(pid, signal.SIGKILL)
    await running.wait_log(rf"^worker {worker} \(pid {pid}\) exited with SIGKILL; starting it again$")
    # its claim's lease runs out and a sweep of a live worker (the other, or the restarted one) takes it
    (reply,) = await _eventually(lambda: _now(in_thread(fake_slack, "600.1")))
    assert reply["metadata"]["event_type"] == "policybot_answer"
    assert fake_slack.of("conversations.replies")  # the lost reply was looked for before posting again

    async def answered():
        (item,) = [i for i in await stored(settings, "slack") if i.alt_key == "EvKill"]
        return item if item.status == "answered" else None

    item = await _eventually(answered)
    assert item.attempts == 2  # held by the killed worker, then by the one that answered
    assert len(in_thread(fake_slack, "600.1")) == 1
    assert re.search(rf"^worker \d: slack replay: inbox={item.id} ", running.text(), re.M)


async def _now(value):
    return value


async def _eventually(check, polls: int = 1500):
    for _ in range(polls):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


async def test_sighup_reaches_every_worker_and_sigterm_stops_them_all_cleanly(workers):
    running, _ = workers
    running.proc.send_signal(signal.SIGHUP)
    await running.wait_log(r"^worker [12]: reload \(SIGHUP\)", 2)
    assert {m.group(1) for m in re.finditer(r"^worker (\d): reload \(SIGHUP\)", running.text(), re.M)} == {"1", "2"}
    running.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(running.proc.wait, 60) == 0
    lines = running.text().splitlines()
    assert "worker 1: stopped" in lines and "worker 2: stopped" in lines and lines[-1] == "stopped"
