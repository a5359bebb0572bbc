"""Move chains forward as the worker settles their steps, and keep their status for ChainMonitor.

Registered through app/Queue/bootstrap.py as `manager.chains`. The next step is queued after the previous one
succeeded; a cache `add` per finished step makes that happen once even when a step is
reported twice. Status lives in the cache store under `chain:{id}`.
"""
from __future__ import annotations

import copy
import json
import logging
from typing import TYPE_CHECKING, Any

from app.Bus import Callbacks
from app.Bus.ChainMonitor import STATUS_TTL, ChainMonitor, status_key
from app.Bus.PendingBatch import PendingBatch, is_inline
from app.Bus.Steps import decode_step
from app.Queue.events import JobFailed, JobProcessed, JobProcessing

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.chain")

__all__ = ["STATUS_TTL", "ChainRecorder", "chain_recorder", "register", "status_key"]


class ChainRecorder:
    """Listens to worker events for jobs that carry a chain."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager
        self.local: dict[str, list[Any]] = {}  # catch callbacks of chains run on the sync connection

    # -- listeners ----------------------------------------------------------------------------
    def on_processing(self, event: JobProcessing) -> None:
        chain = event.envelope.get("chain")
        if not chain:
            return
        event.job.chain_id = chain["id"]
        event.job._chain = copy.deepcopy(chain)
        total = chain["index"] + 1 + len(chain["steps"])
        self._update(chain["id"], state="running", current=chain["index"] + 1, total=total)

    def on_processed(self, event: JobProcessed) -> None:
        chain = event.job._chain if event.job._chain is not None else event.envelope.get("chain")
        if not chain or event.job.continues_chain_itself:
            return  # a batch step continues its chain when the batch completes
        self.advance(chain, event.result, event.envelope.get("uuid"))

    def on_failed(self, event: JobFailed) -> None:
        chain = event.envelope.get("chain")
        if chain:
            self.fail(chain, event.exception)

    # -- moving on ----------------------------------------------------------------------------
    def advance(self, chain: dict[str, Any], result: Any, step_uuid: str | None) -> None:
        """The step at `chain["index"]` succeeded: queue the next one, or mark the chain completed."""
        done = chain["index"] + 1
        total = done + len(chain["steps"])
        if not chain["steps"]:
            self._update(chain["id"], state="completed", current=total, total=total, completed=done)
            self.local.pop(chain["id"], None)
            return
        if step_uuid and not self.manager.cache.add(f"chain-next:{step_uuid}", 1, STATUS_TTL):
            return  # this step was already reported; its successor is queued
        if done:
            self._update(chain["id"], completed=done, total=total)
        job = decode_step(chain["steps"][0], self.manager.codec)
        following = {**chain, "steps": chain["steps"][1:], "index": done, "previous": _jsonable(result)}
        self._push(job, following)

    def _push(self, job: Job, chain: dict[str, Any]) -> None:
        job.chain_id, job._chain = chain["id"], chain
        if chain.get("batchId"):
            job.batch_id, job._batch_member = chain["batchId"], chain["id"]
        try:
            self.manager.push(job, chain.get("queue"), chain.get("connection"))
        except Exception as exc:
            if not is_inline(self.manager, chain.get("connection")):
                raise
            log.info("chain %s: step %s failed: %s", chain["id"], type(job).__name__, exc)  # catch already ran

    def fail(self, chain: dict[str, Any], exception: BaseException) -> None:
        """A step failed permanently: stop the chain and run its catch callbacks once."""
        if not self.manager.cache.add(f"chain-caught:{chain['id']}", 1, STATUS_TTL):
            return
        self._update(chain["id"], state="failed", error=f"{type(exception).__name__}: {exception}")
        status = ChainMonitor(chain["id"]).get_status()
        callbacks = self.local.pop(chain["id"], None)
        if callbacks is None:
            callbacks = []
            for spec in chain.get("catch") or []:
                try:
                    callbacks.append(Callbacks.load(spec, self.manager.codec))
                except Exception:
                    log.exception("chain %s: cannot load catch callback %r", chain["id"], spec)
        for callback in callbacks:
            Callbacks.run(callback, "catch", status, exception, self.manager, chain.get("queue"), chain.get("connection"))

    def dispatch(self, jobs: list[Job | PendingBatch], connection: str | None) -> str:
        """Start a chain of `jobs` (`Job.with_chain(...).dispatch()`); returns the chain id."""
        # lazy: the builder defines ChainedBatch, a Job subclass, whose definition loads SQLAlchemy
        # (AfterCommit.install); an idle Redis worker never needs it (tests/drivers/test_worker_imports.py)
        from app.Bus.PendingChain import PendingChain

        pending = PendingChain(jobs)
        if connection:
            pending.on_connection(connection)
        return pending.dispatch()

    # -- status -------------------------------------------------------------------------------
    def monitor_start(self, chain: dict[str, Any]) -> None:
        """Record a new chain as pending, before its first step is queued."""
        status = {"id": chain["id"], "name": chain.get("name", ""), "state": "pending", "current": 0,
                  "total": len(chain["steps"]), "completed": 0, "error": None}
        self.manager.cache.put(status_key(chain["id"]), status, STATUS_TTL)

    def _update(self, chain_id: str, **changes: Any) -> None:
        status = self.manager.cache.get(status_key(chain_id)) or {"id": chain_id, "name": "", "state": "pending",
                                                                    "current": 0, "total": 0, "completed": 0, "error": None}
        if status.get("state") in ("failed", "completed") and changes.get("state") != "failed":
            changes.pop("state", None)  # a late report of an earlier step does not revive a settled chain
        status.update(changes)
        self.manager.cache.put(status_key(chain_id), status, STATUS_TTL)


def _jsonable(result: Any) -> Any:
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        return None
    return result


def chain_recorder(manager: QueueManager) -> ChainRecorder:
    """The manager's chain recorder (registered when the manager boots): `manager.chains`."""
    return manager.chains


def register(manager: QueueManager) -> None:
    """Wire the chain listeners into `manager`."""
    recorder = ChainRecorder(manager)
    manager.chains = recorder
    manager.events.listen(JobProcessing, recorder.on_processing)
    manager.events.listen(JobProcessed, recorder.on_processed)
    manager.events.listen(JobFailed, recorder.on_failed)
