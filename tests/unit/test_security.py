"""SecureJob permissions: granted by queue:work --permissions or QUEUE_WORKER_PERMISSIONS; a lack fails at once."""
from __future__ import annotations

import pytest
from cleo.testers.command_tester import CommandTester

from app.Jobs.Security import granted_permissions
from app.Queue.errors import AuthorizationError
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.fixtures.feature_jobs import PaymentJob, SecretJob


def work(qm) -> None:
    Worker(qm, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, max_tries=3)).daemon("database", ["default"])


def test_job_lacking_permission_fails_once_without_retries(queue_env, witness):
    queue_env.worker_permissions = ("something_else",)
    job_id = PaymentJob.dispatch(str(witness), "4111", "n")
    work(queue_env)
    assert read_lines(witness) == []
    [record] = queue_env.failed.all()
    assert record.uuid == job_id
    assert record.exception.startswith("AuthorizationError: PaymentJob requires permission(s) process_payments")
    assert queue_env.size("default") == 0


def test_job_runs_when_the_worker_holds_the_permission(queue_env, witness):
    queue_env.worker_permissions = ("process_payments", "other")
    PaymentJob.dispatch(str(witness), "4111", "n")
    work(queue_env)
    assert read_lines(witness) == ["paid 4111 n 1"]


def test_wildcard_grants_every_permission(queue_env, witness):
    queue_env.worker_permissions = ("*",)
    PaymentJob.dispatch(str(witness), "4111", "n")
    work(queue_env)
    assert read_lines(witness) == ["paid 4111 n 1"]


def test_permissions_come_from_the_environment_when_not_given(queue_env, monkeypatch: pytest.MonkeyPatch):
    from config import env as env_mod

    monkeypatch.setenv("QUEUE_WORKER_PERMISSIONS", "a, b")
    env_mod.reload()
    queue_env.reset()
    assert granted_permissions(queue_env) == frozenset({"a", "b"})
    queue_env.worker_permissions = ("c",)
    assert granted_permissions(queue_env) == frozenset({"c"})


def test_queue_work_permissions_option_grants_them(queue_env, witness):
    from app.Console.Commands.QueueWork import QueueWorkCommand

    PaymentJob.dispatch(str(witness), "4111", "n")
    assert CommandTester(QueueWorkCommand()).execute("--once --permissions=process_payments --sleep=0") == 0
    assert read_lines(witness) == ["paid 4111 n 1"]


def test_dispatch_now_checks_permissions_too(queue_env, witness):
    queue_env.worker_permissions = ()
    with pytest.raises(AuthorizationError):
        PaymentJob.dispatch_now(str(witness), "4111", "n")


def test_encrypted_job_runs_on_the_sync_connection(queue_env, witness):
    SecretJob(witness, "x").on_connection("sync").dispatch()
    assert read_lines(witness) == ["secret x"]


def test_async_secure_job_is_checked_and_still_awaited(queue_env, witness):
    from tests.fixtures.feature_jobs import AsyncReportJob

    queue_env.worker_permissions = ()
    AsyncReportJob.dispatch(str(witness))
    work(queue_env)
    assert queue_env.failed.all()[0].exception.startswith("AuthorizationError")
    queue_env.worker_permissions = ("reports",)
    AsyncReportJob.dispatch(str(witness))
    work(queue_env)
    assert read_lines(witness) == ["async report"]
