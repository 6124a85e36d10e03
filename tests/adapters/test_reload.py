"""Reload without restart, through the real server: a changed clause file is answered from at
once (new vectors encoded, the encoder reused), a broken one is rejected with file:line while
the old knowledge keeps answering, an answer in flight during a swap finishes on the old bot,
`policybot reload` reports what happened, and SIGHUP reloads a real `policybot serve`."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

from adapters.appkeys import RUNTIME
from adapters.cli import main as cli_main
from bot.config import Settings
from bot.knowledge import stamps
from bot.service import build_bot
from tests.conftest import POLICY_A, REPO, TODAY, write

from .conftest import eventually, wait_ready
from .test_serve_process import free_port

PHOTOS_Q = "can I post pics of my class on my facebook?"
POLICY_FILE = "policies/alpha/social-media.yaml"


def _settings(root, **kw) -> Settings:
    kw.setdefault("semantic", False)
    kw.setdefault("reload_poll_seconds", 0.05)
    return Settings(knowledge_dir=root, today=TODAY, answer_threshold=0.0, **kw)


def _reworded(new_text: str) -> str:
    return POLICY_A.replace("Photographs of pupils must never be posted on personal accounts.", new_text)


async def _ask(client, base, question=PHOTOS_Q, school="alpha"):
    async with client.post(f"{base}/api/ask", json={"school": school, "question": question}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _readyz(client, base) -> dict:
    async with client.get(f"{base}/readyz") as resp:
        assert resp.status == 200
        return await resp.json()


def _texts(answer: dict) -> list[str]:
    return [c["text"] for c in answer["citations"]]


async def test_a_changed_clause_file_is_answered_from_without_a_restart(serve_app, client, tiny_kb, model_cache):
    settings = _settings(tiny_kb, semantic=True, cache_dir=model_cache)
    base, app = await serve_app(settings, factory=None)  # the server's own builder
    first = await wait_ready(client, base)
    assert first["knowledge"]["version"] == stamps.version(tiny_kb) and first["last_reload"] is None
    old_bot = app[RUNTIME].bot
    assert "Photographs of pupils must never be posted on personal accounts." in _texts(await _ask(client, base))

    # A clause text nobody has encoded before (so the count of fresh vectors is exact).
    new_text = f"Photographs of pupils must never be posted on personal accounts or in group chats ({uuid.uuid4().hex[:8]})."
    write(tiny_kb, POLICY_FILE, _reworded(new_text))

    async def reloaded():
        ready = await _readyz(client, base)
        return ready if (ready["last_reload"] or {}).get("outcome") == "reloaded" else None

    ready = await eventually(reloaded)
    assert ready["last_reload"]["trigger"] == "file change"
    assert ready["knowledge"]["version"] == stamps.version(tiny_kb) != first["knowledge"]["version"]
    assert new_text in _texts(await _ask(client, base))
    new_bot = app[RUNTIME].bot
    assert new_bot is not old_bot
    # The new bot was built with what the old one loaded: the same encoder (no second model
    # session), only the changed clause's passage encoded, the rest from the vector cache.
    assert new_bot.retriever.semantic.encoder is old_bot.retriever.semantic.encoder
    assert new_bot.retriever.semantic.encoded_at_start == 1
    assert new_bot.concerns is old_bot.concerns


async def test_broken_yaml_is_rejected_with_file_and_line_and_old_answers_go_on(serve_app, client, tiny_kb, caplog):
    base, app = await serve_app(_settings(tiny_kb, reload_poll_seconds=0), factory=None)
    before = await wait_ready(client, base)
    write(tiny_kb, POLICY_FILE, POLICY_A.replace("    clauses:\n", "    clauses:\n      - id: [unclosed\n", 1))
    with caplog.at_level(logging.ERROR, logger="policybot.server"):
        async with client.post(f"{base}/api/knowledge/reload") as resp:
            assert resp.status == 422
            body = await resp.json()
    assert body["outcome"] == "rejected" and body["version"] == before["knowledge"]["version"]
    assert any(p.startswith(f"knowledge/{POLICY_FILE}:7: malformed YAML") for p in body["problems"]), body
    assert "still serving" in body["error"]
    assert any(f"knowledge/{POLICY_FILE}:7: malformed YAML" in r.getMessage() for r in caplog.records)
    # The old knowledge keeps answering, and the server stays ready, saying what happened.
    assert "Photographs of pupils must never be posted on personal accounts." in _texts(await _ask(client, base))
    ready = await _readyz(client, base)
    assert ready["knowledge"] == before["knowledge"]
    assert ready["last_reload"] == {"outcome": "rejected", "trigger": "policybot reload", "at": body["at"],
                                    "number": 1, "problems": len(body["problems"])}
    # Fixed, the next reload goes live; reloading identical files again is a no-op.
    new_text = "Photographs of pupils must never be posted on personal accounts or in group chats."
    write(tiny_kb, POLICY_FILE, _reworded(new_text))
    async with client.post(f"{base}/api/knowledge/reload") as resp:
        assert resp.status == 200 and (await resp.json())["outcome"] == "reloaded"
    assert new_text in _texts(await _ask(client, base))
    async with client.post(f"{base}/api/knowledge/reload") as resp:
        assert resp.status == 200 and (await resp.json())["outcome"] == "unchanged"


async def test_the_watcher_rejects_a_broken_file_and_keeps_serving(serve_app, client, tiny_kb):
    base, app = await serve_app(_settings(tiny_kb), factory=None)
    before = await wait_ready(client, base)
    write(tiny_kb, "schools/alpha.yaml", "slug: alpha\nname: [Alpha\n")

    async def rejected():
        ready = await _readyz(client, base)
        return ready if (ready["last_reload"] or {}).get("outcome") == "rejected" else None

    ready = await eventually(rejected)
    assert ready["last_reload"]["trigger"] == "file change" and ready["knowledge"] == before["knowledge"]
    assert "Photographs of pupils must never be posted on personal accounts." in _texts(await _ask(client, base))


class Gated:
    """A real bot whose answers wait for the test's go-ahead, so one is in flight during a swap."""

    def __init__(self, bot):
        self.bot, self.kb, self.retriever, self.concerns = bot, bot.kb, bot.retriever, bot.concerns
        self.entered, self.go = threading.Event(), threading.Event()

    def answer(self, school, question):
        self.entered.set()
        assert self.go.wait(20)
        return self.bot.answer(school, question)


