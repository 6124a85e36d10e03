"""The authoring view's drafts in the store, on SQLite and PostgreSQL: saved and read back whole,
a newer revision replaces an older one and never the reverse, deleted, and purged once untouched
for DRAFT_KEEP_DAYS."""
from __future__ import annotations

from bot.escalations.store import DRAFT_KEEP_DAYS

BODY = {"school": "alpha", "policy_id": "social-media", "clauses": [{"id": "1.1", "text": "Staff must not..."}],
        "revision": 0, "note": "caf\u00e9 \u2019quotes\u2019"}


async def test_a_draft_is_saved_read_back_and_deleted(store):
    await store.draft_save("d1", "alpha", BODY, 0, 1000.0)
    assert await store.draft_load("d1") == (BODY, 1000.0)
    assert await store.draft_load("nope") is None
    assert await store.draft_delete("d1") is True
    assert await store.draft_load("d1") is None
    assert await store.draft_delete("d1") is False


async def test_a_newer_revision_replaces_an_older_one_and_never_the_reverse(store):
    await store.draft_save("d1", "alpha", BODY, 0, 1000.0)
    await store.draft_save("d1", "alpha", {**BODY, "revision": 2}, 2, 1010.0)
    await store.draft_save("d1", "alpha", {**BODY, "revision": 1}, 1, 1020.0)  # a slower process, late
    body, created = await store.draft_load("d1")
    assert body["revision"] == 2 and created == 1000.0


async def test_the_purge_deletes_drafts_untouched_for_the_keep_period(store):
    now = 50 * 86400.0
    await store.draft_save("old", "alpha", BODY, 0, now - (DRAFT_KEEP_DAYS + 1) * 86400)
    await store.draft_save("recent", "alpha", BODY, 0, now - (DRAFT_KEEP_DAYS - 1) * 86400)
    await store.purge(closed_before=now - 90 * 86400, now=now)
    assert await store.draft_load("old") is None
    assert await store.draft_load("recent") is not None
