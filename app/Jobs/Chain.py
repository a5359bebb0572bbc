"""Chains (public path `app.Jobs.Chain`): the ChainableJob base, plus the builder from app/Bus.

`chain([...]).catch(...).dispatch()` lives in app/Bus/PendingChain.py; the chain machinery
(recorder, monitor) in app/Bus. The job classes stay on the job side.
"""
from __future__ import annotations

import json
from typing import Any

from app.Bus.PendingChain import PendingChain, chain
from app.Bus.Steps import encode_step
from app.Jobs.Batch import BatchableJob
from app.Jobs.ChainedBatch import ChainedBatch as _ChainedBatch
from app.Jobs.Job import Job
from app.Queue.errors import QueueError, SerializationError
from app.Queue.QueueManager import manager


class ChainableJob(BatchableJob):
    """A job meant for chains: `_handle` returns a JSON value the next step reads with get_previous_result()."""

    def handle(self) -> Any:
        """Run `_handle` and check its value can travel to the next step."""
        result = super().handle()
        try:
            json.dumps(result)
        except (TypeError, ValueError):
            raise SerializationError(
                f"{type(self).__name__}._handle returned a {type(result).__name__}, which cannot be passed to the "
                "next step of its chain; return JSON values (dict, list, str, numbers, bool, None)"
            ) from None
        return result

    def get_previous_result(self) -> Any:
        """The value the previous step's `_handle` returned (None for the first step)."""
        return (self._chain or {}).get("previous")

    def prepend_to_chain(self, job: Job) -> None:
        """Run `job` right after this step."""
        self._chain_info()["steps"].insert(0, encode_step(job, manager().codec))

    def append_to_chain(self, job: Job) -> None:
        """Run `job` after the chain's last step."""
        self._chain_info()["steps"].append(encode_step(job, manager().codec))

    def _chain_info(self) -> dict[str, Any]:
        if self._chain is None:
            raise QueueError(f"{type(self).__name__} is not running in a chain; prepend/append_to_chain need one")
        return self._chain


class ChainedBatch(_ChainedBatch):
    """The batch step under the class path stored before app/Jobs/ChainedBatch.py (`app.Jobs.Chain:ChainedBatch`).

    Chains queued by an earlier version name this path in their payloads and job_batches rows;
    a worker must still load them after an upgrade. New chains store app.Jobs.ChainedBatch.
    """


__all__ = ["chain", "ChainableJob", "ChainedBatch", "PendingChain"]
