"""Upgrading a deployment whose Teams activities and references still sit in the adapters' old
SQLite file: at the first start they move into the shared inbox (SQLite or PostgreSQL), the
pending question is answered, and the lead's personal chat is still known for notices."""
from __future__ import annotations

import json
import sqlite3

from adapters.teams.channel import TEAMS_ADAPTER

from .conftest import TENANT_A, eventually, stored

Q = "can I use my personal phone to take photos of pupils on a school trip?"


def old_adapters_file(path, service_url: str) -> None:
    conn = sqlite3.connect(str(path))
    conn.executescript("""
        CREATE TABLE teams_inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL,
            activity_id TEXT NOT NULL, kind TEXT NOT NULL, conversation_type TEXT NOT NULL, tenant TEXT NOT NULL,
            team TEXT NOT NULL, channel TEXT NOT NULL, user_id TEXT NOT NULL, aad_id TEXT NOT NULL,
            user_name TEXT NOT NULL, text TEXT NOT NULL, value TEXT NOT NULL, reference TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending', created_at REAL NOT NULL, done_at REAL, purged_at REAL,
            UNIQUE (conversation_id, activity_id));
        CREATE TABLE teams_references (key TEXT PRIMARY KEY, reference TEXT NOT NULL, updated_at REAL NOT NULL);
        CREATE TABLE teams_feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, inbox_id INTEGER NOT NULL,
            user_id TEXT NOT NULL, helpful INTEGER NOT NULL, created_at REAL NOT NULL, UNIQUE (inbox_id, user_id));
    """)
    reference = json.dumps({"activityId": "old-1", "user": {"id": "29:user-1", "aadObjectId": "aad-user-1"},
                            "bot": {"id": "28:policybot-bot"}, "conversation": {"id": "a:old", "tenantId": TENANT_A,
                                                                                 "conversationType": "personal"},
                            "channelId": "msteams", "serviceUrl": service_url})
    conn.execute("INSERT INTO teams_inbox (id, conversation_id, activity_id, kind, conversation_type, tenant, team, "
                 "channel, user_id, aad_id, user_name, text, value, reference, created_at) "
                 "VALUES (3, 'a:old', 'old-1', 'question', 'personal', ?, '', '', '29:user-1', 'aad-user-1', 'Sam', ?, "
                 "'{}', ?, 1.0)", (TENANT_A, Q, reference))
    conn.execute("INSERT INTO teams_references VALUES ('person:aad-lead', ?, 1.0)", (reference,))
    conn.commit()
    conn.close()


async def test_an_old_pending_activity_is_answered_and_references_are_kept(teams_app, teams_settings, connector):
    teams_settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    old_adapters_file(teams_settings.db_path, connector.service_url)
    _, app = await teams_app()
    (reply,) = await connector.wait_messages(1, "a:old")
    assert reply["activity"]["attachments"]

    async def answered():
        items = await stored(teams_settings, "teams")
        return len(items) == 1 and items[0].status == "answered" and items[0].legacy_id == 3

    await eventually(answered)
    assert (await app[TEAMS_ADAPTER].store.person_reference("aad-lead"))["conversation"]["id"] == "a:old"
    with sqlite3.connect(str(teams_settings.db_path)) as conn:
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'teams_%'").fetchall()
