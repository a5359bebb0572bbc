"""queue:failed --limit --queue --class --json, and queue:failed:show <id>."""
from __future__ import annotations

import json

import pytest

from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.fixtures.feature_jobs import PaymentJob, SecretJob
from tests.fixtures.jobs import FailingJob, RecordJob


def _log_failed(qm, job, queue: str = "default", exception: str = "RuntimeError: boom\nTraceback ...") -> str:
    job_uuid, payload = qm.codec.create(job, queue, "database")
    qm.failed.log("database", queue, payload, exception, job_uuid)
    return job_uuid


def test_failed_shows_the_newest_fifty_by_default_and_says_how_many_more(queue_env, artisan_cmd, tmp_path):
    ids = [_log_failed(queue_env, RecordJob(str(tmp_path))) for _ in range(55)]
    ran = artisan_cmd("queue:failed")
    assert ran.status == 0
    assert ids[-1] in ran.out and ids[5] in ran.out and ids[4] not in ran.out
    assert "Showing the newest 50 of 55 failed jobs; --limit=0 shows all." in ran.out
    assert ids[0] in artisan_cmd("queue:failed", "--limit=0").out


def test_failed_json_prints_the_filtered_rows_as_an_array(queue_env, artisan_cmd, tmp_path):
    wanted = _log_failed(queue_env, FailingJob(str(tmp_path)), "emails", "RuntimeError: <b>bold</b>\nTraceback")
    _log_failed(queue_env, RecordJob(str(tmp_path)), "emails")
    _log_failed(queue_env, FailingJob(str(tmp_path)), "other")
    ran = artisan_cmd("queue:failed", "--json --queue=emails --class=FailingJob --limit=5")
    assert ran.status == 0
    (row,) = json.loads(ran.out)
    assert (row["uuid"], row["queue"], row["job"], row["connection"]) == (wanted, "emails", "FailingJob", "database")
    assert row["exception"] == "RuntimeError: <b>bold</b>"  # raw in JSON, no console markup applied
    assert row["failed_at"].endswith("+00:00")


def test_failed_json_with_nothing_failed_is_an_empty_array(artisan_cmd):
    ran = artisan_cmd("queue:failed", "--json")
    assert (ran.status, json.loads(ran.out)) == (0, [])


@pytest.mark.parametrize("bad", ["-1", "many"])
def test_failed_rejects_a_bad_limit_in_one_line(artisan_cmd, bad):
    ran = artisan_cmd("queue:failed", f"--limit={bad}")
    assert ran.status == 1 and "--limit" in ran.err and len(ran.err.strip().splitlines()) == 1


def test_failed_show_prints_data_and_every_attempt(queue_env, artisan_cmd, tmp_path):
    FailingJob(str(tmp_path / "w"), "disk full").dispatch()
    work(queue_env, backoff=(0,))
    (record,) = queue_env.failed.recent()
    ran = artisan_cmd("queue:failed:show", record.uuid)
    assert ran.status == 0, ran.err
    out = ran.out
    assert "FailingJob (tests.fixtures.jobs:FailingJob)" in out and '"message": "disk full"' in out
    assert out.index("Attempt 3 (final)") < out.index("Attempt 1\n") < out.index("Attempt 2\n")
    assert out.count("RuntimeError: disk full") >= 3 and out.count("Traceback (most recent call last)") == 3
    assert artisan_cmd("queue:failed:show", str(record.id)).out == out  # the numeric id works too


def test_failed_show_masks_encrypted_fields_and_encrypted_data(queue_env, artisan_cmd, tmp_path):
    payment = _log_failed(queue_env, PaymentJob(str(tmp_path), "4111-1111-1111-1111", "monthly plan"))
    out = artisan_cmd("queue:failed:show", payment).out
    assert '"card": "***encrypted***"' in out and '"note": "monthly plan"' in out and "4111" not in out
    secret = _log_failed(queue_env, SecretJob(str(tmp_path), "hunter2"))
    out = artisan_cmd("queue:failed:show", secret).out
    assert '"***encrypted***"' in out and "hunter2" not in out


def test_failed_show_prints_stored_markup_as_text(queue_env, artisan_cmd, tmp_path):
    uuid = _log_failed(queue_env, RecordJob(str(tmp_path)), exception="RuntimeError: <error>x</error> \x1b[31mred")
    out = artisan_cmd("queue:failed:show", uuid).out
    assert "<error>x</error>" in out and "\x1b" not in out


def test_failed_show_of_an_unknown_id_is_one_line(artisan_cmd):
    ran = artisan_cmd("queue:failed:show", "nope")
    assert ran.status == 1 and "no failed job with id 'nope'" in ran.err
