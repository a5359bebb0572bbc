"""`queue:retry --range` streams the matching row ids: a range of 10^11 ids costs what it matches.

Before, the range was expanded into a list of strings first, so `--range=1-99999999999`
ran for minutes and ended in MemoryError. Covered for the SQL provider (sqlite, mariadb)
and the Redis failed-job provider (QUEUE_FAILED_DRIVER=redis).
"""
from __future__ import annotations

import pytest

from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob
from tests.support import artisan


@pytest.fixture
def failed_store(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    if backend.name == "redis":  # exercise the Redis provider's paging too
        from config import env as env_mod

        monkeypatch.setenv("QUEUE_FAILED_DRIVER", "redis")
        env_mod.reload()
        backend.manager.reset()
        backend.env = {**backend.env, "QUEUE_FAILED_DRIVER": "redis"}
    return backend


def _fail_jobs(backend: Backend, count: int) -> list[int]:
    qm = backend.manager
    for _ in range(count):
        job_uuid, payload = qm.codec.create(RecordJob("/dev/null"), "default", backend.connection)
        qm.failed.log(backend.connection, "default", payload, "RuntimeError: boom", job_uuid)
    return sorted(r.id for r in qm.failed.all())


def test_a_huge_range_retries_what_exists_without_listing_every_id(failed_store: Backend):
    ids = _fail_jobs(failed_store, 3)
    result = artisan("queue:retry", "--range=1-99999999999", env=failed_store.env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Pushed 3 failed job(s)" in result.stdout
    assert failed_store.manager.failed.all() == [] and len(ids) == 3
    assert failed_store.manager.size("default", failed_store.connection) == 3


def test_a_range_pages_through_more_rows_than_one_page(failed_store: Backend):
    ids = _fail_jobs(failed_store, 7)
    streamed = list(failed_store.manager.failed.ids_between(ids[1], ids[-2], page=2))
    assert streamed == [str(i) for i in ids[1:-1]]


@pytest.mark.parametrize("text, needle", [
    ("1-99999999999999999999999", "--range ends must be at most"),
    ("5-1", "--range must look like 1-5"),
])
def test_a_range_beyond_the_id_column_is_one_line(failed_store: Backend, text: str, needle: str):
    result = artisan("queue:retry", f"--range={text}", env=failed_store.env)
    lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
    assert result.returncode == 1 and len(lines) == 1 and needle in lines[0], lines


def test_an_empty_range_is_a_clear_error(failed_store: Backend):
    result = artisan("queue:retry", "--range=1-99999999999", env=failed_store.env)
    assert result.returncode == 1 and "no failed job matches" in result.stderr
