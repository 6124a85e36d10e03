"""Upgrading a deployment whose Slack questions (and Teams references) still sit in the adapters'
old SQLite file: at the first start they move into the shared inbox (SQLite or PostgreSQL), a
pending question is answered, a button on an answer posted before the upgrade still works, and
the old tables are gone from the file."""
from __future__ import annotations

import sqlite3

from adapters.slack import blocks as bk

from .conftest import action_form, eventually, post, signed, slack_inbox, stored

FORM = "application/x-www-form-urlencoded"
Q = "can I follow a parent back on insta?"


def old_adapters_file(path) -> None:
    """The file as the release before the shared inbox left it: one answered and one pending
    Slack question, and a Teams lead's personal-chat reference."""
    conn = sqlite3.connect(str(path))
    conn.executescript("""
        CREATE TABLE slack_inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT UNIQUE, message_key TEXT UNIQUE,
            kind TEXT NOT NULL, team TEXT NOT NULL, channel TEXT NOT NULL, user TEXT NOT NULL, ts TEXT NOT NULL,
            thread_ts TEXT NOT NULL, question TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
            created_at REAL NOT NULL, answered_at REAL, purged_at REAL, response_url TEXT NOT NULL DEFAULT '');
        CREATE TABLE slack_feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, inbox_id INTEGER NOT NULL,
            user TEXT NOT NULL, helpful INTEGER NOT NULL, created_at REAL NOT NULL, UNIQUE (inbox_id, user));
        CREATE TABLE teams_references (key TEXT PRIMARY KEY, reference TEXT NOT NULL, updated_at REAL NOT NULL);
    """)
    now = 1_800_000_000.0
    conn.executemany("INSERT INTO slack_inbox (id, event_id, message_key, kind, team, channel, user, ts, thread_ts, "
                     "question, status, created_at, answered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     [(7, "EvBefore", "T1:C1:700.1", "mention", "T1", "C1", "U1", "700.1", "700.1", Q, "answered",
                       now, now),
                      (8, "EvPending", "T1:C1:700.2", "mention", "T1", "C1", "U1", "700.2", "700.2", Q, "pending",
                       now, None)])
    conn.execute("INSERT INTO teams_references VALUES ('person:aad-lead', '{\"conversation\": {\"id\": \"a:1\"}}', 1.0)")
    conn.commit()
    conn.close()


async def test_old_pending_questions_are_answered_and_old_buttons_work_after_the_upgrade(
        slack_app, client, fake_slack, slack_settings):
    slack_settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    old_adapters_file(slack_settings.db_path)
    base, _ = await slack_app()
    (reply,) = await fake_slack.wait_for("chat.postMessage")  # the question left pending before the upgrade
    assert reply["thread_ts"] == "700.2" and reply["metadata"]["event_payload"] == {"inbox_id": 8}

    async def both_answered():
        items = await stored(slack_settings, "slack")
        return len(items) == 2 and all(i.status == "answered" for i in items)

    await eventually(both_answered)
    # Not helpful on the answer posted before the upgrade (its button says 7): kept against that question
    form = action_form(bk.NOT_HELPFUL, "7", user="U2")
    assert (await post(client, base, form, signed(form, content_type=FORM)))[0] == 200
    await fake_slack.wait_for("chat.postEphemeral")
    async with slack_inbox(slack_settings) as inbox:
        before = await inbox.get(7)
        assert before.event_id == "EvBefore" and await inbox.feedback(before) == [("U2", False)]
    with sqlite3.connect(str(slack_settings.db_path)) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not names & {"slack_inbox", "slack_feedback"}  # imported, then dropped
    assert "teams_references" in names  # Teams is off here: its table waits for Teams' first start
