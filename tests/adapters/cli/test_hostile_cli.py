"""Hostile input to the command line (issue 16): batch lines that used to stop the batch, an
escalation store that is corrupted or locked (a clear message, a non-zero exit, no thread left
running), `serve` on a corrupted store stopping on SIGTERM, and the lead's commands refusing a
blank name or closing an escalation nobody answered. Plus fuzzing of batch lines."""
from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from hypothesis import given, strategies as st

from adapters import cli
from bot.escalations.sqlite_store import SqliteStore

from tests.adapters.cli.test_escalations import db, seed  # noqa: F401 - the fixture and the seeding helper
from tests.conftest import REPO


def run(args, env_extra=None, stdin: bytes = b"", timeout=60):
    env = dict(os.environ, POLICYBOT_TODAY="2026-11-25", POLICYBOT_SEMANTIC="off")
    for name in ("DATABASE_URL", "SMTP_HOST"):
        env.pop(name, None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "adapters.cli", *args], input=stdin, capture_output=True,
                          cwd=REPO, env=env, timeout=timeout)


GOOD = {"id": "good", "school": "tsat", "question": "can I follow a parent back on insta?"}


def test_batch_goes_on_after_a_lone_surrogate_deep_json_and_binary_lines():
    lines = [json.dumps({"id": "s", "school": "tsat", "question": "can I post \ud800 photos of sports day on my instagram account?"}),
             json.dumps({"id": "s2", "school": "tsat\udfff", "question": "x"}),
             "[" * 16_000 + "]" * 16_000,
             json.dumps(GOOD)]
    stdin = ("\n".join(lines) + "\n").encode() + b"\xff\xfe\x00junk\n" + json.dumps({**GOOD, "id": "last"}).encode() + b"\n"
    proc = run(["batch"], stdin=stdin)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [o.get("id") for o in out] == ["s", "s2", None, "good", None, "last"]
    assert out[0]["decision"] in ("answer", "escalate")  # the surrogate is replaced, the question answered
    assert "unknown school" in out[1]["error"] and "nested deeper" in out[2]["error"]
    assert out[3]["decision"] == "answer" and out[5]["decision"] == "answer"
    assert proc.returncode == 1  # some lines were bad


def test_escalations_on_a_corrupted_database_say_so_and_exit(tmp_path):
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"this is not a database, it is " + os.urandom(4096))
    for args in (["list"], ["show", "E1"], ["ack", "E1", "--by", "Ms A Lead"]):
        try:
            proc = run(["escalations", *args], {"POLICYBOT_DB_PATH": str(path)}, timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"escalations {args[0]} hung on a corrupted database (a thread kept the process alive)")
        err = proc.stderr.decode()
        assert proc.returncode == 2 and "Traceback" not in err, err
        assert "damaged or not a database" in err and str(path) in err


def test_escalations_on_a_locked_database_say_so_and_exit(tmp_path):
    path = tmp_path / "locked.sqlite3"

    async def create():
        async with SqliteStore(path):
            pass
    asyncio.run(create())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for as long as it likes
    try:
        started = time.monotonic()
        try:
            proc = run(["escalations", "list"], {"POLICYBOT_DB_PATH": str(path), "POLICYBOT_DB_BUSY_SECONDS": "0.5"},
                       timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("escalations list hung on a locked database")
        err = proc.stderr.decode()
        assert proc.returncode == 2 and "Traceback" not in err and "locked by another process" in err, err
        assert time.monotonic() - started < 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_serve_on_a_corrupted_database_stops_on_sigterm(tmp_path):
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    env = dict(os.environ, POLICYBOT_SEMANTIC="off", PORT="0", POLICYBOT_DB_PATH=str(path), POLICYBOT_SHUTDOWN_GRACE="1")
    for name in ("DATABASE_URL", "SMTP_HOST", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "MICROSOFT_APP_ID"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = []
        for raw in proc.stdout:  # wait for the start (the store failure is logged before listening)
            lines.append(raw.decode())
            if "listening on" in lines[-1]:
                break
        proc.send_signal(signal.SIGTERM)
        try:
            rest, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("policybot serve logged 'stopped' but kept running after SIGTERM:\n" + "".join(lines))
        log = "".join(lines) + rest.decode()
        assert proc.returncode == 0 and "stopped" in log and "damaged or not a database" in log
        assert "Traceback" not in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ack_and_answer_need_a_name_and_close_needs_an_answer(db, capsys):
    esc = seed(db)
    for by in ("", "   ", "\t\n"):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["escalations", "ack", esc.id, "--by", by])
        assert exit_.value.code == 2 and "cannot be empty" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            cli.main(["escalations", "answer", esc.id, "--by", by, "--text", "an answer"])
    assert cli.main(["escalations", "close", esc.id]) == 1
    assert "has no answer" in capsys.readouterr().err
    assert cli.main(["escalations", "list", "--status", "open"]) == 0
    assert esc.id in capsys.readouterr().out  # still open: nothing changed
    assert cli.main(["escalations", "close", esc.id, "--unanswered"]) == 0


# --- fuzzing `policybot batch` lines, in-process against the bundled bot ---

LINE_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.characters(blacklist_categories=()), max_size=60),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(["id", "school", "question", "x"]), kids,
                                                              max_size=4), max_leaves=8)
LINES = (LINE_VALUES.map(json.dumps)
         | st.fixed_dictionaries({"id": st.integers(), "school": st.sampled_from(["tsat", "lzw", "x"]),
                                  "question": st.text(st.characters(blacklist_categories=()), max_size=200)}).map(json.dumps)
         | st.binary(max_size=80).map(lambda b: b.decode("utf-8", "surrogateescape"))
         | st.integers(60, 5000).map(lambda n: "[" * n))


@given(lines=st.lists(LINES, min_size=1, max_size=5))
def test_fuzz_batch_lines(monkeypatch, bundled_bot, lines):
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines] + [json.dumps(GOOD)]
    stdin = io.TextIOWrapper(io.BytesIO("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"), encoding="utf-8")
    stdout = io.StringIO()
    monkeypatch.setattr(cli, "_bot", lambda settings: bundled_bot)
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)
    code = cli.main(["batch"])
    monkeypatch.undo()
    assert code in (0, 1)
    out = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert len(out) == sum(1 for line in lines if line.strip())  # one answer or error per line
    assert all("error" in o or o["decision"] in ("answer", "escalate", "urgent") for o in out)
    assert out[-1]["id"] == "good" and out[-1]["decision"] == "answer"  # the batch reached the end
