"""Seed samples run on SQLite and on Redis, dispatched through app.Queue.aio and run by a real (in-process) worker."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import pytest

from tests.async_support import run  # noqa: F401  (re-exported for the sample tests)
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401  (autouse fixture)
from tests.drivers.conftest import BACKEND_SETUP, Backend
from tests.fixtures.seeds import reader

SEED_BACKENDS = ["sqlite", "redis"]


@pytest.fixture(params=SEED_BACKENDS)
def seed_backend(request: pytest.FixtureRequest, queue_env: Any, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The store the samples dispatch to (QUEUE_CONNECTION of the run)."""
    return BACKEND_SETUP[request.param](request, queue_env, monkeypatch)


@pytest.fixture(autouse=True)
def reader_calls() -> Iterator[list[tuple[Any, ...]]]:
    """The reader's helpers record their calls here; empty for each test."""
    reader.CALLS.clear()
    yield reader.CALLS
    reader.CALLS.clear()




def work_queues(backend: Backend, queues: Sequence[str] = ("default",), **options: Any) -> None:
    """Run a real worker on the backend's connection until nothing is available now."""
    work(backend.manager, list(queues), connection=backend.connection, **options)
