"""The three ways in (examples/), each run end to end with a real worker process.

1. the skeleton as the app; 2. a FastAPI app with its own package; 3. a Django project whose
worker boots Django through QUEUE_BOOTSTRAP and whose job writes through the ORM.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.Jobs.Job import Job, JobState
from tests.support import ROOT, artisan, start_worker, stop, wait_until, worker_env

EXAMPLES = ROOT / "examples"


def _pythonpath(*extra: Path) -> str:
    return os.pathsep.join(str(p) for p in (ROOT, *extra))


def test_skeleton_example_dispatches_and_waits_for_a_real_worker(queue_env, tmp_path):
    worker = start_worker(["--queue=emails", "--sleep=0.05"], log=tmp_path / "worker.log")
    try:
        result = subprocess.run([sys.executable, str(EXAMPLES / "skeleton" / "dispatch_and_wait.py")], cwd=ROOT,
                                env=worker_env(), capture_output=True, text=True, timeout=60)
    finally:
        stop(worker)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "completed: {'to': 'user@example.com', 'subject': 'Welcome'}"


def test_fastapi_app_with_its_own_package_dispatches_to_a_worker(queue_env, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    app_dir = EXAMPLES / "fastapi_shop"
    monkeypatch.syspath_prepend(str(app_dir))
    monkeypatch.setenv("QUEUE_ALLOWED_JOB_MODULES", "app.,shop.")
    queue_env.reset()
    from shop.api import api

    client = TestClient(api)
    placed = client.post("/orders", json={"email": "ann@example.com", "items": {"tea": 2, "cake": 1}})
    assert placed.status_code == 202, placed.text
    job_id = placed.json()["job_id"]
    assert client.get(f"/jobs/{job_id}").json()["state"] == "pending"
    worker = start_worker(["--queue=orders", "--sleep=0.05"], log=tmp_path / "worker.log",
                          env={"PYTHONPATH": _pythonpath(app_dir)})
    try:
        assert wait_until(lambda: client.get(f"/jobs/{job_id}").json()["state"] == "completed", timeout=30), \
            (tmp_path / "worker.log").read_text()
    finally:
        stop(worker)
    body = client.get(f"/jobs/{job_id}").json()
    assert body["result"] == {"order_id": placed.json()["order_id"], "total_cents": 1125}


def test_fastapi_refuses_its_job_at_dispatch_when_its_package_is_not_allowed(queue_env, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.syspath_prepend(str(EXAMPLES / "fastapi_shop"))
    from shop.api import api

    from app.Queue.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="add 'shop.' to QUEUE_ALLOWED_JOB_MODULES"):
        TestClient(api).post("/orders", json={"email": "a@b.c", "items": {"tea": 1}})


@pytest.fixture
def django_env(queue_env, tmp_path) -> dict[str, str]:
    """The example site's settings for manage.py and the worker; its own database is migrated."""
    site = EXAMPLES / "django_site"
    env = worker_env({"PYTHONPATH": _pythonpath(site), "DJANGO_DB_PATH": str(tmp_path / "django.sqlite3"),
                      "QUEUE_ALLOWED_JOB_MODULES": "app.,notes.", "QUEUE_BOOTSTRAP": "mysite.queue_boot:boot"})
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=site, env=env,
                              capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    return env


def test_django_worker_boots_django_first_and_the_job_uses_the_orm(django_env, tmp_path):
    site = EXAMPLES / "django_site"
    added = subprocess.run([sys.executable, "manage.py", "add_note", "hello from django"], cwd=site, env=django_env,
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    job_id = added.stdout.strip()
    worker = subprocess.Popen([sys.executable, str(ROOT / "artisan"), "queue:work", "--queue=notes", "--sleep=0.05"],
                              cwd=ROOT, env=django_env, stdout=open(tmp_path / "worker.log", "wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        status = Job.wait(job_id, timeout=60)
    finally:
        stop(worker)
    assert status.state is JobState.COMPLETED, (tmp_path / "worker.log").read_text()
    with sqlite3.connect(django_env["DJANGO_DB_PATH"]) as db:
        rows = db.execute("SELECT id, text FROM notes_note").fetchall()
    assert rows == [(status.result["note_id"], "hello from django")]


def queue_env_failed() -> list:
    from app.Queue.QueueManager import manager

    return manager().failed.recent()


def test_without_the_bootstrap_the_django_job_fails_and_says_why(django_env, tmp_path):
    site = EXAMPLES / "django_site"
    added = subprocess.run([sys.executable, "manage.py", "add_note", "x"], cwd=site, env=django_env,
                           capture_output=True, text=True, timeout=60)
    env = {k: v for k, v in django_env.items() if k != "QUEUE_BOOTSTRAP"}
    ran = subprocess.run([sys.executable, str(ROOT / "artisan"), "queue:work", "--queue=notes", "--stop-when-empty",
                          "--sleep=0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    (record,) = queue_env_failed()
    assert record.uuid == added.stdout.strip()
    assert "ImproperlyConfigured" in record.exception and "settings are not configured" in record.exception


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:boot", "QUEUE_BOOTSTRAP=no_such_module_xyz:boot: cannot import 'no_such_module_xyz' "
                                 "(No module named 'no_such_module_xyz'); is the project on PYTHONPATH?"),
    ("json:no_such_fn", "QUEUE_BOOTSTRAP=json:no_such_fn: 'json' has no 'no_such_fn'"),
    ("tests.fixtures.boot_hooks:broken", "QUEUE_BOOTSTRAP=tests.fixtures.boot_hooks:broken failed: RuntimeError: no database"),
])
def test_a_bad_bootstrap_stops_the_worker_with_one_line(queue_env, spec, message):
    result = artisan("queue:work", "--once", env={"QUEUE_BOOTSTRAP": spec})
    assert result.returncode == 1
    assert result.stderr.strip() == message


def test_the_bootstrap_runs_once_before_the_first_job(queue_env, tmp_path, witness):
    from tests.fixtures.jobs import RecordJob

    RecordJob.dispatch(str(witness))
    RecordJob.dispatch(str(witness))
    marker = tmp_path / "booted"
    result = artisan("queue:work", "--stop-when-empty", "--sleep=0",
                     env={"QUEUE_BOOTSTRAP": "tests.fixtures.boot_hooks", "BOOT_MARKER": str(marker)})
    assert result.returncode == 0, result.stderr
    assert marker.read_text() == "booted\n"
    assert len(witness.read_text().splitlines()) == 2
