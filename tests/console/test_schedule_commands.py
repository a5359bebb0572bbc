"""schedule:list / schedule:run / schedule:test in-process, and bad schedules failing at load with one line."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from freezegun import freeze_time

from app.Queue.QueueManager import manager
from tests.conftest import read_lines


@pytest.fixture
def console_schedule(monkeypatch, witness):
    monkeypatch.setenv("SCHEDULE_ROUTES", "tests.fixtures.schedules:console")
    monkeypatch.setenv("SCHEDULE_WITNESS", str(witness))
    return witness


@pytest.mark.parametrize("routes, message", [
    ("bad_time", 'schedule event [nightly-report]: daily_at(\'25:00\'): hour must be 0-23 and minute 0-59'),
    ("bad_cron", "schedule event [inspire]: cron(): invalid cron expression '61 * * * *'"),
    ("bad_zone", "schedule event [martian]: unknown time zone 'Mars/Olympus_Mons'"),
    ("never_due", "schedule event [feb-31]: the cron expression '0 0 31 2 *' never comes due"),
    ("duplicate", "schedule event [inspire]: two events have the same name or run the same thing at the same times"),
    ("job_overlap", "schedule event [tests.fixtures.jobs.RecordJob]: without_overlapping() applies to commands and calls"),
    ("unknown_command", "schedule event [no-such:command --x]: there is no artisan command named 'no-such:command'"),
    ("raises_while_defining", "tests.fixtures.schedules:raises_while_defining failed while defining the schedule: KeyError"),
])
@pytest.mark.parametrize("command", ["schedule:list", "schedule:run", "schedule:work", "schedule:test"])
def test_a_bad_schedule_fails_at_load_with_one_line_naming_the_event(artisan_cmd, monkeypatch, routes, message, command):
    monkeypatch.setenv("SCHEDULE_ROUTES", f"tests.fixtures.schedules:{routes}")
    monkeypatch.setenv("SCHEDULE_WITNESS", "/dev/null")
    ran = artisan_cmd(command)
    assert ran.status == 1
    assert message in ran.err and len(ran.err.strip().splitlines()) == 1 and "Traceback" not in ran.err


def test_bad_settings_are_one_line_errors(artisan_cmd, monkeypatch):
    monkeypatch.setenv("SCHEDULE_TIMEZONE", "Nowhere/City")
    ran = artisan_cmd("schedule:list")
    assert ran.status == 1 and "SCHEDULE_TIMEZONE: unknown time zone 'Nowhere/City'" in ran.err
    monkeypatch.delenv("SCHEDULE_TIMEZONE")
    monkeypatch.setenv("SCHEDULE_ROUTES", "tests.fixtures.schedules:no_such_function")
    ran = artisan_cmd("schedule:list")
    assert ran.status == 1 and "SCHEDULE_ROUTES: 'tests.fixtures.schedules:no_such_function' is not" in ran.err
    monkeypatch.delenv("SCHEDULE_ROUTES")
    monkeypatch.setenv("SCHEDULE_TEST_CLOCK", "{not json")
    ran = artisan_cmd("schedule:run")
    assert ran.status == 1 and "SCHEDULE_TEST_CLOCK must be JSON" in ran.err
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SCHEDULE_TEST_CLOCK", '{"origin": 0, "anchor": 0}')
    ran = artisan_cmd("schedule:run")
    assert ran.status == 1 and "refused when APP_ENV=production" in ran.err


def test_list_shows_expression_timezone_next_due_and_escaped_last_result(artisan_cmd, console_schedule):
    with freeze_time("2026-12-01 10:00:30"):  # Tuesday
        assert artisan_cmd("schedule:test", "--name=explode").status == 1
        ran = artisan_cmd("schedule:list")
    assert ran.status == 0, ran.err
    rows = {line.split("|")[1].strip().split(" (")[0]: [c.strip() for c in line.split("|")[2:-1]]
            for line in ran.out.splitlines() if line.startswith("| ") and "Expression" not in line}
    assert rows["record-call"][:3] == ["* * * * *", "UTC", "2026-12-01 10:01 UTC"]
    assert rows["explode"][:3] == ["0 * * * *", "UTC", "2026-12-01 11:00 UTC"]
    assert rows["inspire"][:3] == ["0 13 * * *", "Europe/Berlin", "2026-12-01 13:00 CET"]
    assert rows["tests.fixtures.jobs.RecordJob queue=reports"][:3] == ["0 8 * * 1", "UTC", "2026-12-07 08:00 UTC"]
    # The exception text holds cleo tags: shown literally, never interpreted as markup.
    assert rows["explode"][3].startswith("failed 2026-12-01 10:00 UTC")
    assert rows["explode"][3].endswith("RuntimeError: scheduled <b>boom</b>")
    assert rows["record-call"][3] == "-"
    assert "writes the witness" in ran.out


def test_list_ignores_a_malformed_last_result_in_the_store(artisan_cmd, console_schedule):
    from app.Scheduling.LastResults import RESULT_PREFIX
    from app.Scheduling.ScheduleLoader import load_schedule

    event = load_schedule().find("record-call")[0]
    manager().cache.put(RESULT_PREFIX + event.mutex_id(), {"status": "<error>x</error>", "due": "soon"})
    ran = artisan_cmd("schedule:list")
    assert ran.status == 0 and "<error>x" not in ran.out


def test_run_runs_only_what_is_due_this_minute(artisan_cmd, console_schedule):
    with freeze_time("2026-12-01 10:00:05"):  # record-call (every minute) and explode (hourly) are due
        ran = artisan_cmd("schedule:run")
    assert ran.status == 0
    due = int(datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc).timestamp())
    assert read_lines(console_schedule) == [f"call {due} {os.getpid()}"]
    assert "[record-call] DONE" in ran.out and "[explode] FAIL" in ran.out and "<b>boom</b>" in ran.out
    with freeze_time("2026-12-01 10:01:05"):
        artisan_cmd("schedule:run")
    assert len(read_lines(console_schedule)) == 2


def test_test_runs_one_event_now_and_dispatches_jobs(artisan_cmd, console_schedule):
    with freeze_time("2026-12-01 10:00:05"):
        ran = artisan_cmd("schedule:test", "--name=RecordJob")
    assert ran.status == 0, ran.err
    assert manager().size("reports") == 1
    assert "dispatched" in ran.out
    assert artisan_cmd("schedule:test", "--name=nothing-like-this").status == 1
    many = artisan_cmd("schedule:test", "--name=e")
    assert many.status == 1 and "matches several events" in many.err


def test_test_runs_a_command_in_a_child_process(artisan_cmd, console_schedule):
    ran = artisan_cmd("schedule:test", "--name=inspire")
    assert ran.status == 0, ran.err
    assert "[inspire] DONE" in ran.out and "Nothing is lost when every job is acked." in ran.out


def test_the_default_schedule_prunes_and_adds_horizon_snapshot_only_when_that_command_exists(monkeypatch):
    from app.Scheduling.ScheduleLoader import load_schedule

    names = {"queue:prune"}
    schedule = load_schedule(names.__contains__)
    assert [e.display_name() for e in schedule.events] == ["prune-queue-records"]
    assert schedule.events[0].expression == "20 3 * * *"
    assert all(e.one_server for e in schedule.events)
    with_horizon = load_schedule((names | {"horizon:snapshot"}).__contains__)
    snapshot = with_horizon.find("horizon-snapshot")[0]
    assert snapshot.summary() == "horizon:snapshot" and snapshot.expression == "*/5 * * * *" and snapshot.one_server


def test_commands_run_as_child_processes_failures_and_background_runs_are_recorded(artisan_cmd, monkeypatch, witness):
    from app.Scheduling.LastResults import LastResults
    from app.Scheduling.Mutexes import ScheduleMutexes
    from app.Scheduling.ScheduleLoader import load_schedule

    monkeypatch.setenv("SCHEDULE_ROUTES", "tests.fixtures.schedules:commands")
    monkeypatch.setenv("SCHEDULE_WITNESS", str(witness))
    ran = artisan_cmd("schedule:run")  # returns once the background command has finished too
    assert ran.status == 0, ran.err
    schedule = load_schedule()
    results = LastResults(manager())
    failing = results.get(schedule.find("failing-command")[0])
    assert failing is not None and failing.status == "failed"
    assert failing.message.startswith("exit status 1: ") and "no-such-uuid" in failing.message
    background_event = schedule.find("background")[0]
    background = results.get(background_event)
    assert background is not None and background.status == "ok"
    assert background.message == "Nothing is lost when every job is acked."
    assert ScheduleMutexes(manager()).overlap_holder(background_event) is None  # freed when the child exited
    assert len(read_lines(witness)) == 1  # the call after them ran too
