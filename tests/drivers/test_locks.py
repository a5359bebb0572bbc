"""The lock store (manager.locks) on every backend: owned, atomic, expiring on the app clock."""
from __future__ import annotations

import threading

from freezegun import freeze_time

from tests.drivers.conftest import Backend


def test_second_acquire_fails_while_held(backend: Backend):
    locks = backend.manager.locks
    assert locks.acquire("k", "a", 60) is True
    assert locks.acquire("k", "b", 60) is False
    assert locks.acquire("k", "a", 60) is False  # not re-entrant: a second copy of one owner is a duplicate
    assert locks.owner("k") == "a"


def test_only_the_owner_releases(backend: Backend):
    locks = backend.manager.locks
    locks.acquire("k", "a", 60)
    assert locks.release("k", "b") is False
    assert locks.owner("k") == "a"
    assert locks.release("k", "a") is True
    assert locks.owner("k") is None
    assert locks.acquire("k", "b", 60) is True


def test_force_release_frees_whoever_holds_it(backend: Backend):
    locks = backend.manager.locks
    locks.acquire("k", "a", 60)
    locks.force_release("k")
    assert locks.acquire("k", "b", 60) is True


def test_lock_expires_after_its_ttl_on_the_app_clock(backend: Backend):
    locks = backend.manager.locks
    with freeze_time() as clock:
        assert locks.acquire("k", "a", 10)
        clock.tick(9)
        assert locks.acquire("k", "b", 10) is False
        clock.tick(2)
        assert locks.owner("k") is None
        assert locks.acquire("k", "b", 10) is True
        assert locks.release("k", "a") is False  # the old owner cannot free the new holder's lock
        assert locks.owner("k") == "b"


def test_lock_without_ttl_is_held_until_released(backend: Backend):
    locks = backend.manager.locks
    with freeze_time() as clock:
        locks.acquire("k", "a", None)
        clock.tick(10**7)
        assert locks.owner("k") == "a"


def test_release_owned_by_prefix_frees_only_matching_owners(backend: Backend):
    locks = backend.manager.locks
    locks.acquire("k1", "unique/database/q_1/u1", 60)
    locks.acquire("k2", "unique/database/q_1/u2", 60)
    locks.acquire("k3", "unique/database/qx1/u3", 60)  # `_` must not act as a wildcard
    assert locks.release_owned_by_prefix("unique/database/q_1/") == 2
    assert locks.owner("k1") is None and locks.owner("k2") is None
    assert locks.owner("k3") == "unique/database/qx1/u3"


def test_concurrent_acquires_have_exactly_one_winner(backend: Backend):
    locks = backend.manager.locks
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def contend(owner: str) -> None:
        barrier.wait()
        if locks.acquire("race", owner, 60):
            wins.append(owner)

    threads = [threading.Thread(target=contend, args=(f"o{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(wins) == 1 and locks.owner("race") == wins[0]
