"""The server's settings: defaults, PORT before POLICYBOT_PORT, and bad values naming the variable."""
from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, from_env


def test_defaults_bind_loopback_on_3978_with_the_web_chat_on():
    s = from_env({})
    assert (s.host, s.port, s.web_token, s.web_chat) == ("127.0.0.1", 3978, "", True)
    assert s.max_body_bytes == Settings.max_body_bytes and s.rate_limit_per_minute == 30
    assert s.shutdown_grace_seconds == 10.0


def test_port_as_hosting_platforms_set_it_wins_over_policybot_port():
    assert from_env({"POLICYBOT_PORT": "8000"}).port == 8000
    assert from_env({"PORT": "5000", "POLICYBOT_PORT": "8000"}).port == 5000


def test_server_settings_from_the_environment():
    s = from_env({"POLICYBOT_HOST": "0.0.0.0", "POLICYBOT_WEB_TOKEN": " tok ", "POLICYBOT_WEB_CHAT": "off",
                  "POLICYBOT_MAX_BODY_BYTES": "4096", "POLICYBOT_RATE_LIMIT": "5",
                  "POLICYBOT_SHUTDOWN_GRACE": "2.5"})
    assert (s.host, s.web_token, s.web_chat) == ("0.0.0.0", "tok", False)
    assert (s.max_body_bytes, s.rate_limit_per_minute, s.shutdown_grace_seconds) == (4096, 5, 2.5)
    assert "tok" not in repr(s)  # the token never lands in a log via the settings' repr


@pytest.mark.parametrize("env,variable", [
    ({"PORT": "eighty"}, "PORT='eighty' is not a whole number"),
    ({"PORT": "70000"}, "PORT='70000' must be between"),
    ({"POLICYBOT_PORT": "x"}, "POLICYBOT_PORT='x'"),
    ({"POLICYBOT_MAX_BODY_BYTES": "big"}, "POLICYBOT_MAX_BODY_BYTES"),
    ({"POLICYBOT_RATE_LIMIT": "0"}, "POLICYBOT_RATE_LIMIT"),
    ({"POLICYBOT_SHUTDOWN_GRACE": "soon"}, "POLICYBOT_SHUTDOWN_GRACE"),
    ({"POLICYBOT_WEB_CHAT": "maybe"}, "POLICYBOT_WEB_CHAT"),
])
def test_a_bad_value_names_its_variable(env, variable):
    with pytest.raises(ConfigError, match=variable.replace("(", r"\(")):
        from_env(env)


def test_web_concurrency_sets_the_workers_and_a_bad_value_names_it():
    assert from_env({}).workers == 1
    assert from_env({"WEB_CONCURRENCY": "3"}).workers == 3
    for bad in ("0", "65", "two"):
        with pytest.raises(ConfigError, match="WEB_CONCURRENCY"):
            from_env({"WEB_CONCURRENCY": bad})


def test_serve_workers_flag_is_checked():
    from adapters.cli import build_parser

    assert build_parser().parse_args(["serve", "--workers", "4"]).workers == 4
    assert build_parser().parse_args(["serve"]).workers is None  # WEB_CONCURRENCY then decides
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--workers", "0"])
