"""Worker-side status writes are buffered, flushed within FLUSH_INTERVAL and on stop."""
from __future__ import annotations

import time

from app.Jobs.JobState import JobState
from app.Queue.Cache.DatabaseStore import DatabaseStore
from app.Queue.JobStatuses import FLUSH_INTERVAL, StatusRepository


def test_buffered_state_reaches_other_readers_within_the_flush_interval(queue_env):
    writer = StatusRepository(DatabaseStore(queue_env.engine()))
    reader = StatusRepository(DatabaseStore(queue_env.engine()))
    writer.start_buffering()
    try:
        writer.mark("job-1", JobState.PROCESSING, attempts=1)
        assert writer.get("job-1").state is JobState.PROCESSING  # the writer sees its own buffer at once
        deadline = time.monotonic() + 20 * FLUSH_INTERVAL
        while reader.get("job-1") is None and time.monotonic() < deadline:
            time.sleep(FLUSH_INTERVAL / 4)
        assert reader.get("job-1").state is JobState.PROCESSING
    finally:
        writer.stop_buffering()


def test_stop_buffering_flushes_the_latest_state_only(queue_env):
    store = DatabaseStore(queue_env.engine())
    writer = StatusRepository(store)
    writer.start_buffering()
    writer.mark("job-2", JobState.PROCESSING, attempts=1)
    writer.mark("job-2", JobState.COMPLETED, attempts=1)
    writer.stop_buffering()
    status = StatusRepository(store).get("job-2")
    assert (status.state, status.progress, status.attempts) == (JobState.COMPLETED, 100.0, 1)


def test_unbuffered_writes_are_immediate(queue_env):
    store = DatabaseStore(queue_env.engine())
    StatusRepository(store).mark("job-3", JobState.PENDING)
    assert StatusRepository(store).get("job-3").state is JobState.PENDING


def test_a_field_added_while_a_flush_is_writing_the_record_is_added_to_that_record(queue_env):
    """annotate() during a flush must not rebuild the record from the store's older copy: a worker's
    completion note (done_sig) once turned a cancelled member's status back into 'pending'."""
    import threading

    store = DatabaseStore(queue_env.engine())
    StatusRepository(store).mark("job-4", JobState.PENDING)
    writing, release = threading.Event(), threading.Event()
    real_put_many = store.put_many

    def slow_put_many(items):  # the flush has taken the buffer; the store still holds 'pending'
        writing.set()
        release.wait(10)
        real_put_many(items)

    store.put_many = slow_put_many  # type: ignore[method-assign]
    writer = StatusRepository(store)
    writer.start_buffering()
    try:
        writer.mark("job-4", JobState.CANCELLED, attempts=1)
        flusher = threading.Thread(target=writer.flush)
        flusher.start()
        assert writing.wait(10)
        assert writer.get("job-4").state is JobState.CANCELLED  # still read back while it is being written
        writer.annotate("job-4", done_sig="abc")
        release.set()
        flusher.join(10)
    finally:
        release.set()
        writer.stop_buffering()
    record = StatusRepository(DatabaseStore(queue_env.engine())).raw("job-4")
    assert (record["state"], record.get("done_sig")) == ("cancelled", "abc")
