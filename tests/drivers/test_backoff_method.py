"""Laravel's `public function backoff()`: a method, dispatched fine and asked on the worker per attempt."""
from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time

from app.Queue.events import JobReleased
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.parity_jobs import BackoffMethodJob


def test_backoff_method_is_called_per_attempt_on_the_worker(backend: Backend, witness):
    delays: list[float] = []
    backend.manager.events.listen(JobReleased, lambda e: delays.append(e.delay))
    with freeze_time() as clock:
        job_id = BackoffMethodJob(witness).on_connection(backend.connection).dispatch()
        assert job_id is not None
        assert read_lines(witness) == []  # not called at dispatch
        worker = Worker(backend.manager, WorkerOptions(sleep=0, backoff=(100,)))
        assert worker.run_next_job(backend.connection, ["default"])
        clock.tick(timedelta(seconds=4))
        assert worker.run_next_job(backend.connection, ["default"])
        assert not worker.run_next_job(backend.connection, ["default"])  # 9 s backoff not over yet
        clock.tick(timedelta(seconds=10))
        assert worker.run_next_job(backend.connection, ["default"])
    assert delays == [3, 9]
    assert read_lines(witness) == [f"backoff asked at attempt {n}" for n in (1, 2, 3)]
    assert [r.uuid for r in backend.manager.failed.all()] == [job_id]
