"""The channel's on/off line, the mapping's validation, and transport selection."""
from __future__ import annotations

import pytest

from adapters.server import default_channels
from adapters.slack import mapping
from adapters.slack.channel import slack_channel, socket_mode_handler, transport
from bot.config import ConfigError, from_env

from ..conftest import with_


def test_off_without_credentials_with_the_line_naming_them(settings):
    line = default_channels(settings)[0].status_line("http://x")
    assert line == "slack: off (set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN)"


def test_on_with_credentials(slack_settings):
    ch = slack_channel(slack_settings)
    assert ch.mount is not None and ch.status_line("http://h:1") == "slack: on at http://h:1/slack/events"


def test_unknown_school_in_mapping_stops_the_start_naming_the_variable(slack_settings):
    with pytest.raises(ConfigError, match="SLACK_TEAM_SCHOOLS.*'nowhere'"):
        slack_channel(with_(slack_settings, slack_team_schools="T1=tsat,T2=nowhere"))


@pytest.mark.parametrize("raw", ["T1", "=tsat", "T1:=tsat", "T1=tsat,junk"])
def test_malformed_mapping_is_a_config_error(raw):
    with pytest.raises(ConfigError, match="SLACK_TEAM_SCHOOLS"):
        mapping.parse(raw)


def test_channel_entry_wins_over_team_entry():
    m = mapping.parse("T1=tsat, T1:C2=kingsmead")
    assert m.school_for("T1", "C2") == "kingsmead" and m.school_for("T1", "C3") == "tsat"
    assert m.school_for("T9", "C2") is None


def test_settings_read_from_env():
    s = from_env({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb", "SLACK_APP_TOKEN": "xapp-1",
                  "SLACK_TEAM_SCHOOLS": "T1=tsat", "SLACK_API_RETRIES": "2"})
    assert (s.slack_signing_secret, s.slack_bot_token, s.slack_app_token, s.slack_api_retries) == ("s", "xoxb", "xapp-1", 2)
    assert "xoxb" not in repr(s)


async def test_socket_mode_is_selected_when_app_token_is_set(slack_settings, serve_app):
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    from adapters.slack.channel import BOLT_APP

    assert transport(slack_settings) == "http"
    s = with_(slack_settings, slack_app_token="xapp-test")
    assert transport(s) == "socket"
    ch = slack_channel(s)
    assert "Socket Mode" in ch.status_line("http://h")
    from aiohttp import web

    from adapters.server import create_app
    app = create_app(s, channels=[ch])  # mounted, not started: no connection to Slack is made
    handler = socket_mode_handler(app[BOLT_APP], s)
    assert isinstance(handler, AsyncSocketModeHandler) and handler.app_token == "xapp-test"
    await handler.client.close()
