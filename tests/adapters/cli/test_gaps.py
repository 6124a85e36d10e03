"""`policybot gaps --school SLUG`: escalated and not-helpful questions grouped by the clause they
came nearest, the no-match group last, live concerns left out, purged text not shown."""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from adapters import cli
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService
from bot.escalations.sqlite_store import SqliteStore

from tests.adapters.cli.test_escalations import db  # noqa: F401 - the fixture
from tests.adapters.cli.test_hostile_cli import run
from tests.bot.escalations.conftest import Clock, make_answer, make_asker


def seed(path, clock):
    async def go():
        async with SqliteStore(path) as store:
            service = EscalationService(store, NotifierRegistry(), clock)
            near = make_answer()  # its nearest clause is 1.1
            await service.escalate(near, "can I friend a pupil's mum on facebook?", make_asker())
            await service.escalate(near, "ok to follow a dad on insta?", make_asker(user="u2"))
            await service.escalate(replace(near, citations=()), "can I use my staff discount online?", make_asker())
            await service.escalate(make_answer("urgent", "urgent", concern="self-harm or suicide"),
                                   "a pupil posted goodbye messages last night", make_asker())
            answered = make_answer(decision="answer", reason="")
            await service.record_answer(answered, "web:a", "web", "tab", "can I block a pupil who followed me?")
            await service.record_feedback("web:a", "web", "tab", False)
            await service.record_answer(answered, "web:b", "web", "tab2", "a helpful one")
            await service.record_feedback("web:b", "web", "tab2", True)
    asyncio.run(go())


def test_questions_are_grouped_by_nearest_clause_with_no_match_last(db, capsys):
    seed(db, Clock(1_780_000_000.0))
    assert cli.main(["gaps", "--school", "alpha", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    groups = {g["clause"]: g for g in data["gaps"]}
    assert [g["clause"] for g in data["gaps"]] == ["1.1", "(no clause matched)"]
    assert groups["1.1"]["count"] == 3 and groups["1.1"]["where"].startswith("Alpha Social Media Policy")
    kinds = sorted(q["kind"] for q in groups["1.1"]["questions"])
    assert kinds == ["escalated", "escalated", "not helpful"]
    assert "can I block a pupil who followed me?" in [q["question"] for q in groups["1.1"]["questions"]]
    assert [q["question"] for q in groups["(no clause matched)"]["questions"]] == ["can I use my staff discount online?"]
    text = json.dumps(data)
    assert "goodbye messages" not in text and "a helpful one" not in text  # concerns and helpful answers left out
    assert cli.main(["gaps", "--school", "alpha"]) == 0
    out = capsys.readouterr().out
    assert "1.1  Alpha Social Media Policy" in out and "- [escalated, low_confidence] ok to follow a dad on insta?" in out


def test_purged_question_text_is_not_shown(db, capsys):
    seed(db, Clock(1_780_000_000.0))

    async def purge():
        async with SqliteStore(db) as store:
            service = EscalationService(store, NotifierRegistry())
            for esc in await service.list():
                await service.close(esc.id)
            await store.purge(2_000_000_000.0, 2_000_000_000.0)
    asyncio.run(purge())
    assert cli.main(["gaps", "--school", "alpha", "--json"]) == 0
    questions = [q["question"] for g in json.loads(capsys.readouterr().out)["gaps"] for q in g["questions"]]
    assert questions and all(q == "(text removed after the retention period)" for q in questions)


def test_gaps_on_a_missing_database_is_a_clear_error(tmp_path):
    proc = run(["gaps", "--school", "alpha"], {"POLICYBOT_DB_PATH": str(tmp_path / "none.sqlite3")}, timeout=20)
    assert proc.returncode == 2 and b"no escalation database" in proc.stderr and b"Traceback" not in proc.stderr
