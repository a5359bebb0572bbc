"""The seeds' worker command lines, `python main.py --queue-work ...` -> `python artisan queue:work ...`, on SQLite and Redis.

Each line of seed 000's "Worker Options" runs as printed (plus --stop-when-empty so the
test ends), in a real worker process; `--connection` and `--max-tries` are the seed's
spellings of the connection argument and `--tries`.
"""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
import pytest

from app.Jobs.Job import Job
from app.Jobs.JobState import JobState
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob
from tests.fixtures.seeds.s000_failed_handling import MyJob
from tests.seeds.conftest import run
from tests.support import artisan, start_worker, stop

# Seed 000, "Worker Options": (the options as printed, the queue the job goes to, its connection)
WORKER_OPTIONS = [
    ("--queue emails", "emails", None),
    ("--connection database", "default", "database"),
    ("--max-jobs 100", "default", None),
    ("--max-time 3600", "default", None),
    ("--sleep 5", "default", None),
    ("--timeout 120", "default", None),
]


def _push(job: Job, queue: str, connection: str | None) -> str:
    from app.Queue.aio import queue as aio_queue

    return str(run(lambda: aio_queue.push(job, queue=queue, connection=connection)))


@pytest.mark.parametrize(("options", "queue", "connection"), WORKER_OPTIONS, ids=[o[0] for o in WORKER_OPTIONS])
def test_worker_options_line(seed_backend: Backend, witness: Path, options: str, queue: str, connection: str | None) -> None:
    _push(RecordJob(str(witness), "ran"), queue, connection)
    quick = [] if "--sleep" in options else ["--sleep", "0"]  # stop-when-empty on Redis waits --sleep first
    result = artisan("queue:work", *shlex.split(options), "--stop-when-empty", *quick, env=seed_backend.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[0] for line in witness.read_text().splitlines()] == ["ran"]


def test_worker_option_max_tries_sets_the_attempts(seed_backend: Backend) -> None:
    job_id = _push(MyJob(), "default", None)  # no handle(), no max_tries of its own: fails every attempt
    result = artisan("queue:work", "--max-tries", "5", "--stop-when-empty", "--sleep", "0", env=seed_backend.env)
    assert result.returncode == 0, result.stdout + result.stderr
    status = Job.status(job_id)
    assert (status.state, status.attempts) == (JobState.FAILED, 5)


def test_seed_002_advanced_options_line(seed_backend: Backend, witness: Path) -> None:
    _push(RecordJob(str(witness), "ran"), "default", None)
    # The sample's `--connection redis`; on the SQLite run, that run's connection.
    line = f"""--queue default \\
    --connection {seed_backend.connection} \\
    --max-jobs 100 \\
    --max-time 3600 \\
    --sleep 3 \\
    --timeout 60"""
    result = artisan("queue:work", *shlex.split(line.replace("\\\n", " ")), "--stop-when-empty", env=seed_backend.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(witness.read_text().splitlines()) == 1


def test_multiple_workers_for_different_queues(seed_backend: Backend, witness: Path) -> None:
    # Seed 000 "Multiple Workers" (three terminals) and best practice 4's critical/emails/low-priority workers.
    lines = ["--queue high-priority --sleep 1", "--queue default", "--queue low-priority --sleep 10",
             "--queue critical --sleep 1", "--queue emails --sleep 3"]
    for line in lines:
        queue = line.split()[1]
        _push(RecordJob(str(witness), queue), queue, None)
    workers = [start_worker([*shlex.split(line), "--stop-when-empty"], env=seed_backend.env) for line in lines]
    codes = []
    for proc in workers:
        try:
            codes.append(proc.wait(60))
        except subprocess.TimeoutExpired:
            codes.append(stop(proc))
    assert codes == [0] * len(lines)
    assert sorted(line.split()[0] for line in witness.read_text().splitlines()) == sorted(line.split()[1] for line in lines)


def test_queue_listen_takes_the_seed_options(seed_backend: Backend) -> None:
    job_id = _push(MyJob(), "default", None)
    result = artisan("queue:listen", "--connection", seed_backend.connection, "--max-tries", "2", "--stop-when-empty",
                     "--sleep", "0", env=seed_backend.env)
    assert result.returncode == 0, result.stdout + result.stderr
    status = Job.status(job_id)
    assert (status.state, status.attempts) == (JobState.FAILED, 2)


@pytest.mark.parametrize("command", ["queue:work", "queue:listen"])
def test_help_shows_the_seed_spellings_as_aliases(command: str) -> None:
    shown = artisan(command, "--help").stdout
    option_lines = {line.split()[0]: line for line in shown.splitlines() if line.strip().startswith("--")}
    assert "Alias of the connection argument" in option_lines["--connection=CONNECTION"]
    assert "Alias of --tries" in option_lines["--max-tries=MAX-TRIES"]


@pytest.mark.parametrize(("args", "message"), [
    (["database", "--connection", "redis"], "the connection argument ('database') and --connection ('redis') disagree; give one"),
    (["--tries", "2", "--max-tries", "5"], "--tries (2) and --max-tries (5) disagree; give one"),
    (["--max-tries", "many"], "--max-tries must be a whole number, got 'many'"),
    (["--max-tries=-1"], "--max-tries must be at least 0, got '-1'"),
])
def test_conflicting_or_bad_seed_options_are_one_clear_line(args: list[str], message: str) -> None:
    for command in ("queue:work", "queue:listen"):
        result = artisan(command, *args, "--stop-when-empty")
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert result.stderr.strip() == message


def test_agreeing_spellings_are_accepted(seed_backend: Backend, witness: Path) -> None:
    _push(RecordJob(str(witness), "ran"), "default", None)
    conn = seed_backend.connection
    result = artisan("queue:work", conn, "--connection", conn, "--tries", "4", "--max-tries", "4", "--stop-when-empty",
                     "--sleep", "0", env=seed_backend.env)
    assert result.returncode == 0, result.stderr
    assert len(witness.read_text().splitlines()) == 1