async def test_an_answer_in_flight_during_a_swap_finishes_on_the_old_bot(serve_app, client, tiny_kb):
    built: list = []

    def factory(settings):  # the first build is gated, later ones are not
        bot = build_bot(settings)
        built.append(Gated(bot) if not built else bot)
        return built[-1]

    # Two answers at once: one held in flight on the old bot while another is asked after the swap.
    base, app = await serve_app(_settings(tiny_kb, reload_poll_seconds=0, answer_threads=2), factory=factory)
    await wait_ready(client, base)
    in_flight = asyncio.create_task(_ask(client, base))
    assert await asyncio.to_thread(built[0].entered.wait, 20)

    new_text = "Photographs of pupils must never be posted on personal accounts or in group chats."
    write(tiny_kb, POLICY_FILE, _reworded(new_text))
    async with client.post(f"{base}/api/knowledge/reload") as resp:
        assert resp.status == 200 and (await resp.json())["outcome"] == "reloaded"
    assert app[RUNTIME].bot is built[1]
    # Questions asked after the swap are answered by the new bot at once...
    assert new_text in _texts(await _ask(client, base))
    assert not in_flight.done()
    # ...and the one that was in flight finishes, on the old bot, with the old text.
    built[0].go.set()
    old = await in_flight
    assert "Photographs of pupils must never be posted on personal accounts." in _texts(old)
    assert new_text not in _texts(old)


