"""pytest fixtures for applications: `queue_fake` and `bus_fake`.

Enable in your conftest.py with `pytest_plugins = ["app.Testing.pytest_plugin"]`.
Every fake still installed when a test ends (for example a seed-style `QueueFake()`
without `restore()`) is undone, so fakes never leak into the next test.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from app.Testing.JobTesting import BusFake, QueueFake, restore_all
from app.Queue.QueueManager import manager


@pytest.fixture
def queue_fake() -> Iterator[QueueFake]:
    """Record pushed jobs instead of queueing them; the real queue is back after the test."""
    with QueueFake() as fake:
        yield fake


@pytest.fixture
def bus_fake() -> Iterator[BusFake]:
    """Like queue_fake, with Laravel's Bus::fake assertion names (assert_dispatched, ...)."""
    with BusFake() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _restore_queue_fakes() -> Iterator[None]:
    yield
    restore_all(manager())
