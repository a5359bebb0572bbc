"""The scheduler's claims, overlap mutexes and last results on every store (sqlite, mariadb, redis)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from freezegun import freeze_time

from app.Scheduling.LastResults import RESULT_PREFIX, LastResult, LastResults
from app.Scheduling.Mutexes import ScheduleMutexes, claim_key
from app.Scheduling.Schedule import Schedule
from tests.drivers.conftest import Backend

UTC = timezone.utc
MINUTE = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def noop() -> None:
    pass


def test_one_claim_per_event_and_due_minute_among_racing_servers(backend: Backend):
    schedule = Schedule()
    event = schedule.call(noop).every_minute().on_one_server().name("once")
    other = schedule.call(noop).every_minute().on_one_server().name("other")
    servers = [ScheduleMutexes(backend.manager, owner=f"host-{i}:1") for i in range(6)]
    barrier = threading.Barrier(len(servers))
    won: list[str] = []

    def race(server: ScheduleMutexes) -> None:
        barrier.wait()
        if server.claim(event, MINUTE):
            won.append(server.owner)

    threads = [threading.Thread(target=race, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert servers[0].claimed_by(event, MINUTE) == won[0]
    assert servers[1].claim(event, MINUTE + timedelta(minutes=1))  # the next due minute is a new claim
    assert servers[2].claim(other, MINUTE)  # and so is another event's
    assert claim_key(event, MINUTE) != claim_key(other, MINUTE)


def test_a_claim_outlives_the_catch_up_window(backend: Backend):
    event = Schedule().call(noop).every_minute().on_one_server().name("once")
    a, b = ScheduleMutexes(backend.manager, "a:1"), ScheduleMutexes(backend.manager, "b:1")
    with freeze_time("2026-12-01 10:00:05") as clock:
        assert a.claim(event, MINUTE)
        clock.tick(65 * 60)  # a server catching up an hour late still sees the claim
        assert not b.claim(event, MINUTE)


def test_overlap_mutex_is_owned_and_expires(backend: Backend):
    event = Schedule().call(noop).every_minute().without_overlapping(expires_after=2).name("guarded")
    a, b = ScheduleMutexes(backend.manager, "a:1"), ScheduleMutexes(backend.manager, "b:1")
    with freeze_time("2026-12-01 10:00:00") as clock:
        assert a.lock_overlap(event)
        assert not b.lock_overlap(event)
        b.release_overlap(event)  # not the owner: no effect
        assert a.overlap_holder(event) == "a:1"
        clock.tick(121)
        assert b.lock_overlap(event)
        b.clear_overlap(event)
        assert a.lock_overlap(event)
        a.release_overlap(event)
        assert a.overlap_holder(event) is None


def test_last_results_round_trip_and_malformed_values_are_ignored(backend: Backend):
    schedule = Schedule()
    event = schedule.call(noop).every_minute().name("recorded")
    store = LastResults(backend.manager)
    result = LastResult("failed", int(MINUTE.timestamp()), 1.5e9, 0.25, "RuntimeError: <b>x</b>", "host-a")
    store.record(event, result)
    assert store.get(event) == result
    assert store.many([event]) == {event.mutex_id(): result}
    for junk in ({"status": "pwned", "due": 1, "started": 1, "duration": 0}, ["ok"], "ok",
                 {"status": "ok", "due": "tomorrow", "started": 1, "duration": 0}):
        backend.manager.cache.put(RESULT_PREFIX + event.mutex_id(), junk)
        assert store.get(event) is None
