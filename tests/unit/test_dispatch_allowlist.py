"""A job whose module is outside QUEUE_ALLOWED_JOB_MODULES is refused at dispatch, not on the worker."""
from __future__ import annotations

import subprocess
import sys

import pytest

from app.Jobs.Chain import chain
from app.Queue.errors import ConfigurationError
from app.Queue.QueueManager import manager
from tests.core_helpers import job_rows
from tests.fixtures.jobs import RecordJob
from tests.support import ROOT, worker_env


class OutsideJob(RecordJob):
    """Defined in tests.unit, which the test settings do not allow (they allow tests.fixtures)."""


MESSAGE = (r"tests\.unit\.test_dispatch_allowlist\.OutsideJob cannot be queued: "
           r".*QUEUE_ALLOWED_JOB_MODULES \(app\.,tests\.fixtures\).*add 'tests\.' to QUEUE_ALLOWED_JOB_MODULES")


def test_dispatch_refuses_a_job_from_a_module_workers_may_not_load(queue_env, witness):
    with pytest.raises(ConfigurationError, match=MESSAGE):
        OutsideJob.dispatch(str(witness))
    assert job_rows(queue_env) == []


def test_bulk_and_later_refuse_it_too_and_store_nothing(queue_env, witness):
    with pytest.raises(ConfigurationError, match="QUEUE_ALLOWED_JOB_MODULES"):
        manager().bulk([RecordJob(str(witness)), OutsideJob(str(witness))])
    with pytest.raises(ConfigurationError, match="QUEUE_ALLOWED_JOB_MODULES"):
        manager().later(10, OutsideJob(str(witness)))
    assert job_rows(queue_env) == []


def test_a_chain_step_outside_the_allowed_modules_is_refused_at_dispatch(queue_env, witness):
    with pytest.raises(ConfigurationError, match="QUEUE_ALLOWED_JOB_MODULES"):
        chain([RecordJob(str(witness)), OutsideJob(str(witness))]).dispatch()
    assert job_rows(queue_env) == []


def test_allowing_the_module_lets_it_through(queue_env, witness, monkeypatch):
    monkeypatch.setenv("QUEUE_ALLOWED_JOB_MODULES", "app.,tests.")
    queue_env.reset()
    assert OutsideJob.dispatch(str(witness))
    assert len(job_rows(queue_env)) == 1


def test_a_job_defined_in_a_script_is_refused_with_a_fix(queue_env, tmp_path):
    """Workers cannot import a script's __main__: say so at dispatch."""
    script = tmp_path / "dispatch_it.py"
    script.write_text("from tests.fixtures.jobs import RecordJob\n"
                      "class Mine(RecordJob):\n    pass\n"
                      "Mine.dispatch('x')\n")
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=worker_env(), capture_output=True, text=True)
    assert result.returncode != 0
    assert "__main__.Mine cannot be queued" in result.stderr and "move it into an importable module" in result.stderr
