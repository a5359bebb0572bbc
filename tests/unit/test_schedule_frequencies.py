"""Every frequency builder yields the cron expression Laravel's does, and is due exactly when it says (freezegun)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from freezegun import freeze_time

from app.Scheduling.Clock import Clock
from app.Scheduling.Event import Event
from app.Scheduling.Schedule import Schedule


def noop() -> None:
    pass


def event() -> Event:
    return Schedule().call(noop)


def due_at(ev: Event, when: str) -> bool:
    """Freeze the clock at `when` (UTC) and ask whether the event is due in the current minute."""
    with freeze_time(when):
        return ev.is_due(Clock().now(), "testing")


CASES = [
    # (builder, expression, due at, not due at)
    (lambda e: e.every_minute(), "* * * * *", "2026-12-01 10:07:30", None),
    (lambda e: e.every_two_minutes(), "*/2 * * * *", "2026-12-01 10:08:00", "2026-12-01 10:07:00"),
    (lambda e: e.every_five_minutes(), "*/5 * * * *", "2026-12-01 10:05:59", "2026-12-01 10:06:00"),
    (lambda e: e.every_ten_minutes(), "*/10 * * * *", "2026-12-01 10:10:00", "2026-12-01 10:05:00"),
    (lambda e: e.every_fifteen_minutes(), "*/15 * * * *", "2026-12-01 10:45:00", "2026-12-01 10:40:00"),
    (lambda e: e.every_thirty_minutes(), "*/30 * * * *", "2026-12-01 10:30:00", "2026-12-01 10:15:00"),
    (lambda e: e.hourly(), "0 * * * *", "2026-12-01 10:00:00", "2026-12-01 10:01:00"),
    (lambda e: e.hourly_at(17), "17 * * * *", "2026-12-01 23:17:00", "2026-12-01 23:16:00"),
    (lambda e: e.daily(), "0 0 * * *", "2026-12-01 00:00:00", "2026-12-01 12:00:00"),
    (lambda e: e.daily_at("13:00"), "0 13 * * *", "2026-12-01 13:00:00", "2026-12-01 13:01:00"),
    (lambda e: e.daily_at("8:05"), "5 8 * * *", "2026-12-01 08:05:00", "2026-12-01 08:00:00"),
    (lambda e: e.twice_daily(1, 13), "0 1,13 * * *", "2026-12-01 13:00:00", "2026-12-01 02:00:00"),
    (lambda e: e.twice_daily_at(1, 13, 30), "30 1,13 * * *", "2026-12-01 01:30:00", "2026-12-01 01:00:00"),
    # 2026-12-07 is a Monday, 2026-12-06 a Sunday, 2026-12-05 a Saturday
    (lambda e: e.weekly(), "0 0 * * 0", "2026-12-06 00:00:00", "2026-12-07 00:00:00"),
    (lambda e: e.weekly_on(1, "8:00"), "0 8 * * 1", "2026-12-07 08:00:00", "2026-12-08 08:00:00"),
    (lambda e: e.weekly_on("friday", "17:45"), "45 17 * * 5", "2026-12-04 17:45:00", "2026-12-07 17:45:00"),
    (lambda e: e.monthly(), "0 0 1 * *", "2026-12-01 00:00:00", "2026-12-02 00:00:00"),
    (lambda e: e.monthly_on(15, "6:30"), "30 6 15 * *", "2026-12-15 06:30:00", "2026-12-14 06:30:00"),
    (lambda e: e.quarterly(), "0 0 1 1-12/3 *", "2026-10-01 00:00:00", "2026-11-01 00:00:00"),
    (lambda e: e.yearly(), "0 0 1 1 *", "2027-01-01 00:00:00", "2026-12-01 00:00:00"),
    (lambda e: e.daily_at("9:00").weekdays(), "0 9 * * 1-5", "2026-12-07 09:00:00", "2026-12-06 09:00:00"),
    (lambda e: e.daily_at("9:00").weekends(), "0 9 * * 6,0", "2026-12-05 09:00:00", "2026-12-04 09:00:00"),
    (lambda e: e.hourly().days(1, "wednesday"), "0 * * * 1,3", "2026-12-02 05:00:00", "2026-12-01 05:00:00"),
    (lambda e: e.cron("*/20 9-17 * * 1-5"), "*/20 9-17 * * 1-5", "2026-12-01 17:40:00", "2026-12-01 18:00:00"),
]


@pytest.mark.parametrize("build, expression, due, not_due", CASES, ids=[c[1] + " " + str(i) for i, c in enumerate(CASES)])
def test_frequency_sets_the_expression_and_is_due_at_its_times(build, expression, due, not_due):
    ev = build(event())
    assert ev.expression == expression
    assert due_at(ev, due)
    if not_due is not None:
        assert not due_at(ev, not_due)


def test_next_due_follows_the_expression_from_the_frozen_clock():
    ev = event().daily_at("13:00")
    with freeze_time("2026-12-01 13:00:01"):
        assert ev.next_due(Clock().now()) == datetime(2026, 12, 2, 13, 0, tzinfo=timezone.utc)
    with freeze_time("2026-12-01 12:59:59"):
        assert ev.next_due(Clock().now()) == datetime(2026, 12, 1, 13, 0, tzinfo=timezone.utc)


def test_impossible_dates_are_never_due():
    ev = event().cron("0 0 31 2 *")
    assert ev.next_due(datetime(2026, 1, 1, tzinfo=timezone.utc)) is None