async def test_a_server_that_started_broken_becomes_ready_when_the_file_is_fixed(serve_app, client, tiny_kb):
    good = (tiny_kb / POLICY_FILE).read_text()
    write(tiny_kb, POLICY_FILE, good.replace("title: Alpha Social Media Policy\n", ""))
    base, _ = await serve_app(_settings(tiny_kb), factory=None)

    async def failed():
        async with client.get(f"{base}/readyz") as resp:
            return await resp.json() if resp.status == 503 and "problem" in (await resp.json())["reason"] else None

    assert "knowledge base has 1 problem(s)" in (await eventually(failed))["reason"]
    (tiny_kb / POLICY_FILE).write_text(good)
    ready = await wait_ready(client, base, attempts=1500)
    assert ready["last_reload"]["outcome"] == "reloaded"
    assert "Photographs of pupils must never be posted on personal accounts." in _texts(await _ask(client, base))


async def test_policybot_reload_reports_the_outcome_and_each_problem(serve_app, client, tiny_kb, capsys):
    base, _ = await serve_app(_settings(tiny_kb, reload_poll_seconds=0), factory=None)
    await wait_ready(client, base)
    assert await asyncio.to_thread(cli_main, ["reload", "--url", base]) == 0
    assert "policybot reload: no change" in capsys.readouterr().out
    write(tiny_kb, POLICY_FILE, POLICY_A.replace("id: \"1.2\"", "id: \"1.1\""))
    assert await asyncio.to_thread(cli_main, ["reload", "--url", base]) == 1
    out = capsys.readouterr()
    assert "rejected: the knowledge files have 1 problem(s); still serving knowledge" in out.out
    assert f"knowledge/{POLICY_FILE}:10: duplicate clause id '1.1' (first on line 6)" in out.err
    # No server there: exit 2 with what to do.
    assert await asyncio.to_thread(cli_main, ["reload", "--url", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "no policybot server answering" in capsys.readouterr().err


def _get(url: str) -> dict:
    import json

    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_sighup_reloads_a_running_policybot_serve(tiny_kb):
    port = free_port()
    env = dict(os.environ, PORT=str(port), POLICYBOT_TODAY="2026-11-25", POLICYBOT_KNOWLEDGE_DIR=str(tiny_kb),
               POLICYBOT_SEMANTIC="off", POLICYBOT_RELOAD_POLL_SECONDS="0", POLICYBOT_ANSWER_THRESHOLD="0",
               POLICYBOT_DB_PATH=str(tiny_kb.parent / "esc.sqlite3"))
    env.pop("POLICYBOT_HOST", None)
    proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        ready = None
        for _ in range(600):  # bounded polling
            if proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                ready = _get(f"{base}/readyz")
                break
            time.sleep(0.05)
        assert ready and ready["ready"], proc.stderr.read() if proc.poll() is not None else "no answer"
        write(tiny_kb, POLICY_FILE, _reworded("Photographs of pupils must never be posted on personal accounts "
                                              "or in group chats."))
        proc.send_signal(signal.SIGHUP)
        for _ in range(600):
            ready = _get(f"{base}/readyz")
            if ready["last_reload"]:
                break
            time.sleep(0.05)
        assert ready["last_reload"]["outcome"] == "reloaded" and ready["last_reload"]["trigger"] == "SIGHUP"
        assert ready["knowledge"]["version"] == stamps.version(tiny_kb)
        req = urllib.request.Request(f"{base}/api/ask", data=b'{"school": "alpha", "question": "%s"}' % PHOTOS_Q.encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read().decode()
        assert "or in group chats" in body
        # `policybot reload --pid` sends the signal itself and reads the outcome back from /readyz.
        write(tiny_kb, POLICY_FILE, POLICY_A.replace("    clauses:\n", "    clauses:\n      - id: [unclosed\n", 1))
        cli = subprocess.run([sys.executable, "-m", "adapters.cli", "reload", "--pid", str(proc.pid), "--url", base],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 1, (cli.stdout, cli.stderr)
        assert f"sent SIGHUP to {proc.pid}" in cli.stdout and "rejected" in cli.stdout
        assert "see the server's log for file:line" in cli.stdout
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SIGHUP: reloading the knowledge base" in err
    assert any(line.startswith("reload (SIGHUP) reloaded: knowledge ") for line in err.splitlines()), err
    assert f"reload (SIGHUP) rejected: knowledge/{POLICY_FILE}:7: malformed YAML" in err
