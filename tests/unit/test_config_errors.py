"""Clear errors (DESIGN invariant 5): one line, exit 1, never a traceback."""
from __future__ import annotations

import base64

import pytest

from app.Queue.errors import ConfigurationError, MissingTablesError
from tests.fixtures.jobs import RecordJob
from tests.support import artisan, assert_one_line_error

KEY_31 = "base64:" + base64.b64encode(b"k" * 31).decode()


@pytest.mark.parametrize("option, needle", [
    ("--sleep=abc", "--sleep must be a number"),
    ("--tries=-1", "--tries must be at least 0"),
    ("--backoff=x", "--backoff must be whole seconds"),
    ("--backoff=1,-5", "--backoff must not be negative"),
    ("--max-jobs=1.5", "--max-jobs must be a whole number"),
    ("--memory=lots", "--memory must be a whole number"),
    ("--timeout=-2", "--timeout must be at least 0"),
    ("--max-time=soon", "--max-time must be a number"),
    ("--rest=x", "--rest must be a number"),
])
def test_bad_worker_option_values_give_one_line_and_exit_1(option, needle):
    result = artisan("queue:work", "--once", option)
    assert_one_line_error(result, needle)
    assert result.returncode == 1


def test_unknown_connection_is_one_line(queue_env):
    assert_one_line_error(artisan("queue:work", "nosuch", "--once"), "unknown queue connection 'nosuch'", "QUEUE_CONNECTION")


@pytest.mark.parametrize("command", [("queue:work", "--once"), ("queue:failed",), ("queue:retry", "all"), ("queue:clear", "--force")])
def test_missing_tables_tell_the_user_to_migrate(tmp_path, command):
    result = artisan(*command, env={"DB_DATABASE": str(tmp_path / "fresh.sqlite")})
    assert_one_line_error(result, "queue tables are missing", "run `python artisan migrate`")


def test_dispatch_without_tables_raises_missing_tables_error(queue_env, tmp_path, monkeypatch, witness):
    monkeypatch.setenv("DB_DATABASE", str(tmp_path / "fresh.sqlite"))
    queue_env.reset()
    with pytest.raises(MissingTablesError, match="python artisan migrate"):
        RecordJob.dispatch(str(witness))


@pytest.mark.parametrize("value, needle", [
    ("", "APP_KEY is not set"),
    ("base64:not*base64!", "APP_KEY is not valid base64"),
    (KEY_31, "APP_KEY must decode to 32 bytes, got 31"),
    ("plain-text-key", "APP_KEY must start with 'base64:'"),
])
def test_bad_app_key_is_one_line_naming_key_generate(queue_env, value, needle, monkeypatch, witness):
    result = artisan("queue:work", "--once", env={"APP_KEY": value})
    assert_one_line_error(result, needle, "key:generate")
    monkeypatch.setenv("APP_KEY", value)
    queue_env.reset()
    with pytest.raises(ConfigurationError, match="key:generate"):
        RecordJob.dispatch(str(witness))


@pytest.mark.parametrize("env, needle", [
    ({"QUEUE_RETRY_AFTER": "soon"}, "QUEUE_RETRY_AFTER must be an integer"),
    ({"DB_CONNECTION": "oracle"}, "DB_CONNECTION must be sqlite, mysql or pgsql"),
])
def test_bad_settings_are_one_line(queue_env, env, needle):
    assert_one_line_error(artisan("queue:work", "--once", env=env), needle)


def test_unknown_failed_job_id_is_a_clear_error(queue_env):
    assert_one_line_error(artisan("queue:forget", "no-such-uuid"), "No failed job matches the ID [no-such-uuid]")
