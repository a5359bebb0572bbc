"""The public event API: Queue.before/after/failing/exception_occurred/timed_out/looping/stopping."""
from __future__ import annotations

from app.Queue.QueueEvents import Queue, QueueEvent, WorkerEvent
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.fixtures.jobs import FailingJob, RecordJob, SleepJob


def work(qm, **options) -> int:
    return Worker(qm, WorkerOptions(**{"stop_when_empty": True, "sleep": 0, **options})).daemon("database", ["default", "low"])


def test_before_and_after_carry_id_class_queue_and_connection(queue_env, witness):
    seen: list[QueueEvent] = []
    Queue.before(seen.append)
    Queue.after(seen.append)
    job_id = RecordJob(witness).on_queue("low").dispatch()
    work(queue_env)
    assert [(e.name, e.job_id, e.job_class, e.queue, e.connection, e.attempts) for e in seen] == [
        ("before", job_id, "RecordJob", "low", "database", 1), ("after", job_id, "RecordJob", "low", "database", 1)]
    assert seen[1].runtime is not None and seen[1].exception is None and seen[1].job.job_id == job_id


def test_exception_occurred_each_attempt_then_failing_once(queue_env, witness):
    exceptions: list[QueueEvent] = []
    failing: list[QueueEvent] = []
    Queue.exception_occurred(exceptions.append)
    Queue.failing(failing.append)
    job_id = FailingJob(witness, "bad thing").dispatch()
    work(queue_env)
    assert [(e.attempts, str(e.exception)) for e in exceptions] == [(1, "bad thing"), (2, "bad thing"), (3, "bad thing")]
    assert [(e.name, e.job_id, e.job_class, e.queue, e.connection, str(e.exception)) for e in failing] == [
        ("failing", job_id, "FailingJob", "default", "database", "bad thing")]


def test_timed_out_fires_for_a_timeout_only(queue_env, witness):
    timed_out: list[QueueEvent] = []
    Queue.timed_out(timed_out.append)
    FailingJob(witness).dispatch()
    job_id = SleepJob(witness, 5).dispatch()
    work(queue_env, timeout=0.3, max_tries=1)
    assert [(e.name, e.job_id, e.job_class, type(e.exception).__name__) for e in timed_out] == [
        ("timed_out", job_id, "SleepJob", "JobTimeoutError")]


def test_looping_and_stopping(queue_env, witness):
    worker_events: list[WorkerEvent] = []
    Queue.looping(worker_events.append)
    Queue.stopping(worker_events.append)
    RecordJob(witness).dispatch()
    assert work(queue_env) == 0
    names = [e.name for e in worker_events]
    assert names[0] == "looping" and names.count("looping") == 2 and names[-1] == "stopping"
    assert worker_events[0].connection == "database" and worker_events[0].queues == ("default", "low")
    assert (worker_events[-1].status, worker_events[-1].reason) == (0, "empty")
