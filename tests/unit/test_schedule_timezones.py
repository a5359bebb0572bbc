"""Time zones and DST: a fixed-time event runs once on change days (as cron does), a wildcard one keeps its pace."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from app.Scheduling.Clock import Clock
from app.Scheduling.Event import Event
from app.Scheduling.Schedule import Schedule

UTC = timezone.utc
BERLIN = "Europe/Berlin"  # 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET
NEW_YORK = "America/New_York"  # 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST


def noop() -> None:
    pass


def event(tz: str) -> Event:
    return Schedule().call(noop).timezone(tz)


def due_minutes(ev: Event, start: datetime, hours: int) -> list[datetime]:
    """Every UTC minute in [start, start + hours) in which the event is due, asked with the clock frozen there."""
    found = []
    with freeze_time(start) as frozen:
        for i in range(hours * 60):
            minute = start + timedelta(minutes=i)
            frozen.move_to(minute)
            if ev.is_due(Clock().now(), "testing"):
                found.append(minute)
    return found


def walk_next_due(ev: Event, start: datetime, hours: int) -> list[datetime]:
    """The same minutes, found by following next_due from `start`."""
    found, cursor, end = [], start - timedelta(minutes=1), start + timedelta(hours=hours)
    while (nxt := ev.next_due(cursor)) is not None and nxt < end:
        found.append(nxt)
        cursor = nxt
    return found


def local(minutes: list[datetime], tz: str) -> list[str]:
    from zoneinfo import ZoneInfo

    return [m.astimezone(ZoneInfo(tz)).strftime("%H:%M%z") for m in minutes]


def test_timezone_moves_the_due_time():
    ev = event(BERLIN).daily_at("13:00")
    with freeze_time("2026-12-01 12:00:00"):  # 13:00 CET
        assert ev.is_due(Clock().now(), "testing")
    with freeze_time("2026-07-01 11:00:00"):  # 13:00 CEST
        assert ev.is_due(Clock().now(), "testing")
    with freeze_time("2026-12-01 13:00:00"):
        assert not ev.is_due(Clock().now(), "testing")


def test_a_0230_job_runs_once_at_0300_on_the_spring_forward_day():
    ev = event(BERLIN).daily_at("2:30")
    minutes = due_minutes(ev, datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 4)
    assert local(minutes, BERLIN) == ["03:00+0200"]
    assert walk_next_due(ev, datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 4) == minutes


def test_a_job_in_the_repeated_hour_runs_once_on_the_fall_back_day():
    ev = event(NEW_YORK).daily_at("1:30")
    start = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT
    minutes = due_minutes(ev, start, 4)
    assert local(minutes, NEW_YORK) == ["01:30-0400"]
    assert walk_next_due(ev, start, 4) == minutes


def test_wildcard_events_keep_their_real_time_pace_across_both_changes():
    spring = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 CET
    ev = event(BERLIN).every_fifteen_minutes()
    assert local(due_minutes(ev, spring, 2), BERLIN) == ["01:00+0100", "01:15+0100", "01:30+0100", "01:45+0100",
                                                         "03:00+0200", "03:15+0200", "03:30+0200", "03:45+0200"]
    fall = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    hourly = event(NEW_YORK).hourly_at(30)  # the hour field is `*`: a wildcard entry, as cron sees it
    assert local(due_minutes(hourly, fall, 3), NEW_YORK) == ["01:30-0400", "01:30-0500", "02:30-0500"]


def test_an_hourly_list_of_fixed_hours_skips_the_missing_hour_once_and_the_repeat():
    ev = event(NEW_YORK).cron("0 1,2,3 * * *")
    spring = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST
    assert local(due_minutes(ev, spring, 4), NEW_YORK) == ["01:00-0500", "03:00-0400"]  # 02:00 folds into 03:00
    fall = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert local(due_minutes(ev, fall, 5), NEW_YORK) == ["01:00-0400", "02:00-0500", "03:00-0500"]


@pytest.mark.parametrize("tz, start", [
    (BERLIN, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)), (BERLIN, datetime(2026, 10, 24, 23, 0, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 14, 0, tzinfo=UTC)),  # a 30-minute DST shift
])
@pytest.mark.parametrize("expression", ["30 2 * * *", "*/7 * * * *", "15 * * * *", "0 3 * * *"])
def test_next_due_agrees_with_is_due_around_transitions(tz, start, expression):
    ev = Schedule().call(noop).cron(expression).timezone(tz)
    scanned = [start + timedelta(minutes=i) for i in range(4 * 60) if ev.cron_expression().is_due(start + timedelta(minutes=i))]
    assert walk_next_due(ev, start, 4) == scanned
    assert scanned  # every expression here fires within these four hours


def test_schedule_timezone_setting_is_the_default_for_new_events(monkeypatch):
    from app.Scheduling.ScheduleLoader import load_schedule

    monkeypatch.setenv("SCHEDULE_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("SCHEDULE_ROUTES", "tests.fixtures.schedules:console")
    monkeypatch.setenv("SCHEDULE_WITNESS", "/dev/null")
    schedule = load_schedule()
    assert [e.tz_name for e in schedule.events] == ["Asia/Tokyo", "Asia/Tokyo", BERLIN, "Asia/Tokyo"]
