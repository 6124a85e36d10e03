"""When Teams is on, off, or refuses to start; the tenant mapping; retention of stored text."""
from __future__ import annotations

import pytest

from adapters.place_mapping import load, parse
from adapters.teams.channel import VARIABLE, teams_channel
from adapters.teams.model import Incoming
from adapters.teams.store import TeamsStore
from bot.config import ConfigError, from_env
from bot.escalations.inbox import Inbox as SharedInbox
from tests.adapters.conftest import opened_store, with_

APP = {"MICROSOFT_APP_ID": "app-1", "MICROSOFT_APP_PASSWORD": "pw"}


def test_off_with_nothing_set_and_the_line_says_how_to_turn_it_on(settings):
    channel = teams_channel(settings)
    assert channel.mount is None
    assert "MICROSOFT_APP_ID" in channel.status_line("http://x") and "POLICYBOT_TEAMS_EMULATOR" in channel.off_because


def test_on_with_an_app_id_password_and_tenant(settings):
    channel = teams_channel(with_(settings, microsoft_app_id="app-1", microsoft_app_password="pw",
                                  microsoft_app_tenant_id="tenant-1", teams_tenant_schools="t1=tsat"))
    assert channel.mount is not None and channel.status_line("http://h") == "teams: on at http://h/api/messages"


def test_single_tenant_is_the_default_and_needs_the_tenant_id(settings):
    """Azure no longer creates multi-tenant bots (after 31 July 2025): SingleTenant is the default."""
    assert from_env({}).microsoft_app_type == "SingleTenant"
    with pytest.raises(ConfigError, match="MICROSOFT_APP_TYPE=SingleTenant needs MICROSOFT_APP_TENANT_ID"):
        teams_channel(with_(settings, microsoft_app_id="app-1", microsoft_app_password="pw"))
    existing = with_(settings, microsoft_app_id="app-1", microsoft_app_password="pw", microsoft_app_type="MultiTenant")
    assert teams_channel(existing).mount is not None  # a bot created before the change keeps working


@pytest.mark.parametrize("changes, says", [
    ({"microsoft_app_password": "pw"}, "MICROSOFT_APP_ID is not"),
    ({"teams_tenant_schools": "t1=tsat"}, "without authentication"),
    ({"microsoft_app_id": "app-1"}, "MICROSOFT_APP_PASSWORD is not"),
    ({"microsoft_app_id": "app-1", "microsoft_app_password": "pw", "microsoft_app_type": "SingleTenant"},
     "needs MICROSOFT_APP_TENANT_ID"),
    ({"teams_emulator": True, "microsoft_app_id": "app-1", "microsoft_app_password": "pw"}, "cannot be combined"),
    ({"teams_emulator": True, "host": "0.0.0.0"}, "this machine only"),
    ({"microsoft_app_id": "app-1", "microsoft_app_password": "pw", "microsoft_app_tenant_id": "t",
      "teams_tenant_schools": "t1=nowhere"},
     "unknown school 'nowhere'"),
    ({"microsoft_app_id": "app-1", "microsoft_app_password": "pw", "microsoft_app_tenant_id": "t",
      "teams_tenant_schools": "*=tsat"},
     "only allowed on its own, in emulator mode"),
])
def test_unsafe_or_incomplete_settings_stop_the_start(settings, changes, says):
    with pytest.raises(ConfigError, match=says):
        teams_channel(with_(settings, **changes))


def test_managed_identity_needs_no_password(settings):
    channel = teams_channel(with_(settings, microsoft_app_id="app-1", microsoft_app_type="UserAssignedMSI",
                                  microsoft_app_tenant_id="tenant-1"))
    assert channel.mount is not None


def test_environment_variables_are_read():
    s = from_env({**APP, "MICROSOFT_APP_TYPE": "SingleTenant", "MICROSOFT_APP_TENANT_ID": "t",
                  "TEAMS_TENANT_SCHOOLS": "t=tsat", "TEAMS_API_RETRIES": "2"})
    assert (s.microsoft_app_id, s.microsoft_app_type, s.teams_api_retries) == ("app-1", "SingleTenant", 2)
    assert "pw" not in repr(s)
    with pytest.raises(ConfigError, match="MICROSOFT_APP_TYPE"):
        from_env({"MICROSOFT_APP_TYPE": "Shared"})


def test_mapping_most_specific_entry_wins_and_colons_in_ids_survive(settings):
    m = load("t1=tsat, t1:19:team@thread.tacv2=kingsmead; t1:19:chan@thread.tacv2=lzw", VARIABLE,
             settings.knowledge_dir)
    assert m.school_for("t1") == "tsat"
    assert m.school_for("t1", None, "19:team@thread.tacv2") == "kingsmead"
    assert m.school_for("t1", "19:chan@thread.tacv2", "19:team@thread.tacv2") == "lzw"
    assert m.school_for("t2") is None and m.school_for("", "19:chan@thread.tacv2") is None
    assert m.places_in("t1") == [("tsat", None), ("lzw", "19:chan@thread.tacv2"), ("kingsmead", "19:team@thread.tacv2")]


@pytest.mark.parametrize("raw", ["t1", "=tsat", "t1:=tsat", "t1=", "*:x=tsat"])
def test_malformed_mapping_names_the_variable_and_entry(raw):
    with pytest.raises(ConfigError, match=VARIABLE):
        parse(raw, VARIABLE, allow_wildcard=True)


def test_wildcard_only_in_emulator_mode():
    assert parse("*=tsat", VARIABLE, allow_wildcard=True).school_for("") == "tsat"
    with pytest.raises(ConfigError):
        parse("*=tsat", VARIABLE)


def _incoming(activity_id: str, text: str, value: dict | None = None) -> Incoming:
    return Incoming(kind="question", conversation_id="a:1", activity_id=activity_id, conversation_type="personal",
                    tenant="t", team="", channel="", user_id="29:u", aad_id="aad-u", user_name="U", text=text,
                    value=value or {}, reference={"conversation": {"id": "a:1"}})


async def test_retention_blanks_old_handled_text_but_keeps_the_dedupe_key(settings, database):
    now = [1_000_000.0]
    async with opened_store(with_(settings, **database)) as db:
        store = TeamsStore(SharedInbox(lambda: db, "teams", clock=lambda: now[0]))
        old = await store.record(_incoming("old", "Jamie Example sent me a photo", {"answer": "about Jamie"}))
        pending = await store.record(_incoming("pending", "still waiting, names Alex"))
        await store.mark_done(old)
        now[0] += 91 * 86400
        fresh = await store.record(_incoming("fresh", "asked today"))
        await store.mark_done(fresh)
        await db.purge(now[0] - 90 * 86400, now[0])  # the escalation worker's retention pass
        gone = await store.get(old.id)
        assert gone.incoming.text == "" and gone.incoming.value == {} and gone.purged_at
        assert gone.incoming.conversation_id == "a:1"  # ids stay
        assert (await store.get(pending.id)).incoming.text.startswith("still waiting")  # not answered yet: kept
        assert (await store.get(fresh.id)).incoming.text == "asked today"
        assert await store.record(_incoming("old", "re-sent")) is None  # still recognised as seen
