"""Migrations (Alembic from code), key:generate, make:job and the pieces of `make setup`."""
from __future__ import annotations

import base64
import shutil
import subprocess
import sys

from sqlalchemy import inspect

from app.Queue.Database import migrator
from app.Queue.Database.connection import make_engine
from config.env import BASE_DIR
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.fixtures.jobs import RecordJob
from tests.support import artisan, worker_env

COLUMNS = {
    "jobs": {"id", "queue", "payload", "attempts", "priority", "reserved_at", "reserved_by", "available_at", "created_at"},
    "failed_jobs": {"id", "uuid", "connection", "queue", "payload", "exception", "failed_at"},
    "job_batches": {"id", "name", "total_jobs", "pending_jobs", "failed_jobs", "failed_job_ids", "options",
                    "cancelled_at", "created_at", "finished_at"},
    "cache": {"key", "value", "expiration"},
    "cache_locks": {"key", "owner", "expiration"},
}


def test_upgrade_downgrade_upgrade_on_sqlite_with_exactly_one_head(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    try:
        assert len(migrator.heads(engine)) == 1
        migrator.upgrade(engine)
        assert migrator.current(engine) == migrator.heads(engine)[0]
        migrator.downgrade(engine, "base")
        assert migrator.current(engine) is None
        assert set(inspect(engine).get_table_names()) <= {migrator.VERSION_TABLE}
        migrator.upgrade(engine)
        migrator.upgrade(engine)  # idempotent
        tables = inspect(engine)
        for table, columns in COLUMNS.items():
            assert columns <= {c["name"] for c in tables.get_columns(table)}, table
        assert any(u["column_names"] == ["uuid"] for u in tables.get_unique_constraints("failed_jobs")) or any(
            i["unique"] and i["column_names"] == ["uuid"] for i in tables.get_indexes("failed_jobs"))
    finally:
        engine.dispose()


def test_artisan_migrate_is_idempotent_and_creates_the_database_folder(tmp_path):
    env = {"DB_DATABASE": str(tmp_path / "new" / "dir" / "database.sqlite")}
    first = artisan("migrate", env=env)
    assert first.returncode == 0 and "Migrated" in first.stdout, first.stderr
    assert (tmp_path / "new" / "dir" / "database.sqlite").is_file()
    again = artisan("migrate", env=env)
    assert again.returncode == 0 and "Nothing to migrate" in again.stdout


def test_migrate_status_lists_pending_then_ran(tmp_path):
    env = {"DB_DATABASE": str(tmp_path / "s.sqlite")}
    pending = artisan("migrate:status", env=env)
    revisions = sorted(p.stem for p in migrator.MIGRATIONS_DIR.joinpath("versions").glob("0*.py"))
    assert pending.returncode == 1 and pending.stdout.count("Pending") == len(revisions)
    artisan("migrate", env=env)
    ran = artisan("migrate:status", env=env)
    assert ran.returncode == 0 and "Pending" not in ran.stdout and all(r in ran.stdout for r in revisions)


def test_key_generate_creates_env_from_the_example_then_refuses_to_overwrite(tmp_path, monkeypatch):
    from config import env as env_mod
    from config.app import app_key

    shutil.copy(BASE_DIR / ".env.example", tmp_path / ".env.example")
    env_file = tmp_path / ".env"
    assert not env_file.exists()
    result = artisan("key:generate", env={"APP_KEY": ""})
    assert result.returncode == 0, result.stderr
    text = env_file.read_text()
    assert "QUEUE_CONNECTION=database" in text and "DB_DATABASE=storage/database.sqlite" in text
    (line,) = [l for l in text.splitlines() if l.startswith("APP_KEY=")]
    key = line.removeprefix("APP_KEY=")
    assert len(base64.b64decode(key.removeprefix("base64:"), validate=True)) == 32

    monkeypatch.delenv("APP_KEY")
    env_mod.reload()
    assert app_key() == base64.b64decode(key.removeprefix("base64:"))

    refused = artisan("key:generate")
    assert refused.returncode == 1 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert env_file.read_text() == text
    forced = artisan("key:generate", "--force")
    assert forced.returncode == 0 and key not in env_file.read_text()
    shown = artisan("key:generate", "--show")
    assert shown.stdout.startswith("base64:") and shown.stdout.strip() not in env_file.read_text()


def _temp_project(tmp_path):
    """A copy of the project's code in tmp_path, so make:job writes there and never into the real app/Jobs."""
    project = tmp_path / "project"
    skip = shutil.ignore_patterns("__pycache__", "*.sqlite", "logs")
    for part in ("app", "config", "database", "routes", "storage"):
        shutil.copytree(BASE_DIR / part, project / part, ignore=skip)
    shutil.copy2(BASE_DIR / "artisan", project / "artisan")
    return project


def test_make_job_writes_a_skeleton_that_imports_dispatches_and_runs(queue_env, tmp_path):
    name = "ZzCoreTestsGeneratedJob"
    project = _temp_project(tmp_path)
    in_project = {"PYTHONPATH": str(project)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=project, env=worker_env(in_project),
                              capture_output=True, text=True, timeout=60)

    result = run("artisan", "make:job", name, "--queue=generated")
    assert result.returncode == 0 and name in result.stdout, result.stderr
    assert (project / "app" / "Jobs" / f"{name}.py").exists() and not (BASE_DIR / "app" / "Jobs" / f"{name}.py").exists()
    dispatched = run("-c", f"from app.Jobs.{name} import {name}; print({name}.dispatch({{'order': 7}}))")
    assert dispatched.returncode == 0, dispatched.stderr
    job_id = dispatched.stdout.strip()
    assert queue_env.size("generated") == 1
    worked = run("artisan", "queue:work", "--queue=generated", "--stop-when-empty", "--sleep=0.1")
    assert worked.returncode == 0, worked.stderr
    assert queue_env.size("generated") == 0 and RecordJob.status(job_id).state == "completed"
    again = run("artisan", "make:job", name)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = run("artisan", "make:job", "not-a-class")
    assert bad.returncode == 1 and "CapitalisedIdentifier" in bad.stderr


def test_database_location_comes_from_db_database_or_the_seed_alias(monkeypatch, tmp_path):
    from config import env as env_mod
    from config.database import database_url

    monkeypatch.setenv("DB_DATABASE", "storage/database.sqlite")
    env_mod.reload()
    assert database_url() == f"sqlite:///{BASE_DIR / 'storage' / 'database.sqlite'}"
    monkeypatch.delenv("DB_DATABASE")
    monkeypatch.setenv("DB_NAME", str(tmp_path / "seed.sqlite"))
    env_mod.reload()
    assert database_url() == f"sqlite:///{tmp_path / 'seed.sqlite'}"
