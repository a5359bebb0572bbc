"""Constraints (when, skip, between, environments) and failure isolation in the runner, on the default SQLite store."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from freezegun import freeze_time

from app.Queue.QueueManager import manager
from app.Scheduling.Clock import Clock
from app.Scheduling.CronExpression import minute_floor
from app.Scheduling.LastResults import LastResults
from app.Scheduling.Mutexes import ScheduleMutexes
from app.Scheduling.Schedule import Schedule
from app.Scheduling.ScheduleRunner import Outcome, ScheduleRunner

UTC = timezone.utc


def runner(schedule: Schedule, app_env: str = "testing") -> ScheduleRunner:
    qm = manager()
    return ScheduleRunner(schedule, ScheduleMutexes(qm), LastResults(qm), app_env)


def run_now(schedule: Schedule, when: str, app_env: str = "testing") -> dict[str, Outcome]:
    with freeze_time(when):
        runs = runner(schedule, app_env).run_minute(minute_floor(Clock().now()))
    return {r.event.display_name(): r.outcome for r in runs}


def test_when_and_skip_take_bools_and_callables_evaluated_at_the_due_time():
    calls: list[str] = []
    flag = {"open": False}
    s = Schedule()
    s.call(calls.append, "when").every_minute().when(lambda: flag["open"]).name("when")
    s.call(calls.append, "skip").every_minute().skip(lambda: flag["open"]).name("skip")
    s.call(calls.append, "both").every_minute().when(True).skip(False).name("both")
    assert run_now(s, "2026-12-01 10:00:00") == {"when": Outcome.FILTERED, "skip": Outcome.RAN, "both": Outcome.RAN}
    flag["open"] = True
    assert run_now(s, "2026-12-01 10:01:00") == {"when": Outcome.RAN, "skip": Outcome.FILTERED, "both": Outcome.RAN}
    assert calls == ["skip", "both", "when", "both"]


@pytest.mark.parametrize("start, end, inside, outside", [
    ("8:00", "17:00", ["08:00", "12:30", "17:00"], ["07:59", "17:01", "23:00"]),
    ("22:00", "6:00", ["22:00", "23:59", "00:00", "06:00"], ["06:01", "12:00", "21:59"]),  # spans midnight
])
def test_between_is_inclusive_local_time_and_may_span_midnight(start, end, inside, outside):
    s = Schedule()
    ev = s.call(lambda: None).every_minute().between(start, end).timezone("Europe/Berlin")
    for hhmm in inside + outside:
        local = datetime.fromisoformat(f"2026-12-01T{hhmm}:00+01:00")
        with freeze_time(local):
            assert ev.passes_filters(Clock().now()) is (hhmm in inside), hhmm


def test_unless_between_skips_the_window():
    ev = Schedule().call(lambda: None).every_minute().unless_between("23:00", "4:00")
    with freeze_time("2026-12-01 23:30:00"):
        assert not ev.passes_filters(Clock().now())
    with freeze_time("2026-12-01 12:00:00"):
        assert ev.passes_filters(Clock().now())


def test_environments_limit_where_the_event_is_due():
    s = Schedule()
    s.call(lambda: None).every_minute().environments("production", "staging").name("prod-only")
    s.call(lambda: None).every_minute().name("everywhere")
    assert run_now(s, "2026-12-01 10:00:00", "testing") == {"everywhere": Outcome.RAN}
    assert run_now(s, "2026-12-01 10:00:00", "production") == {"prod-only": Outcome.RAN, "everywhere": Outcome.RAN}


def test_an_event_that_raises_is_recorded_and_the_others_still_run(caplog):
    calls: list[str] = []

    def boom() -> None:
        raise ZeroDivisionError("division by zero in the report")

    s = Schedule()
    s.call(calls.append, "first").every_minute().name("first")
    s.call(boom).every_minute().name("boom")
    s.call(lambda: 1 / 0).every_minute().when(lambda: 1 / 0).name("bad-constraint")
    s.call(calls.append, "last").every_minute().name("last")
    outcomes = run_now(s, "2026-12-01 10:00:00")
    assert outcomes == {"first": Outcome.RAN, "boom": Outcome.FAILED, "bad-constraint": Outcome.FAILED, "last": Outcome.RAN}
    assert calls == ["first", "last"]
    results = LastResults(manager())
    boom_result = results.get(s.find("boom")[0])
    assert boom_result is not None and boom_result.status == "failed"
    assert boom_result.message == "ZeroDivisionError: division by zero in the report"
    assert boom_result.due == int(datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp())
    assert results.get(s.find("last")[0]).status == "ok"  # type: ignore[union-attr]
    assert "division by zero in the report" in caplog.text and "Traceback" in caplog.text


def test_without_overlapping_skips_while_a_run_holds_the_mutex_and_frees_it_after():
    s = Schedule()
    nested: list[dict[str, Outcome]] = []
    # While its 10:00 run is still going, the event is due again (10:01): that due time is skipped.
    ev = s.call(lambda: nested.append(run_now(s, "2026-12-01 10:01:00"))).every_minute() \
        .without_overlapping(expires_after=5).name("slow")
    assert run_now(s, "2026-12-01 10:00:00") == {"slow": Outcome.RAN}
    assert nested == [{"slow": Outcome.OVERLAPPING}]
    assert ScheduleMutexes(manager()).overlap_holder(ev) is None  # released once the run ended


def test_a_crashed_runs_mutex_expires_after_expires_after_minutes():
    s = Schedule()
    calls: list[str] = []
    ev = s.call(calls.append, "ran").every_minute().without_overlapping(expires_after=5).name("guarded")
    with freeze_time("2026-12-01 10:00:00"):
        assert ScheduleMutexes(manager(), owner="crashed-host:1").lock_overlap(ev)  # killed while running
    assert run_now(s, "2026-12-01 10:04:00") == {"guarded": Outcome.OVERLAPPING}
    assert run_now(s, "2026-12-01 10:05:00") == {"guarded": Outcome.RAN}
    assert calls == ["ran"]


def test_on_one_server_runs_a_due_minute_once_across_runners():
    s = Schedule()
    calls: list[str] = []
    s.call(calls.append, "x").every_minute().on_one_server().name("once")
    first = run_now(s, "2026-12-01 10:00:10")
    second = run_now(s, "2026-12-01 10:00:50")  # another server (its own owner token), same due minute
    third = run_now(s, "2026-12-01 10:01:00")
    assert (first, second, third) == ({"once": Outcome.RAN}, {"once": Outcome.ELSEWHERE}, {"once": Outcome.RAN})
    assert calls == ["x", "x"]


def test_scheduled_calls_see_their_due_time():
    from app.Scheduling.RunContext import due_time

    seen = []
    s = Schedule()
    s.call(lambda: seen.append(due_time())).every_minute()
    run_now(s, "2026-12-01 10:00:42")
    assert seen == [datetime(2026, 12, 1, 10, 0, tzinfo=UTC)] and due_time() is None
