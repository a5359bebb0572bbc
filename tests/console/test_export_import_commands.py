"""queue:export > file.jsonl and queue:import file.jsonl: round trip, and bad input refused whole."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from app.Queue.Database import migrator
from app.Queue.QueueManager import manager
from config import env as env_mod
from tests.core_helpers import job_rows
from tests.fixtures.jobs import RecordJob
from tests.support import artisan, assert_one_line_error


def _fill(qm, tmp_path: Path) -> list[str]:
    ids = [RecordJob(str(tmp_path / "w.log"), f"job{i}").dispatch() for i in range(3)]
    ids.append(RecordJob(str(tmp_path / "w.log"), "later").delay(3600).dispatch())
    job_uuid, payload = qm.codec.create(RecordJob(str(tmp_path / "w.log"), "failed"), "default", "database")
    qm.failed.log("database", "default", payload, "RuntimeError: boom", job_uuid)
    return ids + [job_uuid]


def _export(tmp_path: Path) -> Path:
    result = artisan("queue:export", "--include-failed", "--include-batches")
    assert result.returncode == 0, result.stderr
    assert "Exported 4 job(s), 1 failed job(s), 0 batch(es)" in result.stderr
    path = tmp_path / "export.jsonl"
    path.write_text(result.stdout)
    return path


def _fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, migrate: bool = True) -> Path:
    db = tmp_path / name
    monkeypatch.setenv("DB_DATABASE", str(db))
    env_mod.reload()
    manager().reset()
    if migrate:
        migrator.upgrade(manager().engine())
    return db


def test_export_to_stdout_then_import_restores_every_job_once(queue_env, tmp_path, monkeypatch):
    ids = _fill(queue_env, tmp_path)
    path = _export(tmp_path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["type"] for r in lines] == ["header", "job", "job", "job", "job", "failed", "trailer"]
    assert all("sig" in r for r in lines)
    _fresh_database(tmp_path, monkeypatch, "target.sqlite")
    result = artisan("queue:import", str(path))
    assert result.returncode == 0, result.stderr
    assert "Imported 4 job(s), 1 failed job(s), 0 batch(es); skipped 0 already present." in result.stdout
    qm = manager()
    payload_ids = sorted(json.loads(r["payload"])["uuid"] for r in job_rows(qm)) + qm.failed.ids()
    assert sorted(payload_ids) == sorted(ids)
    again = artisan("queue:import", str(path))
    assert again.returncode == 0 and "already imported; nothing added" in again.stdout
    assert len(job_rows(qm)) == 4


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


@pytest.mark.parametrize("damage, needle", [
    (lambda lines: lines[:-1], "truncated"),
    (lambda lines: lines[:3], "truncated"),
    (lambda lines: [lines[0], lines[1][:40]], "not JSON"),
    (lambda lines: lines[:2] + lines[3:], "signature does not verify"),
    (lambda lines: lines[:2] + [lines[2].replace('"attempts":0', '"attempts":1')] + lines[3:], "line 3: signature"),
    (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], "line 2: signature"),
    (lambda lines: lines + lines[1:2], "after the trailer"),
    (lambda lines: [], "empty"),
], ids=["no-trailer", "cut-mid-file", "cut-mid-line", "line-removed", "line-edited", "lines-swapped", "line-appended",
        "empty"])
def test_a_damaged_export_is_refused_whole_with_one_line(queue_env, tmp_path, monkeypatch, damage, needle):
    _fill(queue_env, tmp_path)
    path = _export(tmp_path)
    path.write_text("".join(damage(_lines(path))))
    _fresh_database(tmp_path, monkeypatch, "target.sqlite")
    result = artisan("queue:import", str(path))
    assert_one_line_error(result, needle)
    assert job_rows(manager()) == [] and manager().failed.ids() == []  # nothing half-imported


def test_an_export_signed_with_another_key_is_refused(queue_env, tmp_path, monkeypatch):
    _fill(queue_env, tmp_path)
    path = _export(tmp_path)
    other = "base64:" + base64.b64encode(b"o" * 32).decode()
    assert_one_line_error(artisan("queue:import", str(path), env={"APP_KEY": other}), "APP_KEY")


def test_import_into_an_unmigrated_database_names_the_fix(queue_env, tmp_path, monkeypatch):
    _fill(queue_env, tmp_path)
    path = _export(tmp_path)
    _fresh_database(tmp_path, monkeypatch, "empty.sqlite", migrate=False)
    assert_one_line_error(artisan("queue:import", str(path)), "artisan migrate")


def test_import_of_a_missing_file_or_into_an_unknown_connection_is_one_line(queue_env, tmp_path):
    assert_one_line_error(artisan("queue:import", str(tmp_path / "nope.jsonl")), "cannot read")
    path = tmp_path / "x.jsonl"
    path.write_text("")
    assert_one_line_error(artisan("queue:import", str(path), "--connection=nowhere"), "unknown queue connection")
    assert_one_line_error(artisan("queue:export", "nowhere"), "unknown queue connection")
