"""Every setting and option is validated: a bad value is one line naming it, exit status 1, no traceback.

Run through the real command line (`python artisan ...` in a subprocess), since that is
where an operator meets them. Before, QUEUE_RETRY_AFTER=-5 was accepted (and handed one
job to several workers), --sleep=nan spun the CPU, --sleep=inf died on a time_t error,
--timeout=nan failed every job, CACHE_STORE / QUEUE_FAILED_DRIVER typos and an empty
QUEUE_ALLOWED_JOB_MODULES were silently accepted, and DB_PORT=abc / REDIS_BLOCK_FOR=abc
gave errors that did not name the variable.
"""
from __future__ import annotations

import pytest

from tests.support import artisan


def assert_one_line_naming(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("env, needle", [
    ({"QUEUE_RETRY_AFTER": "-5"}, "QUEUE_RETRY_AFTER must be at least 1"),
    ({"QUEUE_RETRY_AFTER": "0"}, "QUEUE_RETRY_AFTER must be at least 1"),
    ({"QUEUE_RETRY_AFTER": "nan"}, "QUEUE_RETRY_AFTER must be an integer"),
    ({"CACHE_STORE": "bogus"}, "CACHE_STORE must be one of redis, database"),
    ({"QUEUE_FAILED_DRIVER": "bogus"}, "QUEUE_FAILED_DRIVER must be one of database, redis"),
    ({"QUEUE_ALLOWED_JOB_MODULES": ""}, "QUEUE_ALLOWED_JOB_MODULES must list at least one"),
    ({"QUEUE_ALLOWED_JOB_MODULES": " , "}, "QUEUE_ALLOWED_JOB_MODULES must list at least one"),
    ({"QUEUE_CONNECTION": "bogus"}, "QUEUE_CONNECTION must be one of"),
    ({"DB_CONNECTION": "mysql", "DB_PORT": "abc"}, "DB_PORT must be an integer"),
    ({"DB_CONNECTION": "mysql", "DB_PORT": "70000"}, "DB_PORT must be at most 65535"),
    ({"QUEUE_CONNECTION": "redis", "REDIS_BLOCK_FOR": "abc"}, "REDIS_BLOCK_FOR must be a number"),
    ({"QUEUE_CONNECTION": "redis", "REDIS_BLOCK_FOR": "inf"}, "REDIS_BLOCK_FOR must be a finite number"),
    ({"QUEUE_CONNECTION": "redis", "REDIS_PORT": "0"}, "REDIS_PORT must be at least 1"),
    ({"REDIS_DB": "-1"}, "REDIS_DB must be at least 0"),
    ({"QUEUE_STATUS_TTL": "0"}, "QUEUE_STATUS_TTL must be at least 1"),
    ({"QUEUE_RECONNECT_TIMEOUT": "nan"}, "QUEUE_RECONNECT_TIMEOUT must be a finite number"),
    ({"QUEUE_RECONNECT_TIMEOUT": "-1"}, "QUEUE_RECONNECT_TIMEOUT must be at least 0"),
    ({"QUEUE_MAX_PAYLOAD_BYTES": "10"}, "QUEUE_MAX_PAYLOAD_BYTES must be at least 1024"),
    ({"QUEUE_METRICS_RETENTION_HOURS": "inf"}, "QUEUE_METRICS_RETENTION_HOURS must be a finite number"),
    ({"QUEUE_METRICS": "maybe"}, "QUEUE_METRICS must be true or false"),
    ({"LOG_LEVEL": "bogus"}, "LOG_LEVEL must be one of"),
], ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None)
def test_a_bad_setting_is_one_line_naming_it(queue_env, env: dict[str, str], needle: str):
    assert_one_line_naming(artisan("queue:work", "--once", env=env), needle)


@pytest.mark.parametrize("command", [("queue:failed",), ("queue:stats",), ("queue:retry", "all")])
def test_other_commands_validate_settings_too(queue_env, command: tuple[str, ...]):
    assert_one_line_naming(artisan(*command, env={"QUEUE_RETRY_AFTER": "-5"}), "QUEUE_RETRY_AFTER")


@pytest.mark.parametrize("args, needle", [
    (("queue:work", "--once", "--sleep=nan"), "--sleep must be a finite number"),
    (("queue:work", "--once", "--sleep=inf"), "--sleep must be a finite number"),
    (("queue:work", "--once", "--sleep=1e300"), "--sleep must be at most"),
    (("queue:work", "--once", "--timeout=nan"), "--timeout must be a finite number"),
    (("queue:work", "--once", "--max-time=inf"), "--max-time must be a finite number"),
    (("queue:work", "--once", "--rest=-inf"), "--rest must be a finite number"),
    (("queue:listen", "--sleep=nan"), "--sleep must be a finite number"),
    (("queue:flush", "--hours=nan"), "--hours must be a finite number"),
    (("queue:prune-failed", "--hours=inf"), "--hours must be a finite number"),
    (("queue:top", "--interval=nan"), "--interval must be a finite number"),
])
def test_a_bad_option_is_one_line_naming_it(queue_env, args: tuple[str, ...], needle: str):
    assert_one_line_naming(artisan(*args), needle)
