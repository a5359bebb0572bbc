"""Dispatching (DESIGN §2): ids, fluent options, conditional and immediate dispatch, the manager API."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from app.Jobs.Job import Job, JobState
from app.Queue.errors import ConfigurationError, QueueFullError
from app.Queue.QueueManager import QueueManager, adispatch, dispatch, manager
from tests.conftest import read_lines
from tests.core_helpers import failed_rows, job_rows, keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.fixtures.core_jobs import ControlJob, ListTagsJob, PolicyJob, ProgressJob, SeedStyleJob
from tests.fixtures.jobs import FailingJob, RecordJob

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_dispatch_returns_a_uuid4_and_stores_one_row_on_the_default_queue(queue_env, witness):
    job_id = RecordJob.dispatch(str(witness), tag="kw")
    assert uuid.UUID(job_id).version == 4
    (row,) = job_rows(queue_env)
    assert (row["queue"], row["attempts"], row["reserved_at"], row["priority"]) == ("default", 0, None, 0)
    work(queue_env)
    assert read_lines(witness) == [f"kw {job_id} 1"]


@freeze_time(T0)
def test_fluent_options_set_queue_connection_delay_and_priority(queue_env, witness):
    job = RecordJob(str(witness)).on_queue("high").on_connection("database").delay(30).with_priority(10)
    job_id = job.dispatch()
    (row,) = job_rows(queue_env)
    assert (row["queue"], row["priority"], row["available_at"]) == ("high", 10, int(T0.timestamp()) + 30)
    assert job.job_id == job_id


@freeze_time(T0)
@pytest.mark.parametrize("when", [
    45, 45.0, timedelta(seconds=45), T0 + timedelta(seconds=45), (T0 + timedelta(seconds=45)).replace(tzinfo=None),
    datetime(2026, 1, 1, 14, 0, 45, tzinfo=timezone(timedelta(hours=2))),
])
def test_delay_until_takes_seconds_timedelta_or_datetime(queue_env, witness, when):
    RecordJob(str(witness)).delay_until(when).dispatch()
    assert job_rows(queue_env)[0]["available_at"] == int(T0.timestamp()) + 45


def test_delay_rejects_values_that_are_not_times(witness):
    with pytest.raises(TypeError):
        RecordJob(str(witness)).delay("soon")
    with pytest.raises(TypeError):
        RecordJob(str(witness)).with_priority("high")


def test_seed_style_instance_attributes_set_queue_delay_and_max_tries(queue_env, witness):
    job_id = SeedStyleJob.dispatch(str(witness), "a@b.c")
    (row,) = job_rows(queue_env)
    assert row["queue"] == "emails"
    assert '"maxTries":3' in row["payload"]
    work(queue_env, ["emails"])
    assert read_lines(witness) == [f"seed a@b.c {job_id} 1"]


def test_class_attributes_choose_queue_connection_and_priority(queue_env, witness):
    PolicyJob.dispatch(str(witness))
    assert (job_rows(queue_env)[0]["queue"], job_rows(queue_env)[0]["priority"]) == ("policy", 3)


def test_tags_may_be_a_plain_list_attribute(queue_env):
    ListTagsJob.dispatch()
    assert '"tags":["billing","nightly"]' in job_rows(queue_env)[0]["payload"]


@pytest.mark.parametrize("condition", [False, 0, None, lambda: False])
def test_dispatch_if_false_returns_none_and_stores_nothing(queue_env, witness, condition):
    assert RecordJob.dispatch_if(condition, str(witness)) is None
    assert RecordJob(str(witness)).dispatch_if(condition) is None
    assert RecordJob.dispatch_unless(True, str(witness)) is None
    assert job_rows(queue_env) == []


def test_dispatch_if_true_and_dispatch_unless_false_queue_the_job(queue_env, witness):
    a = RecordJob.dispatch_if(True, str(witness), "a")
    b = RecordJob.dispatch_unless(lambda: False, str(witness), "b")
    c = RecordJob(str(witness), "c").dispatch_unless(False)
    assert all(uuid.UUID(x) for x in (a, b, c))
    assert len(job_rows(queue_env)) == 3


def test_dispatch_now_runs_in_this_process_without_storing_and_propagates_errors(queue_env, witness):
    RecordJob.dispatch_now(str(witness), "now")
    (line,) = read_lines(witness)
    assert line.startswith("now ") and line.endswith(" 1")
    assert job_rows(queue_env) == []
    with pytest.raises(RuntimeError, match="boom"):
        FailingJob.dispatch_now(str(witness))


def test_manager_push_later_bulk_and_module_dispatch_return_ids(queue_env, witness):
    qm = manager()
    with freeze_time(T0):
        a = qm.push(RecordJob(str(witness)), queue="one")
        b = qm.later(timedelta(seconds=20), RecordJob(str(witness)), queue="one")
        ids = qm.bulk([RecordJob(str(witness), str(i)) for i in range(3)], queue="two")
        d = dispatch(RecordJob(str(witness)), queue="two")
        rows = job_rows(queue_env)
        assert len({a, b, d, *ids}) == 6 and all(ids)
        assert [r["queue"] for r in rows] == ["one", "one", "two", "two", "two", "two"]
        assert rows[1]["available_at"] == int(T0.timestamp()) + 20
        assert qm.size("one") == 2 and qm.size("two") == 4
        stats = QueueManager.get_stats("one")
        assert (stats.pending, stats.delayed, stats.reserved, stats.failed, stats.size) == (1, 1, 0, 0, 2)


def test_get_stats_counts_reserved_and_failed(queue_env, witness):
    FailingJob.dispatch(str(witness))
    RecordJob.dispatch(str(witness))
    reserved = queue_env.connection().pop("default", "test-worker")
    assert reserved is not None
    stats = queue_env.get_stats("default")
    assert (stats.pending, stats.reserved, stats.processing) == (1, 1, 1)
    assert queue_env.size("default") == 2  # size counts reserved jobs too (Laravel)
    queue_env.failed.log("database", "default", reserved.payload, "RuntimeError: x", "u-1")
    assert queue_env.get_stats("default").failed == 1


def test_async_twins_push_later_bulk_size_and_dispatch(queue_env, witness):
    qm = manager()

    async def main() -> tuple:
        a = await qm.apush(RecordJob(str(witness)))
        b = await qm.alater(60, RecordJob(str(witness)))
        ids = await qm.abulk([RecordJob(str(witness)), RecordJob(str(witness))])
        d = await adispatch(RecordJob(str(witness)))
        return a, b, ids, d, await qm.asize("default")

    a, b, ids, d, size = asyncio.run(main())
    assert size == 5 and len({a, b, d, *ids}) == 5
    assert qm.get_stats("default").delayed == 1


def test_define_queue_routes_connection_and_caps_capacity(queue_env, witness):
    definition = queue_env.define_queue("capped", connection="database", max_jobs=2, retry_after=5)
    assert definition.max_jobs == 2 and queue_env.retry_after("capped", 30) == 5
    RecordJob(str(witness)).on_queue("capped").dispatch()
    RecordJob(str(witness)).on_queue("capped").dispatch()
    with pytest.raises(QueueFullError, match="capped"):
        RecordJob(str(witness)).on_queue("capped").dispatch()
    assert queue_env.size("capped") == 2
    with pytest.raises(ValueError):
        queue_env.define_queue("bad", max_jobs=0)


def test_define_queue_connection_sync_runs_jobs_inline(queue_env, witness):
    queue_env.define_queue("inline", connection="sync")
    RecordJob(str(witness), "inline").on_queue("inline").dispatch()
    assert len(read_lines(witness)) == 1 and job_rows(queue_env) == []


def test_unknown_connection_is_refused_before_anything_is_stored(queue_env, witness):
    with pytest.raises(ConfigurationError, match="unknown queue connection 'nosuch'"):
        RecordJob(str(witness)).on_connection("nosuch").dispatch()
    assert job_rows(queue_env) == []


def test_status_goes_pending_processing_completed_with_progress(queue_env, witness):
    job_id = ProgressJob.dispatch(str(witness))
    status = Job.status(job_id)
    assert (status.state, status.attempts, status.progress) == (JobState.PENDING, 0, 0)
    work(queue_env)
    assert read_lines(witness) == ["processing 1 40"]
    status = Job.status(job_id)
    assert (status.state, status.attempts, status.progress) == (JobState.COMPLETED, 1, 100)
    assert Job.status("no-such-id") is None


def test_status_is_retrying_after_a_release_then_failed(queue_env, witness):
    with freeze_time(T0) as clock:
        job_id = ControlJob.dispatch(str(witness), "release")
        work(queue_env)
        assert Job.status(job_id).state is JobState.RETRYING
        clock.tick(16)
        work(queue_env)
        assert Job.status(job_id).state is JobState.COMPLETED
        fail_id = ControlJob.dispatch(str(witness), "fail")
        work(queue_env)
        status = Job.status(fail_id)
        assert status.state is JobState.FAILED and "gave up on purpose" in status.error
    assert len(failed_rows(queue_env)) == 1


def test_set_progress_rejects_values_outside_0_to_100(witness):
    with pytest.raises(ValueError):
        ProgressJob(str(witness)).set_progress(101)


@freeze_time(T0)
def test_seed_style_self_delay_in_init_delays_the_job(queue_env, witness):
    from tests.fixtures.core_jobs import SeedDelayJob

    SeedDelayJob.dispatch(str(witness))
    assert job_rows(queue_env)[0]["available_at"] == int(T0.timestamp()) + 30


def test_dispatch_now_awaits_an_async_handle_and_returns_its_result(queue_env):
    from tests.fixtures.core_jobs import AsyncResultJob

    assert AsyncResultJob.dispatch_now() == "async result 1"
    assert job_rows(queue_env) == []


def test_size_and_stats_read_a_defined_queue_on_its_own_connection(queue_env, witness, monkeypatch):
    monkeypatch.setenv("QUEUE_CONNECTION", "sync")
    queue_env.reset()
    queue_env.define_queue("stored", connection="database")
    RecordJob(str(witness)).on_queue("stored").dispatch()
    assert read_lines(witness) == []  # stored, not run inline
    assert queue_env.size("stored") == 1
    assert queue_env.get_stats("stored").pending == 1
    assert asyncio.run(queue_env.asize("stored")) == 1


def test_status_is_kept_for_queue_status_ttl_then_forgotten(queue_env, witness, monkeypatch):
    monkeypatch.setenv("QUEUE_STATUS_TTL", "600")
    queue_env.reset()
    with freeze_time(T0) as clock:
        job_id = RecordJob.dispatch(str(witness))
        clock.tick(599)
        assert Job.status(job_id).state is JobState.PENDING
        clock.tick(2)
        assert Job.status(job_id) is None
    monkeypatch.delenv("QUEUE_STATUS_TTL")
    queue_env.reset()
    with freeze_time(T0) as clock:
        default_id = RecordJob.dispatch(str(witness))
        clock.tick(86399)
        assert Job.status(default_id) is not None
        clock.tick(2)
        assert Job.status(default_id) is None


def test_dispatch_from_many_threads_stores_every_job_once(queue_env, witness):
    from concurrent.futures import ThreadPoolExecutor

    queue_env.reset()  # let the threads race to build the engine, codec and driver

    def dispatch_some(i: int) -> list[str]:
        return [RecordJob.dispatch(str(witness), str(i)) for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        ids = [job_id for chunk in pool.map(dispatch_some, range(8)) for job_id in chunk]
    assert len(set(ids)) == 200 and len(job_rows(queue_env)) == 200
