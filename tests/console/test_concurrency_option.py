"""`queue:work --concurrency`: bad values are one clear line and exit 1; queue:top lists each slot's job."""
from __future__ import annotations

import pytest

from app.Console.Support.top import render_frame
from app.Queue.Support.time import now
from tests.support import artisan


@pytest.mark.parametrize("value", ["0", "-2", "abc", "2.5", "100000"])
def test_a_bad_concurrency_is_one_line_naming_the_option_and_exit_1(queue_env, artisan_cmd, value):
    ran = artisan_cmd("queue:work", f"--concurrency={value} --once")
    assert ran.status == 1
    assert ran.err.strip().splitlines() == [f"--concurrency must be a whole number from 1 to 1000; got '{value}'"]


def test_a_bad_concurrency_from_the_command_line_shows_no_traceback(queue_env):
    result = artisan("queue:work", "--concurrency=0", "--once")
    assert result.returncode == 1
    assert "--concurrency" in result.stderr + result.stdout and "Traceback" not in result.stderr + result.stdout


def test_top_shows_one_line_per_busy_slot_of_a_concurrent_worker():
    t = now()
    worker = {"id": "w@host:1", "pid": 1, "connection": "database", "queues": ["default"], "processed": 3, "failed": 0,
              "last_seen": t, "concurrency": 4, "current": {"job": "A", "uuid": "aaaaaaaa-1", "started_at": t - 5},
              "slots": [{"job": "A", "uuid": "aaaaaaaa-1", "started_at": t - 5},
                        {"job": "B", "uuid": "bbbbbbbb-2", "started_at": t - 1}]}
    lines = render_frame("database", [], [worker])
    (row,) = [line for line in lines if line.startswith("w@host:1")]
    assert "2/4 slots busy" in row
    slot_rows = [line for line in lines if "slot" in line and "busy" not in line and "WORKER" not in line]
    assert [("A aaaaaaaa" in r, "B bbbbbbbb" in r) for r in slot_rows] == [(True, False), (False, True)]
