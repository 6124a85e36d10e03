"""DATABASE_URL names the database whichever backend it is: sqlite:///relative, sqlite:////absolute
or postgresql://; the deprecated POLICYBOT_DB_PATH keeps working; anything else is refused clearly."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, database_location, from_env


@pytest.mark.parametrize("url,postgres,path", [
    ("sqlite:///data/policybot.sqlite3", "", Path("data/policybot.sqlite3")),       # relative: three slashes
    ("sqlite:////var/lib/policybot/db.sqlite3", "", Path("/var/lib/policybot/db.sqlite3")),  # absolute: four
    ("SQLite:///my%20school.sqlite3", "", Path("my school.sqlite3")),              # scheme case, %-escapes
    ("postgresql://bot:secret@db:5432/policybot", "postgresql://bot:secret@db:5432/policybot", None),
    ("postgres://bot@db/policybot", "postgres://bot@db/policybot", None),          # as Heroku writes it
    ("", "", None),
])
def test_database_url_forms(url, postgres, path):
    assert database_location(url) == (postgres, path)


@pytest.mark.parametrize("url,says", [
    ("mysql://bot:secret@db/policybot", "scheme 'mysql://'"),
    ("postgresql+asyncpg://db/policybot", "scheme 'postgresql+asyncpg://'"),
    ("/var/lib/policybot.sqlite3", "no scheme"),
    ("sqlite:policybot.sqlite3", "is not a SQLite URL"),
    ("sqlite://dbhost/policybot.sqlite3", "names a host ('dbhost')"),
    ("sqlite://", "names no database file"),
    ("sqlite:///", "names no database file"),
    ("sqlite:///:memory:", "names no database file"),
    ("sqlite:///data/", "names no database file"),
    ("sqlite:///x.sqlite3?mode=ro", "takes no ?options"),
])
def test_other_database_urls_are_refused_with_the_forms_that_work(url, says):
    with pytest.raises(ConfigError, match="DATABASE_URL") as caught:
        from_env({"DATABASE_URL": url})
    assert says in str(caught.value)
    assert "sqlite:///" in str(caught.value)  # the message says what would work
    assert "secret" not in str(caught.value)  # never echoes a password


def test_from_env_splits_the_url_into_backend_and_file():
    s = from_env({"DATABASE_URL": "sqlite:///state/esc.sqlite3"})
    assert (s.database_url, s.db_path) == ("", Path("state/esc.sqlite3"))
    s = from_env({"DATABASE_URL": "postgresql://bot@db/policybot"})
    assert (s.database_url, s.db_path) == ("postgresql://bot@db/policybot", Settings.db_path)


def test_the_deprecated_path_variable_still_works():
    assert from_env({"POLICYBOT_DB_PATH": "/tmp/old.sqlite3"}).db_path == Path("/tmp/old.sqlite3")
    # beside a PostgreSQL URL it still says where an old adapters' SQLite file is imported from
    s = from_env({"DATABASE_URL": "postgresql://db/p", "POLICYBOT_DB_PATH": "/tmp/inbox.sqlite3"})
    assert (s.database_url, s.db_path) == ("postgresql://db/p", Path("/tmp/inbox.sqlite3"))
    # both naming the same file is fine; two different files is a mistake worth stopping for
    assert from_env({"DATABASE_URL": "sqlite:////tmp/a.sqlite3", "POLICYBOT_DB_PATH": "/tmp/a.sqlite3"}
                    ).db_path == Path("/tmp/a.sqlite3")
    with pytest.raises(ConfigError, match="unset POLICYBOT_DB_PATH"):
        from_env({"DATABASE_URL": "sqlite:////tmp/a.sqlite3", "POLICYBOT_DB_PATH": "/tmp/b.sqlite3"})


def test_blas_threads_default_one_and_configurable():
    assert from_env({}).blas_threads == 1
    assert from_env({"POLICYBOT_BLAS_THREADS": "0"}).blas_threads == 0
    with pytest.raises(ConfigError):
        from_env({"POLICYBOT_BLAS_THREADS": "-1"})


def test_encoder_weights_default_tuned_base_or_a_file_that_exists(tmp_path):
    assert from_env({}).encoder_weights == Settings().encoder_weights == "tuned"
    assert from_env({"POLICYBOT_ENCODER_WEIGHTS": "base"}).encoder_weights == "base"
    weights = tmp_path / "ours.safetensors"
    weights.write_bytes(b"x")
    assert from_env({"POLICYBOT_ENCODER_WEIGHTS": str(weights)}).encoder_weights == str(weights)
    with pytest.raises(ConfigError, match="POLICYBOT_ENCODER_WEIGHTS"):
        from_env({"POLICYBOT_ENCODER_WEIGHTS": str(tmp_path / "typo.safetensors")})


def test_the_concern_detectors_weights_are_a_setting_of_their_own(tmp_path):
    assert from_env({}).concern_encoder_weights == Settings().concern_encoder_weights == "tuned"
    settings = from_env({"POLICYBOT_CONCERN_ENCODER_WEIGHTS": "base", "POLICYBOT_ENCODER_WEIGHTS": "tuned"})
    assert (settings.concern_encoder_weights, settings.encoder_weights) == ("base", "tuned")
    with pytest.raises(ConfigError, match="POLICYBOT_CONCERN_ENCODER_WEIGHTS"):
        from_env({"POLICYBOT_CONCERN_ENCODER_WEIGHTS": str(tmp_path / "typo.safetensors")})
