"""Failed-jobs console on SQLite: queue:failed, retry, forget, flush, prune-failed, clear."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from app.Jobs.Job import Job, JobState
from tests.conftest import read_lines
from tests.core_helpers import failed_rows, job_rows, keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.fixtures.core_jobs import ControlJob
from tests.fixtures.jobs import RecordJob
from tests.support import artisan


def make_failures(witness, queues=("a", "a", "b")) -> list[str]:
    """Fail one ControlJob per queue name, oldest first; returns their uuids."""
    from app.Queue.QueueManager import manager

    before = len(failed_rows(manager()))
    ids = [ControlJob(str(witness), "fail").on_queue(q).dispatch() for q in queues]
    work(manager(), sorted(set(queues)))
    assert len(failed_rows(manager())) == before + len(queues)
    return ids


def test_queue_failed_shows_a_table_with_uuid_connection_queue_class_time_and_first_line(queue_env, witness):
    with freeze_time(datetime(2026, 2, 3, 4, 5, 6, tzinfo=timezone.utc)):
        (job_id,) = make_failures(witness, ["a"])
    result = artisan("queue:failed")
    assert result.returncode == 0, result.stderr
    (line,) = [l for l in result.stdout.splitlines() if job_id in l]
    for cell in ("database", " a ", "ControlJob", "2026-02-03 04:05:06", "ValueError: gave up on purpose"):
        assert cell in line
    assert "Traceback" not in result.stdout
    for header in ("UUID", "Connection", "Queue", "Job", "Failed at", "Exception"):
        assert header in result.stdout


def test_queue_failed_with_none_says_so(queue_env):
    result = artisan("queue:failed")
    assert result.returncode == 0 and "No failed jobs" in result.stdout


def test_queue_retry_by_uuid_requeues_with_the_same_id_and_fresh_attempts(queue_env, witness):
    ids = make_failures(witness)
    result = artisan("queue:retry", ids[0], ids[2])
    assert result.returncode == 0 and "Pushed 2" in result.stdout, result.stderr
    rows = job_rows(queue_env)
    assert sorted(json.loads(r["payload"])["uuid"] for r in rows) == sorted([ids[0], ids[2]])
    assert sorted(r["queue"] for r in rows) == ["a", "b"] and {r["attempts"] for r in rows} == {0}
    assert [r["uuid"] for r in failed_rows(queue_env)] == [ids[1]]
    assert Job.status(ids[0]).state is JobState.PENDING
    work(queue_env, ["a", "b"])
    assert read_lines(witness).count("fail 1") == 5  # ran again from attempt 1


def test_queue_retry_all_and_by_queue(queue_env, witness):
    make_failures(witness)
    by_queue = artisan("queue:retry", "--queue=b")
    assert by_queue.returncode == 0 and "Pushed 1" in by_queue.stdout
    assert [r["queue"] for r in failed_rows(queue_env)] == ["a", "a"]
    everything = artisan("queue:retry", "all")
    assert everything.returncode == 0 and "Pushed 2" in everything.stdout
    assert failed_rows(queue_env) == [] and len(job_rows(queue_env)) == 3


def test_queue_retry_by_range_of_row_ids(queue_env, witness):
    make_failures(witness, ["a", "a", "a", "a"])
    first_id = failed_rows(queue_env)[0]["id"]
    result = artisan("queue:retry", f"--range={first_id + 1}-{first_id + 2}")
    assert result.returncode == 0 and "Pushed 2" in result.stdout, result.stderr
    assert [r["id"] for r in failed_rows(queue_env)] == [first_id, first_id + 3]


def test_queue_retry_unknown_id_is_an_error_with_exit_1(queue_env, witness):
    (job_id,) = make_failures(witness, ["a"])
    result = artisan("queue:retry", "no-such-uuid")
    assert result.returncode == 1 and "No failed job matches the ID [no-such-uuid]" in result.stderr
    mixed = artisan("queue:retry", job_id, "nope")
    assert mixed.returncode == 1 and "Pushed 1" in mixed.stdout and "[nope]" in mixed.stderr
    assert artisan("queue:retry", "--range=5-1").returncode == 1
    assert "Traceback" not in mixed.stderr


def test_queue_forget_by_uuid_or_row_id(queue_env, witness):
    ids = make_failures(witness, ["a", "b"])
    assert artisan("queue:forget", ids[0]).returncode == 0
    row_id = failed_rows(queue_env)[0]["id"]
    assert artisan("queue:forget", str(row_id)).returncode == 0
    assert failed_rows(queue_env) == []
    again = artisan("queue:forget", ids[0])
    assert again.returncode == 1 and f"No failed job matches the ID [{ids[0]}]" in again.stderr


@pytest.mark.parametrize("command, kept", [
    (("queue:flush",), 0),
    (("queue:flush", "--hours=24"), 1),
    (("queue:prune-failed", "--hours=24"), 1),
    (("queue:prune-failed",), 1),  # default 24 h
    (("queue:prune-failed", "--hours=0"), 0),
])
def test_flush_and_prune_delete_failed_jobs_by_age(queue_env, witness, command, kept):
    now = datetime.now(timezone.utc)
    with freeze_time(now - timedelta(hours=48)):
        make_failures(witness, ["old"])
    with freeze_time(now - timedelta(hours=1)):
        (recent,) = make_failures(witness, ["new"])[-1:]
    result = artisan(*command)
    assert result.returncode == 0, result.stderr
    remaining = [r["uuid"] for r in failed_rows(queue_env)]
    assert len(remaining) == kept and (kept == 0 or remaining == [recent])


def test_flush_rejects_a_bad_hours_value(queue_env):
    result = artisan("queue:flush", "--hours=abc")
    assert result.returncode == 1 and "--hours must be a number" in result.stderr


def test_queue_clear_deletes_one_queue_only_with_force(queue_env, witness):
    for q in ("a", "a", "b"):
        RecordJob(str(witness)).on_queue(q).dispatch()
    refused = artisan("queue:clear", "--queue=a")
    assert refused.returncode == 1 and "--force" in refused.stderr and len(job_rows(queue_env)) == 3
    result = artisan("queue:clear", "--queue=a", "--force")
    assert result.returncode == 0 and "Cleared 2" in result.stdout
    assert [r["queue"] for r in job_rows(queue_env)] == ["b"]
    default = artisan("queue:clear", "database", "--force")
    assert default.returncode == 0 and "Cleared 0" in default.stdout


def test_queue_retry_all_with_nothing_failed_is_not_an_error(queue_env):
    result = artisan("queue:retry", "all")
    assert result.returncode == 0 and "No failed jobs" in result.stdout
    missing = artisan("queue:retry")
    assert missing.returncode == 1 and "'all'" in missing.stderr
