"""schedule:work's loop: every minute once, in order; slow runs are caught up; clock jumps never repeat a minute."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.Scheduling.ScheduleWorker import MAX_CATCH_UP_MINUTES, ScheduleWorker

UTC = timezone.utc
START = datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC)


class SteppedClock:
    """A clock tests move by hand; sleep() advances it, as real time would pass."""

    speed = 1.0

    def __init__(self, t: datetime) -> None:
        self.t = t
        self.stop: datetime | None = None

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def stop_at(self) -> datetime | None:
        return self.stop


def minute(h: int, m: int) -> datetime:
    return datetime(2026, 12, 1, h, m, tzinfo=UTC)


def run_loop(clock: SteppedClock, until: datetime, on_minute=None) -> list[datetime]:
    ran: list[datetime] = []

    def run_minute(m: datetime) -> None:
        ran.append(m)
        if on_minute:
            on_minute(m, clock)

    ScheduleWorker(clock, run_minute, lambda: clock.t >= until).run()  # type: ignore[arg-type]
    return ran


def test_runs_each_minute_at_its_start_but_not_the_minute_it_started_in():
    clock = SteppedClock(START)
    ran = run_loop(clock, minute(10, 5) + timedelta(seconds=1))
    assert ran == [minute(10, m) for m in range(1, 6)]


def test_a_slow_minute_is_followed_by_every_minute_it_overran_in_order():
    def slow(m: datetime, clock: SteppedClock) -> None:
        if m == minute(10, 2):
            clock.t += timedelta(seconds=200)  # the 10:02 run ends at 10:05:20

    clock = SteppedClock(START)
    ran = run_loop(clock, minute(10, 8) + timedelta(seconds=1), slow)
    assert ran == [minute(10, m) for m in range(1, 9)]


def test_a_clock_that_goes_back_never_repeats_a_minute():
    def jump_back(m: datetime, clock: SteppedClock) -> None:
        if m == minute(10, 3):
            clock.t -= timedelta(minutes=2)

    clock = SteppedClock(START)
    ran = run_loop(clock, minute(10, 6) + timedelta(seconds=1), jump_back)
    assert ran == [minute(10, m) for m in range(1, 7)]


def test_a_jump_beyond_the_catch_up_window_runs_only_the_current_minute(caplog):
    def suspend(m: datetime, clock: SteppedClock) -> None:
        if m == minute(10, 1):
            clock.t += timedelta(minutes=MAX_CATCH_UP_MINUTES + 30)

    clock = SteppedClock(START)
    ran = run_loop(clock, minute(11, 33) + timedelta(seconds=1), suspend)
    assert ran == [minute(10, 1), minute(11, 31), minute(11, 32), minute(11, 33)]
    assert "jumped 90 minutes ahead" in caplog.text


def test_the_test_clock_stop_minute_ends_the_loop():
    clock = SteppedClock(START)
    clock.stop = minute(10, 3)
    ran = run_loop(clock, minute(12, 0))
    assert ran == [minute(10, 1), minute(10, 2), minute(10, 3)]
    assert clock.t < minute(10, 5)


def test_the_test_clock_scales_real_time_from_its_anchor():
    import json

    from freezegun import freeze_time

    from app.Scheduling.Clock import clock_from_setting

    origin = minute(9, 0).timestamp()
    with freeze_time("2026-12-01 10:00:00") as frozen:
        setting = json.dumps({"origin": origin, "anchor": frozen().timestamp(), "speed": 60, "stop": origin + 300})
        clock = clock_from_setting(setting, "testing")
        assert clock.now() == minute(9, 0)
        frozen.tick(2.5)
        assert clock.now() == minute(9, 2) + timedelta(seconds=30)
        assert clock.stop_at() == minute(9, 5)
    assert clock_from_setting(None, "production").speed == 1.0
