"""A three-step chain (seed 004's ETL pipeline) and batch callbacks, runnable as they are.

    from app.Jobs.Chain import chain
    from app.Jobs.Examples.EtlJobs import ExtractDataJob, TransformDataJob, LoadDataJob
    chain([ExtractDataJob("sensors"), TransformDataJob(), LoadDataJob()]).name("ETL").dispatch()
"""
from __future__ import annotations

import logging
from typing import Any

from app.Jobs.Chain import ChainableJob

log = logging.getLogger("jobs.etl")


class ExtractDataJob(ChainableJob):
    def __init__(self, source: str = "sensors") -> None:
        super().__init__()
        self.source = source

    def _handle(self) -> dict[str, Any]:
        return {"source": self.source, "rows": [1, 2, 3, 4]}


class TransformDataJob(ChainableJob):
    def _handle(self) -> dict[str, Any]:
        extracted = self.get_previous_result() or {"rows": []}
        return {"source": extracted.get("source"), "rows": [r * 10 for r in extracted["rows"]]}


class LoadDataJob(ChainableJob):
    def _handle(self) -> int:
        transformed = self.get_previous_result() or {"rows": []}
        log.info("loaded %d rows from %s", len(transformed["rows"]), transformed.get("source"))
        return len(transformed["rows"])


def batch_done(batch: Any) -> None:
    """A `then` callback: importable, so a worker can call it."""
    log.info("batch %s finished: %d jobs", batch.id, batch.total_jobs)


def batch_failed(batch: Any, exception: BaseException) -> None:
    """A `catch` callback taking the batch and the first exception beyond allow_failures."""
    log.error("batch %s failed: %s", batch.id, exception)
