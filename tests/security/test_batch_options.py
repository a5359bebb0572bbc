"""Critical: job_batches.options is signed with APP_KEY; rewriting it in the store runs nothing of the attacker's."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.Jobs.Batch import batch
from app.Models.JobBatch import JobBatch
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.security_jobs import Mark, note_then
from tests.security.store import rewrite_options, work

MARK = "tests.fixtures.security_jobs:Mark"


@pytest.fixture
def then_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "then.log"
    monkeypatch.setenv("SECURITY_WITNESS", str(path))
    return path


def _attacker_job(witness: Path) -> dict:
    return {"job": {"job": MARK, "data": {"path": str(witness), "text": "ATTACKER"}}}


def test_untampered_batch_runs_its_then_callbacks(backend: Backend, witness: Path, then_log: Path):
    """The control: the same batch, left alone, runs its job and both callbacks."""
    batch_id = (batch([Mark(witness, "member")]).then(note_then).then(Mark(witness, "then-job"))
                .on_connection(backend.connection).dispatch())
    work(backend)
    assert sorted(read_lines(witness)) == ["member", "then-job"]
    assert read_lines(then_log) == [f"then {batch_id}"]


def test_then_rewritten_to_an_attacker_job_is_not_dispatched(backend: Backend, witness: Path, then_log: Path):
    batch_id = batch([Mark(witness, "member")]).then(note_then).on_connection(backend.connection).dispatch()
    rewrite_options(backend, batch_id, lambda o: {**o, "then": [_attacker_job(witness)]})
    work(backend)
    assert read_lines(witness) == ["member"]  # the member ran; neither the forged nor the original callback did
    assert read_lines(then_log) == []
    assert JobBatch.find(batch_id).finished()


def test_then_rewritten_with_the_signature_removed_is_not_dispatched(backend: Backend, witness: Path, then_log: Path):
    batch_id = batch([Mark(witness, "member")]).then(note_then).on_connection(backend.connection).dispatch()
    rewrite_options(backend, batch_id, lambda o: {k: v for k, v in o.items() if k != "sig"} | {"then": [_attacker_job(witness)]})
    work(backend)
    assert read_lines(witness) == ["member"]


def test_options_copied_from_another_batch_do_not_run(backend: Backend, witness: Path, then_log: Path):
    """The signature is bound to the batch id: a legitimately signed options blob cannot be moved."""
    donor = batch([Mark(witness, "donor")]).then(Mark(witness, "donor-then")).on_connection(backend.connection).dispatch()
    from app.Queue.BatchRepository import DatabaseBatchRepository

    donor_options = DatabaseBatchRepository(backend.manager.engine()).find(donor).options
    target = batch([Mark(witness, "target")]).on_connection(backend.connection).dispatch()
    rewrite_options(backend, target, lambda o: {k: v for k, v in donor_options.items() if k != "fired"})
    rewrite_options(backend, donor, lambda o: {**o, "then": []})  # the donor's own then is emptied (and so refused)
    work(backend)
    assert sorted(read_lines(witness)) == ["donor", "target"]


def test_chain_continuation_rewritten_in_options_is_not_dispatched(backend: Backend, witness: Path, then_log: Path):
    batch_id = batch([Mark(witness, "member")]).on_connection(backend.connection).dispatch()
    chain = {"id": "forged-chain", "name": "", "index": 0, "queue": None, "connection": backend.connection, "catch": [],
             "steps": [{"job": MARK, "data": {"path": str(witness), "text": "ATTACKER-STEP"}}]}
    rewrite_options(backend, batch_id, lambda o: {**o, "chain": chain})
    work(backend)
    assert read_lines(witness) == ["member"]


def test_jobs_added_to_a_batch_with_forged_options_are_refused(backend: Backend, witness: Path, then_log: Path):
    """JobBatch.add reads queue/connection from options: forged options are refused there too."""
    from app.Queue.errors import InvalidPayloadError

    batch_id = batch([Mark(witness, "member")]).on_connection(backend.connection).dispatch()
    rewrite_options(backend, batch_id, lambda o: {**o, "queue": "elsewhere"})
    with pytest.raises(InvalidPayloadError, match="signature"):
        JobBatch.find(batch_id).add([Mark(witness, "added")])
