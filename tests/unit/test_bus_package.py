"""Batches and chains live in app/Bus: the public paths re-export it, the manager serves it typed, stored chains still load."""
from __future__ import annotations

import inspect
from pathlib import Path

from app.Bus import BatchRecorder as bus_batch_recorder
from app.Bus import ChainRecorder as bus_chain_recorder
from app.Bus.BatchRecorder import BatchRecorder
from app.Bus.ChainRecorder import ChainRecorder
from app.Bus.PendingChain import batch_step
from app.Bus.Steps import decode_step, encode_step
from app.Jobs.Batch import batch
from app.Jobs.ChainedBatch import ChainedBatch
from app.Queue import bootstrap
from app.Queue.QueueManager import manager
from tests.fixtures import batch_jobs as bj


def test_every_documented_import_path_still_works_and_names_the_bus_objects():
    import app.Bus.BatchRepository
    import app.Bus.BatchSignature
    import app.Bus.Callbacks
    import app.Bus.ChainMonitor
    import app.Bus.JobBatch
    import app.Bus.PendingBatch
    import app.Bus.PendingChain
    import app.Bus.Steps
    from app.Jobs import Batch, BatchRecorder, Callbacks, Chain, ChainMonitor, ChainRecorder, Steps
    from app.Models import JobBatch
    from app.Queue import BatchRepository, BatchSignature

    assert Batch.batch is app.Bus.PendingBatch.batch and Batch.PendingBatch is app.Bus.PendingBatch.PendingBatch
    assert Batch.Batch is app.Bus.JobBatch.JobBatch is JobBatch.JobBatch
    assert Chain.chain is app.Bus.PendingChain.chain and Chain.PendingChain is app.Bus.PendingChain.PendingChain
    assert ChainMonitor.ChainMonitor is app.Bus.ChainMonitor.ChainMonitor
    assert Callbacks.load is app.Bus.Callbacks.load and Callbacks.CallbackError is app.Bus.Callbacks.CallbackError
    assert Steps.encode_step is app.Bus.Steps.encode_step
    assert BatchRecorder.batch_recorder is bus_batch_recorder.batch_recorder
    assert ChainRecorder.status_key is app.Bus.ChainMonitor.status_key
    assert BatchRepository.DatabaseBatchRepository is app.Bus.BatchRepository.DatabaseBatchRepository
    assert BatchSignature.verified_options is app.Bus.BatchSignature.verified_options
    assert issubclass(Batch.BatchableJob, object) and issubclass(Chain.ChainableJob, Batch.BatchableJob)


def test_the_manager_serves_batches_and_chains_as_typed_services_rebuilt_after_a_reset():
    qm = manager()
    qm.reset()
    first = qm.batches
    assert isinstance(first, BatchRecorder) and isinstance(qm.chains, ChainRecorder)
    assert qm.batches is first and first.manager is qm
    qm.reset()
    assert qm.batches is not first and isinstance(qm.batches, BatchRecorder)


def test_the_wiring_is_code_not_module_name_strings():
    assert bus_batch_recorder.register in bootstrap.REGISTRATIONS
    assert bus_chain_recorder.register in bootstrap.REGISTRATIONS
    assert all(callable(r) and r.__name__ == "register" for r in bootstrap.REGISTRATIONS)
    assert "importlib" not in inspect.getsource(bootstrap)


def test_a_batch_step_stored_under_the_class_path_of_earlier_versions_still_loads(witness: Path):
    codec = manager().codec
    step = batch_step(batch([bj.Work(witness, "a")]).name("legacy"), manager())
    encoded = encode_step(step, codec)
    assert encoded["job"] == "app.Jobs.ChainedBatch:ChainedBatch"
    encoded["job"] = "app.Jobs.Chain:ChainedBatch"  # what a chain queued before app/Bus stored
    loaded = decode_step(encoded, codec)
    assert isinstance(loaded, ChainedBatch) and type(loaded).__module__ == "app.Jobs.Chain"
    assert loaded.continues_chain_itself and loaded.batch_name == "legacy" and loaded.jobs == step.jobs
