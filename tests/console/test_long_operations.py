"""Long operations chunk their work and draw a progress bar only on a terminal; every command has --help."""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select

from app.Console import Command as command_module
from app.Console.kernel import COMMANDS
from app.Console.Support import pruning
from app.Queue.Database.tables import failed_jobs
from app.Queue.Support.time import now
from tests.support import artisan, assert_one_line_error


def add_failed(qm, count: int, age_hours: float = 0) -> None:
    t = int(now() - age_hours * 3600)
    rows = [dict(uuid=f"{age_hours}-{i}", connection="database", queue="default", payload="{}", exception="E: x", failed_at=t)
            for i in range(count)]
    with qm.engine().begin() as conn:
        conn.execute(insert(failed_jobs), rows)


def failed_count(qm) -> int:
    with qm.engine().connect() as conn:
        return int(conn.execute(select(func.count()).select_from(failed_jobs)).scalar_one())


@pytest.fixture
def terminal(monkeypatch):
    monkeypatch.setattr(command_module.Command, "is_tty", lambda self: True)


def test_flush_deletes_in_chunks_quietly_when_not_a_terminal(queue_env, artisan_cmd, monkeypatch):
    monkeypatch.setattr(pruning, "CHUNK", 7)
    add_failed(queue_env, 30)
    ran = artisan_cmd("queue:flush")
    assert ran.status == 0 and ran.out.strip() == "Deleted 30 failed job(s)."
    assert failed_count(queue_env) == 0


def test_flush_draws_a_progress_bar_on_a_terminal(queue_env, artisan_cmd, monkeypatch, terminal):
    monkeypatch.setattr(pruning, "CHUNK", 10)
    add_failed(queue_env, 25)
    ran = artisan_cmd("queue:flush")
    assert "25/25" in ran.err and "100%" in ran.err and "Deleted 25 failed job(s)." in ran.out


def test_prune_failed_keeps_recent_jobs_and_hours_0_prunes_all(queue_env, artisan_cmd, terminal):
    add_failed(queue_env, 5, age_hours=48)
    add_failed(queue_env, 3, age_hours=1)
    ran = artisan_cmd("queue:prune-failed")
    assert "5/5" in ran.err and "5 failed job(s) older than 24 hours pruned." in ran.out
    assert failed_count(queue_env) == 3
    assert "3 failed job(s) older than 0 hours pruned." in artisan_cmd("queue:prune-failed", "--hours=0").out
    bad = artisan_cmd("queue:prune-failed", "--hours=-1")
    assert bad.status == 1 and "--hours must be at least 0" in bad.err


def test_flush_with_hours_keeps_newer_jobs(queue_env, artisan_cmd):
    add_failed(queue_env, 2, age_hours=10)
    add_failed(queue_env, 2, age_hours=0)
    assert "Deleted 2 failed job(s) older than 5 hours." in artisan_cmd("queue:flush", "--hours=5").out
    assert failed_count(queue_env) == 2
    assert artisan_cmd("queue:flush", "--hours=soon").status == 1


def test_every_command_is_listed_and_has_help():
    listing = artisan("list")
    assert listing.returncode == 0
    for name in COMMANDS:
        assert name in listing.stdout
    for name in ("queue:listen", "queue:pause", "queue:resume", "queue:stats", "queue:monitor", "queue:metrics",
                 "queue:health", "queue:top", "queue:dashboard", "horizon", "schedule:work"):
        ran = artisan(name, "--help")
        assert ran.returncode == 0 and "Usage:" in ran.stdout and name in ran.stdout, name


def test_missing_arguments_fail_without_a_traceback():
    for name in ("queue:pause", "queue:resume", "queue:monitor"):
        assert_one_line_error(artisan(name), "Not enough arguments")
