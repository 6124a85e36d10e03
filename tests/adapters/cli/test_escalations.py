"""`policybot escalations list/show/ack/answer/close` round trip on a temp SQLite file, and the settings."""
from __future__ import annotations

import asyncio
import io

import pytest

from adapters import cli
from bot.config import ConfigError, from_env
from bot.escalations.model import Asker
from bot.escalations.notify import NotifierRegistry
from bot.escalations.service import EscalationService
from bot.escalations.sqlite_store import SqliteStore

from tests.bot.escalations.conftest import make_answer


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "cli.sqlite3"
    for name in ("DATABASE_URL", "SMTP_HOST", "POLICYBOT_WORKER_TEST_PAUSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLICYBOT_DB_PATH", str(path))
    return path


def seed(db, platform="slack"):
    async def go():
        registry = NotifierRegistry()
        registry.register("log", object())
        async with SqliteStore(db) as store:
            service = EscalationService(store, registry)
            return await service.escalate(make_answer(), "May I message a parent on WhatsApp?",
                                          Asker(platform, "U123", "C9", "1700.1", "Sam Teacher"))
    return asyncio.run(go())


def messages(db):
    async def go():
        async with SqliteStore(db) as store:
            return await store.messages()
    return asyncio.run(go())


def test_round_trip(db, capsys, monkeypatch):
    esc = seed(db)
    assert cli.main(["escalations", "list"]) == 0
    out = capsys.readouterr().out
    assert esc.id in out and "open" in out and "May I message a parent" in out

    assert cli.main(["escalations", "list", "--status", "closed"]) == 0
    assert "no escalations" in capsys.readouterr().out

    assert cli.main(["escalations", "show", esc.id]) == 0
    out = capsys.readouterr().out
    assert "May I message a parent on WhatsApp?" in out and "1.1: Alpha Social Media Policy" in out
    assert "Sam Teacher via slack" in out and "notify_lead" in out

    assert cli.main(["escalations", "ack", esc.id, "--by", "Ms A Lead"]) == 0
    assert "acknowledged by Ms A Lead" in capsys.readouterr().out

    monkeypatch.setattr("sys.stdin", io.StringIO("Only through the school's ParentMail account.\n"))
    assert cli.main(["escalations", "answer", esc.id, "--by", "Ms A Lead"]) == 0
    assert "queued to the asker via slack" in capsys.readouterr().out
    reply = next(m for m in messages(db) if m.kind == "answer_to_asker")
    assert (reply.channel, reply.address, reply.status) == ("slack", "U123", "pending")
    assert reply.payload["conversation"] == "C9" and reply.payload["thread"] == "1700.1"
    assert reply.payload["attribution"] == "Ms A Lead (Online Safety Lead)"
    assert "> Only through the school's ParentMail account." in reply.payload["text"]

    assert cli.main(["escalations", "show", esc.id]) == 0
    out = capsys.readouterr().out
    assert "answer by Ms A Lead" in out
    assert "answer_to_asker" in out and "no notifier for this channel in this process yet" in out

    assert cli.main(["escalations", "close", esc.id]) == 0
    assert cli.main(["escalations", "list", "--status", "closed", "--school", "alpha"]) == 0
    assert esc.id in capsys.readouterr().out


def test_errors_are_reported_not_raised(db, capsys):
    esc = seed(db)
    assert cli.main(["escalations", "show", "nope"]) == 1
    assert "no escalation with id 'nope'" in capsys.readouterr().err
    assert cli.main(["escalations", "close", esc.id, "--unanswered"]) == 0
    assert cli.main(["escalations", "answer", esc.id, "--by", "X", "--text", "late"]) == 1
    assert "is closed; it cannot become answered" in capsys.readouterr().err


def test_settings_from_environment():
    s = from_env({"POLICYBOT_DB_PATH": "/tmp/x.sqlite3", "POLICYBOT_REMINDER_MINUTES": "15",
                  "POLICYBOT_RETENTION_DAYS": "30", "SMTP_HOST": "mail", "SMTP_PORT": "25", "SMTP_STARTTLS": "no"})
    assert str(s.db_path) == "/tmp/x.sqlite3" and s.reminder_minutes == 15 and s.retention_days == 30
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls) == ("mail", 25, False)
    defaults = from_env({})
    assert defaults.database_url == "" and defaults.retention_days == 90 and defaults.urgent_renotify_minutes == 5
    with pytest.raises(ConfigError, match="POLICYBOT_RETENTION_DAYS"):
        from_env({"POLICYBOT_RETENTION_DAYS": "soon"})
    with pytest.raises(ConfigError, match="SMTP_PORT"):
        from_env({"SMTP_PORT": "99999"})


@pytest.fixture
def tsat_copy(tmp_path, monkeypatch):
    import shutil

    from bot.knowledge.load import bundled_knowledge_dir

    root = tmp_path / "knowledge"
    shutil.copytree(bundled_knowledge_dir(), root)
    monkeypatch.setenv("POLICYBOT_KNOWLEDGE_DIR", str(root))
    monkeypatch.setenv("POLICYBOT_TODAY", "2026-11-25")
    return root


