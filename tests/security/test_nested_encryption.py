"""Encrypted data stays encrypted when a job waits inside another payload: chain steps, Job callbacks, job attributes.

Each test reads everything the stores hold (jobs, failed_jobs, job_batches, cache rows, every Redis key)
before and after the jobs run, and checks the secret never appears, then that it reached the job.
"""
from __future__ import annotations

from pathlib import Path

from app.Jobs.Batch import batch
from app.Jobs.Chain import chain
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.security_jobs import Boom, HoldsJob, Mark, SealedStep, SensitiveStep
from tests.security.store import raw_store_text, work

SECRET = "s3cret-Nested-77"
CARD = "4111-1111-1111-1111"


def _assert_hidden(backend: Backend, *secrets: str) -> None:
    raw = raw_store_text(backend)
    assert raw  # the read sees the stores
    for secret in secrets:
        assert secret not in raw


def test_the_control_plain_chain_steps_are_readable(backend: Backend, witness: Path):
    chain([Mark(witness, "first"), Mark(witness, SECRET)]).on_connection(backend.connection).dispatch()
    assert SECRET in raw_store_text(backend)


def test_an_encrypted_step_behind_a_plain_one_is_not_readable_in_the_store(backend: Backend, witness: Path):
    chain([Mark(witness, "first"), SealedStep(witness, SECRET), SensitiveStep(witness, CARD), Mark(witness, "last")]) \
        .on_connection(backend.connection).dispatch()
    _assert_hidden(backend, SECRET, CARD)
    for _ in range(4):
        work(backend)
        _assert_hidden(backend, SECRET, CARD)
    assert read_lines(witness) == ["first", f"sealed {SECRET}", f"card {CARD}", "last"]


def test_a_failed_chain_keeps_its_later_encrypted_steps_hidden_in_failed_jobs(backend: Backend, witness: Path):
    chain([Boom(witness), SealedStep(witness, SECRET)]).on_connection(backend.connection).dispatch()
    work(backend)
    assert backend.manager.failed.count() == 1
    _assert_hidden(backend, SECRET)


def test_encrypted_batch_callback_jobs_are_not_readable_in_job_batches(backend: Backend, witness: Path):
    batch([Mark(witness, "member")]).then(SealedStep(witness, SECRET)).finally_(SensitiveStep(witness, CARD)) \
        .on_connection(backend.connection).dispatch()
    _assert_hidden(backend, SECRET, CARD)
    work(backend)
    work(backend)
    _assert_hidden(backend, SECRET, CARD)
    assert sorted(read_lines(witness)) == sorted(["member", f"sealed {SECRET}", f"card {CARD}"])


def test_an_encrypted_job_held_as_an_attribute_is_not_readable(backend: Backend, witness: Path):
    HoldsJob(witness, SealedStep(witness, SECRET)).on_connection(backend.connection).dispatch()
    _assert_hidden(backend, SECRET)
    work(backend)
    assert read_lines(witness) == ["holds SealedStep"]


def test_a_batch_of_encrypted_jobs_inside_a_chain_stays_hidden(backend: Backend, witness: Path):
    chain([Mark(witness, "first"), batch([SealedStep(witness, SECRET)]), Mark(witness, "after")]) \
        .on_connection(backend.connection).dispatch()
    _assert_hidden(backend, SECRET)
    for _ in range(4):
        work(backend)
        _assert_hidden(backend, SECRET)
    assert read_lines(witness) == ["first", f"sealed {SECRET}", "after"]
