"""DESIGN invariant 5 through the real command line on every driver: exit 1, one line, no traceback.

The in-process tests (test_mariadb_storage.py, test_redis_driver.py) check the exception
types; these run `python artisan ...` as a user would, with the bad setting in its environment.
"""
from __future__ import annotations

import pytest

from tests.servers_mariadb import MariaDBServer
from tests.support import artisan, assert_one_line_error

COMMANDS = [("queue:work", "--once"), ("queue:failed",), ("queue:stats",)]


@pytest.fixture
def mariadb_env(mariadb_server: MariaDBServer, mariadb_database: str) -> dict[str, str]:
    return {**mariadb_server.env(mariadb_database), "CACHE_STORE": "database"}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_mariadb_unreachable_names_host_port_and_settings(mariadb_env: dict[str, str], command):
    assert_one_line_error(artisan(*command, env={**mariadb_env, "DB_PORT": "1"}), "127.0.0.1:1", "DB_HOST, DB_PORT")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_mariadb_wrong_password_says_access_denied(mariadb_env: dict[str, str], command):
    assert_one_line_error(artisan(*command, env={**mariadb_env, "DB_PASSWORD": "wrong"}), "Access denied")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_mariadb_unmigrated_database_tells_the_user_to_migrate(mariadb_server: MariaDBServer, mariadb_env: dict[str, str],
                                                              command):
    mariadb_server.create_database("queue_cli_unmigrated")
    result = artisan(*command, env={**mariadb_env, "DB_DATABASE": "queue_cli_unmigrated"})
    assert_one_line_error(result, "queue tables are missing", "run `python artisan migrate`")


@pytest.mark.parametrize("command", [("queue:work", "redis", "--once"), ("queue:stats",)], ids=lambda c: c[0])
def test_redis_unreachable_names_host_port_and_settings(command):  # nothing listens on port 1: no server needed
    env = {"QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1"}
    assert_one_line_error(artisan(*command, env=env), "cannot connect to Redis at 127.0.0.1:1", "REDIS_HOST/REDIS_PORT")
