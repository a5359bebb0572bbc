"""Critical: a callback or class reference loads only what is defined in an allowed module, never a path through imports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.Jobs import Callbacks
from app.Jobs.Batch import batch
from app.Queue.errors import InvalidPayloadError
from app.Queue.Serializer import resolve_class
from config.app import app_key
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.security_jobs import Mark, note_then
from tests.security.store import rewrite_options, work
from tests.support import artisan

THROUGH_IMPORTS = ["app.Queue.Worker:os.abort", "app.Queue.Worker:os.fork", "app.Queue.Worker:os._exit",
                   "app.Queue.Worker:signal.raise_signal", "app.Queue.Worker:time.sleep", "app.Queue.Worker:uuid.uuid4",
                   "app.Queue.Worker:log.critical", "app.Queue.Worker:traceback.print_stack",
                   "tests.fixtures.security_jobs:witness_mod.record", "app.Queue.Worker:Worker.__init__.__globals__"]


@pytest.mark.parametrize("ref", THROUGH_IMPORTS)
def test_a_reference_through_a_modules_imports_is_refused(ref: str):
    with pytest.raises(Callbacks.CallbackError):
        Callbacks.load({"fn": ref}, _codec())


def test_a_function_defined_in_an_allowed_module_still_loads():
    assert Callbacks.load({"fn": "tests.fixtures.security_jobs:note_then"}, _codec()) is note_then


@pytest.mark.parametrize("ref", ["tests.fixtures.security_jobs:witness_mod.RecordJob", "app.Jobs.Batch:Job",
                                 "app.Jobs.Chain:BatchableJob"])
def test_a_job_class_reached_through_an_import_is_refused(ref: str):
    from app.Jobs.Job import Job

    with pytest.raises(InvalidPayloadError, match="not defined in"):
        resolve_class(ref, ["app.", "tests.fixtures"], Job)


def test_signed_options_naming_a_function_through_imports_run_nothing(backend: Backend, witness: Path,
                                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Even options that carry a valid signature (written by a key holder) cannot reach `record` through an import."""
    monkeypatch.setenv("SECURITY_WITNESS", str(tmp_path / "then.log"))
    batch_id = batch([Mark(witness, "member")]).then(note_then).on_connection(backend.connection).dispatch()

    from app.Queue.BatchSignature import sign_options

    def forge(options: dict) -> dict:
        options = {k: v for k, v in options.items() if k != "sig"}
        options["then"] = [{"fn": "tests.fixtures.security_jobs:witness_mod.record"}]
        return sign_options(app_key(), batch_id, options)

    rewrite_options(backend, batch_id, forge)
    work(backend)
    assert read_lines(witness) == ["member"]


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "resigned"])
def test_os_abort_as_a_then_callback_does_not_kill_the_worker(backend: Backend, witness: Path, signed: bool):
    """The issue's attack, in a real worker process: before the fix it died with rc 134 (SIGABRT)."""
    batch_id = batch([Mark(witness, "member")]).then(note_then).on_connection(backend.connection).dispatch()

    def forge(options: dict) -> dict:
        options = {**options, "then": [{"fn": "app.Queue.Worker:os.abort"}]}
        if not signed:
            return options
        from app.Queue.BatchSignature import sign_options

        return sign_options(app_key(), batch_id, {k: v for k, v in options.items() if k != "sig"})

    rewrite_options(backend, batch_id, forge)
    done = artisan("queue:work", backend.connection, "--stop-when-empty", "--sleep=0", env=backend.env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_lines(witness) == ["member"]


def _codec():
    from app.Queue.QueueManager import manager

    return manager().codec


def test_options_are_stored_with_a_signature(backend: Backend, witness: Path):
    from sqlalchemy import select

    from app.Queue.Database.tables import job_batches

    batch_id = batch([Mark(witness, "member")]).then(note_then).on_connection(backend.connection).dispatch()
    with backend.manager.engine().connect() as conn:
        stored = json.loads(conn.execute(select(job_batches.c.options).where(job_batches.c.id == batch_id)).scalar_one())
    assert len(stored["sig"]) == 64 and stored["then"] == [{"fn": "tests.fixtures.security_jobs:note_then"}]
