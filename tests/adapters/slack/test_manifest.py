"""The app manifest `policybot slack-manifest` prints: App Home on, the events the adapter
listens for, and request URLs only over HTTP."""
from __future__ import annotations

import yaml

from adapters.slack import manifest


def test_http_manifest_points_every_url_at_the_events_route():
    m = yaml.safe_load(manifest.render("https://bot.school.example/"))
    url = "https://bot.school.example/slack/events"
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert m["features"]["slash_commands"][0]["url"] == url and m["features"]["slash_commands"][0]["command"] == "/policy"
    assert m["settings"]["event_subscriptions"] == {"request_url": url,
                                                    "bot_events": ["app_home_opened", "app_mention", "message.im"]}
    assert m["settings"]["interactivity"] == {"is_enabled": True, "request_url": url}
    assert m["settings"]["socket_mode_enabled"] is False
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "im:write"} <= set(m["oauth_config"]["scopes"]["bot"])


def test_socket_mode_manifest_has_no_urls(capsys):
    from adapters.cli import main

    assert main(["slack-manifest", "--socket-mode"]) == 0
    out = capsys.readouterr().out
    m = yaml.safe_load(out)
    assert m["settings"]["socket_mode_enabled"] is True and "http" not in out
    assert "app_home_opened" in m["settings"]["event_subscriptions"]["bot_events"]
    assert m["settings"]["interactivity"] == {"is_enabled": True}


def test_history_scopes_are_optional():
    from adapters.slack.manifest import BOT_SCOPES, HISTORY_SCOPES, manifest

    with_history = manifest()["oauth_config"]["scopes"]["bot"]
    without = manifest(history_scopes=False)["oauth_config"]["scopes"]["bot"]
    assert set(HISTORY_SCOPES) <= set(with_history) and not set(HISTORY_SCOPES) & set(without)
    assert list(BOT_SCOPES) == without
