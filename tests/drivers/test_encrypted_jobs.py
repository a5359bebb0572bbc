"""Encrypted jobs on every backend: no secret in the stored bytes, key rotation, undecryptable payloads."""
from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from app.Queue.Database.tables import jobs
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import TEST_KEY, read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.feature_jobs import PaymentJob, PlainJob, SecretJob

SECRET = "s3cr3t-Value-42"
NEW_KEY = "base64:" + base64.b64encode(b"n" * 32).decode()


def stored_text(backend: Backend) -> str:
    """Everything the backend holds for queued jobs, as raw text."""
    if backend.name == "redis":
        return _redis_dump(backend)
    with backend.manager.engine().connect() as conn:
        return "\n".join(r[0] for r in conn.execute(select(jobs.c.payload)))


def _redis_dump(backend: Backend) -> str:
    import redis

    cfg = backend.manager.connection_config("redis")
    client = redis.Redis(host=cfg["host"], port=int(cfg["port"]), db=int(cfg["db"]), password=cfg.get("password"))
    readers = {
        b"string": lambda k: [client.get(k)], b"list": lambda k: client.lrange(k, 0, -1),
        b"zset": lambda k: client.zrange(k, 0, -1), b"set": lambda k: list(client.smembers(k)),
        b"hash": lambda k: [v for kv in client.hgetall(k).items() for v in kv],
    }
    parts: list[bytes] = []
    for key in client.scan_iter("*"):
        parts.extend(p for p in readers.get(client.type(key), lambda k: [])(key) if p)
    client.close()
    return b"\n".join(parts).decode("utf-8", "replace")


def work(backend: Backend, **options) -> None:
    Worker(backend.manager, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, **options)).daemon(backend.connection, ["default", "vault"])


def test_plain_job_data_is_readable_in_the_store(backend: Backend, witness):
    PlainJob(witness, SECRET).on_connection(backend.connection).dispatch()
    assert SECRET in stored_text(backend)  # the control: the raw read does see plain data


def test_encrypted_job_secret_never_appears_in_the_store_and_the_job_runs(backend: Backend, witness):
    SecretJob(witness, SECRET).on_connection(backend.connection).dispatch()
    raw = stored_text(backend)
    assert raw and SECRET not in raw and "aesgcm1:" in raw
    work(backend)
    assert read_lines(witness) == [f"secret {SECRET}"]


def test_queue_with_encryption_enabled_encrypts_every_job(backend: Backend, witness):
    backend.manager.define_queue("vault", connection=backend.connection, encryption_enabled=True)
    PlainJob(witness, SECRET).on_queue("vault").dispatch()
    assert SECRET not in stored_text(backend)
    work(backend)
    assert read_lines(witness) == [f"plain {SECRET}"]


def test_secure_job_encrypts_only_its_sensitive_fields(backend: Backend, witness):
    backend.manager.worker_permissions = ("process_payments",)
    PaymentJob(witness, "4111-1111-1111-1111", "visible-note").on_connection(backend.connection).dispatch()
    raw = stored_text(backend)
    assert "4111-1111-1111-1111" not in raw and "visible-note" in raw
    work(backend)
    assert read_lines(witness) == ["paid 4111-1111-1111-1111 visible-note 1"]


def test_workers_read_payloads_made_under_a_previous_key(backend: Backend, witness, monkeypatch: pytest.MonkeyPatch):
    from config import env as env_mod

    SecretJob(witness, SECRET).on_connection(backend.connection).dispatch()
    monkeypatch.setenv("APP_KEY", NEW_KEY)
    monkeypatch.setenv("APP_PREVIOUS_KEYS", TEST_KEY)
    env_mod.reload()
    backend.manager.reset()
    SecretJob(witness, "made-under-new-key").on_connection(backend.connection).dispatch()
    work(backend)
    assert sorted(read_lines(witness)) == sorted([f"secret {SECRET}", "secret made-under-new-key"])


def test_undecryptable_payload_goes_to_failed_jobs_and_the_worker_continues(backend: Backend, witness):
    qm = backend.manager
    _, payload = qm.codec.create(SecretJob(witness, SECRET), "default", backend.connection)
    envelope = json.loads(payload)
    envelope.pop("signature")
    token = envelope["data"]
    envelope["data"] = token[:-6] + ("AAAA" if token[-6:-2] != "AAAA" else "BBBB") + token[-2:]  # corrupt the ciphertext
    backend.driver().push(qm.codec.sign_envelope(envelope), "default")  # validly signed, cannot be decrypted
    PlainJob(witness, "after").on_connection(backend.connection).dispatch()
    work(backend)
    failed = qm.failed.all()
    assert len(failed) == 1 and failed[0].exception.startswith("InvalidPayloadError: cannot decrypt job data")
    assert read_lines(witness) == ["plain after"]