def seed_tsat(db, bundled_bot, question):
    async def go():
        registry = NotifierRegistry()
        registry.register("log", object())
        async with SqliteStore(db) as store:
            return await EscalationService(store, registry).escalate(
                bundled_bot.answer("tsat", question), question, Asker("web", "u1", "c1", "", "Sam Teacher"))
    return asyncio.run(go())


def test_answer_reusable_saves_a_note_kb_check_passes_and_ask_cites_it(db, tsat_copy, bundled_bot, capsys):
    import json
    from datetime import datetime, timezone

    from tests.conftest import NOTE_ANSWER, NOTE_QUESTION, NOTE_SIMILAR

    esc = seed_tsat(db, bundled_bot, "Can I use ChatGPT to help write Jo Smith's end of year report?")
    assert cli.main(["escalations", "answer", esc.id, "--by", "Ms A Lead", "--text", NOTE_ANSWER, "--reusable",
                     "--keep-question", "--question", NOTE_QUESTION]) == 0
    out = capsys.readouterr().out
    assert f"Saved as guidance note-{esc.id} in knowledge/notes/tsat.yaml" in out and "restart or reload" in out
    saved = (tsat_copy / "notes" / "tsat.yaml").read_text()
    assert NOTE_QUESTION in saved and "Jo Smith" not in saved and "source: lead answer" in saved

    assert cli.main(["kb", "check"]) == 0
    capsys.readouterr()
    assert cli.main(["ask", "--school", "tsat", "--json", NOTE_SIMILAR]) == 0
    reply = json.loads(capsys.readouterr().out)
    today = datetime.now(timezone.utc).date()
    assert reply["decision"] == "answer"
    assert reply["citations"][0] | {"text": ""} == reply["citations"][0] | {
        "id": f"note-{esc.id}", "source": "lead answer", "author": "Ms A Lead", "date": today.isoformat(), "text": ""}
    assert f"Guidance from Ms A Lead, {today.day} {today:%B %Y}" in reply["text"]


def test_answer_without_the_flags_writes_nothing_and_a_phrasing_needs_its_clause(db, tsat_copy, bundled_bot,
                                                                                capsys):
    esc = seed_tsat(db, bundled_bot, "Can I use ChatGPT to help write reports?")
    assert cli.main(["escalations", "answer", esc.id, "--by", "Ms A Lead", "--text", "Ask me."]) == 0
    assert not (tsat_copy / "notes").exists() and not (tsat_copy / "phrasings").exists()

    esc = seed_tsat(db, bundled_bot, "Can I use ChatGPT to help write reports?")
    assert cli.main(["escalations", "answer", esc.id, "--by", "Ms A Lead", "--text", "Ask me.", "--phrasing"]) == 1
    assert "say which clause" in capsys.readouterr().err
    assert cli.main(["escalations", "answer", esc.id, "--by", "Ms A Lead", "--text", "Ask me.",
                     "--keep-question"]) == 1
    assert "go with --reusable or --phrasing" in capsys.readouterr().err
    assert cli.main(["escalations", "show", esc.id]) == 0 and "status:     open" in capsys.readouterr().out

    assert cli.main(["escalations", "answer", esc.id, "--by", "Ms A Lead", "--text", "No.", "--phrasing",
                     "--phrasing-for", "5.5"]) == 0
    assert "added as a phrasing of 5.5" in capsys.readouterr().out
    assert "Can I use ChatGPT to help write reports?" in (tsat_copy / "phrasings" / "tsat.yaml").read_text()


def test_a_failed_save_is_exit_1_with_the_reason_after_the_answer_went(db, tsat_copy, bundled_bot, capsys):
    (tsat_copy / "notes").mkdir()
    (tsat_copy / "notes" / "tsat.yaml").write_text("school: tsat\nnotes: [\n")
    esc = seed_tsat(db, bundled_bot, "Can I use ChatGPT to help write reports?")
    assert cli.main(["escalations", "answer", esc.id, "--by", "Ms A Lead", "--text", "No.", "--reusable"]) == 1
    captured = capsys.readouterr()
    assert "answered by Ms A Lead" in captured.out
    assert "NOT saved as guidance" in captured.err and "knowledge/notes/tsat.yaml:" in captured.err

@pytest.mark.parametrize("form", ["relative", "absolute"])
def test_database_url_names_the_sqlite_file(tmp_path, monkeypatch, capsys, form):
    """The same escalation, read back through `policybot escalations list` with DATABASE_URL as the
    only database setting (relative to the working directory, or absolute)."""
    for name in ("POLICYBOT_DB_PATH", "SMTP_HOST", "POLICYBOT_WORKER_TEST_PAUSE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "state").mkdir()
    path = tmp_path / "state" / "esc.sqlite3"
    esc = seed(path)
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///state/esc.sqlite3" if form == "relative" else f"sqlite:///{path}"
    assert url.startswith("sqlite:////") == (form == "absolute")
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["escalations", "list"]) == 0
    assert esc.id in capsys.readouterr().out


def test_an_unusable_database_url_stops_the_command_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "mysql://bot:secret@db/policybot")
    assert cli.main(["escalations", "list"]) == 2
    err = capsys.readouterr().err
    assert "configuration error: DATABASE_URL has scheme 'mysql://'" in err and "sqlite:///" in err
    assert "Traceback" not in err and "secret" not in err
