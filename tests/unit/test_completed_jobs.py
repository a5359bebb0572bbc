"""Completed jobs are recorded by the worker's own events, kept for the completed trim, then pruned."""
from __future__ import annotations

from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from app.Horizon.CompletedJobStore import CompletedJobStore
from app.Horizon.Paging import PageRequest
from app.Horizon.settings import completed_trim_minutes
from app.Horizon.tables import completed_jobs
from app.Queue.errors import ConfigurationError
from config import env as env_mod
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 - fixture
from tests.fixtures.dashboard_jobs import CardJob, TaggedJob, VaultJob


def _rows(qm) -> int:
    with qm.engine().connect() as conn:
        return int(conn.execute(select(func.count()).select_from(completed_jobs)).scalar_one())


def test_a_worker_records_each_completed_job_with_redacted_data(queue_env, witness: Path):
    ids = [TaggedJob.dispatch(witness, n, ["x"]) for n in range(3)]
    vault = VaultJob.dispatch(witness, "s3cret")
    card = CardJob.dispatch(witness, "o-9", "4000000000000002")
    work(queue_env)
    store = CompletedJobStore(queue_env.engine())
    page = store.page(PageRequest(), since=0)
    assert page.total == 5 and {i["id"] for i in page.items} == {*ids, vault, card}
    first = store.find(ids[0])
    assert first is not None and first["tags"] == ["user:0", "x"] and first["data"]["n"] == 0 and first["attempts"] == 1
    assert store.find(vault)["data"] == "[encrypted]"
    data = store.find(card)["data"]
    assert (data["order"], data["card"]) == ("o-9", "[sensitive]") and "4000000000000002" not in str(data)


def test_completed_jobs_older_than_the_trim_are_pruned_by_the_writers(queue_env, witness: Path, monkeypatch):
    monkeypatch.setenv("QUEUE_COMPLETED_TRIM_MINUTES", "5")
    env_mod.reload()
    queue_env.reset()
    with freeze_time("2026-01-01 10:00:00") as frozen:
        TaggedJob.dispatch(witness, 1)
        work(queue_env)
        assert _rows(queue_env) == 1
        frozen.tick(6 * 60)  # past the trim, and past the prune interval (freezegun moves monotonic too)
        TaggedJob.dispatch(witness, 2)
        work(queue_env)
    store = CompletedJobStore(queue_env.engine())
    assert _rows(queue_env) == 1 and store.page(PageRequest(), since=0).items[0]["tags"] == ["user:2"]


def test_recording_can_be_turned_off(queue_env, witness: Path, monkeypatch):
    monkeypatch.setenv("QUEUE_RECORD_COMPLETED", "0")
    env_mod.reload()
    queue_env.reset()
    TaggedJob.dispatch(witness, 1)
    work(queue_env)
    assert _rows(queue_env) == 0


@pytest.mark.parametrize("raw", ["soon", "-1"])
def test_a_bad_trim_setting_is_one_clear_error(monkeypatch, raw: str):
    monkeypatch.setenv("QUEUE_COMPLETED_TRIM_MINUTES", raw)
    env_mod.reload()
    with pytest.raises(ConfigurationError, match="QUEUE_COMPLETED_TRIM_MINUTES"):
        completed_trim_minutes()


def test_the_default_trim_is_horizons_sixty_minutes():
    assert completed_trim_minutes() == 60.0


def test_a_job_known_only_by_its_status_is_shown_with_a_note(queue_env):
    from app.Jobs.JobState import JobState
    from tests.dashboard_support import client

    queue_env.statuses.mark("0b0e7a1c-0000-4000-8000-00000000abcd", JobState.COMPLETED, 2)
    found = client().get("/horizon/api/jobs/0b0e7a1c-0000-4000-8000-00000000abcd").json()
    assert (found["status"], found["attempts"]) == ("completed", 2) and "being recorded" in found["note"]
    assert client().get("/horizon/api/jobs/0b0e7a1c-0000-4000-8000-00000000ffff").status_code == 404


def test_a_job_run_outside_a_worker_loop_is_recorded_at_once(queue_env, witness: Path):
    TaggedJob(witness, 5).on_connection("sync").dispatch()  # the sync connection runs it here, now
    page = CompletedJobStore(queue_env.engine()).page(PageRequest(), since=0)
    assert page.total == 1 and page.items[0]["tags"] == ["user:5"]


def test_the_trim_follows_config_horizon_when_it_exists(monkeypatch):
    import sys
    import types

    module = types.ModuleType("config.horizon")
    module.settings = lambda: {"trim": {"completed": 15}}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "config.horizon", module)
    assert completed_trim_minutes() == 15.0
    monkeypatch.setenv("QUEUE_COMPLETED_TRIM_MINUTES", "30")
    env_mod.reload()
    assert completed_trim_minutes() == 30.0
