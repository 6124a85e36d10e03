"""`policybot feedback`: the per-school and per-clause counts from the shared feedback record,
as a table and as JSON, filtered by school and date; and a clear exit on a missing or damaged
database."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
from dataclasses import replace

import pytest

from adapters import cli
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService
from bot.escalations.sqlite_store import SqliteStore

from tests.adapters.cli.test_escalations import db  # noqa: F401 - the fixture
from tests.adapters.cli.test_hostile_cli import run
from tests.bot.escalations.conftest import Clock, make_answer, make_asker

SECRET = "about pupil Jo Bloggs on tiktok"


def seed(path, clock):
    async def go():
        async with SqliteStore(path) as store:
            service = EscalationService(store, NotifierRegistry(), clock)
            answer = make_answer(decision="answer", reason="")
            await service.record_answer(answer, "slack:1", "slack", "U1", SECRET)
            await service.record_answer(answer, "web:a", "web", "tab", "q2")
            await service.record_answer(replace(answer, school="beta", citations=()), "teams:1", "teams", "x", "q3")
            await service.record_feedback("slack:1", "slack", "U1", True)
            await service.record_feedback("web:a", "web", "tab", False)
            await service.escalate(make_answer(), "escalated", make_asker())
    asyncio.run(go())


def test_per_school_and_clause_table_and_json(db, capsys):
    seed(db, Clock(1_780_000_000.0))  # 2026-05-28
    assert cli.main(["feedback"]) == 0
    out = capsys.readouterr().out
    assert "alpha: answered 2, helpful 1, not helpful 1, escalated 1" in out
    assert "beta: answered 1, helpful 0, not helpful 0, escalated 0" in out
    assert "1.1" in out and "Jo Bloggs" not in out  # counts only, never question text
    assert cli.main(["feedback", "--school", "alpha", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"schools": [{"school": "alpha", "answered": 2, "helpful": 1, "not_helpful": 1, "escalated": 1,
                                 "clauses": [{"clause": "1.1", "answered": 2, "helpful": 1, "not_helpful": 1,
                                              "escalated": 1}]}]}
    assert cli.main(["feedback", "--since", "2026-06-01"]) == 0
    assert "no feedback recorded yet" in capsys.readouterr().out
    assert cli.main(["feedback", "--school", "nowhere"]) == 0
    assert "no feedback recorded yet" in capsys.readouterr().out


def test_missing_database_is_an_error_not_a_new_file(tmp_path):
    path = tmp_path / "nothing-here.sqlite3"
    proc = run(["feedback"], {"POLICYBOT_DB_PATH": str(path)}, timeout=20)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "no escalation database" in err and str(path) in err
    assert not path.exists()


def test_corrupted_database_says_so_and_exits(tmp_path):
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"this is not a database, it is " + os.urandom(4096))
    try:
        proc = run(["feedback", "--json"], {"POLICYBOT_DB_PATH": str(path)}, timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("feedback hung on a corrupted database")
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "damaged or not a database" in err and str(path) in err


def test_bad_since_date_is_refused(db, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["feedback", "--since", "last tuesday"])
    assert exc.value.code == 2
    assert "2026-09-01" in capsys.readouterr().err
