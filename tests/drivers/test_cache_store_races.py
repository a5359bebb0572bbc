"""The cache store's atomic operations under racing threads, on every store: one `add` wins, no increment is lost,
and `flush_prefix` treats SQL wildcards as plain characters."""
from __future__ import annotations

import threading
from typing import Callable

from tests.drivers.conftest import Backend


def _race(threads: int, body: Callable[[], None], timeout: float = 60) -> None:
    barrier = threading.Barrier(threads)

    def run() -> None:
        barrier.wait()
        body()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(timeout)


def test_cache_add_has_one_winner_among_racing_threads(backend: Backend):
    store = backend.manager.cache
    wins: list[bool] = []
    _race(6, lambda: wins.append(store.add("lock:x", "me", ttl=60)))
    assert sorted(wins) == [False] * 5 + [True]


def test_cache_increment_counts_every_concurrent_call(backend: Backend):
    store = backend.manager.cache

    def bump() -> None:
        for _ in range(25):
            store.increment("hits", 1, ttl=60)

    _race(4, bump)
    assert store.get("hits") == 100


def test_cache_flush_prefix_treats_wildcards_literally(backend: Backend):
    store = backend.manager.cache
    for key in ("a_b:1", "a_b:2", "axb:1", "a%b:1", "a*b:1"):
        store.put(key, 1)
    assert store.flush_prefix("a_b:") == 2
    assert store.get("axb:1") == 1 and store.get("a%b:1") == 1 and store.get("a*b:1") == 1
