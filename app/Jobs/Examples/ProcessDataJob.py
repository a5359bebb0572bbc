"""Process a chunk of sensor readings (the seed's data-processing example), reporting progress."""
from __future__ import annotations

import logging
from statistics import fmean
from typing import Any

from app.Jobs.Job import Job

log = logging.getLogger("jobs.ProcessDataJob")


class ProcessDataJob(Job):
    queue = "data-processing"
    timeout = 300

    def __init__(self, device_id: str, data_chunk: list[float]) -> None:
        super().__init__()
        self.device_id = device_id
        self.data_chunk = list(data_chunk)

    def handle(self) -> dict[str, Any]:
        total = len(self.data_chunk)
        for done, _ in enumerate(self.data_chunk, start=1):
            if total >= 10 and done % (total // 10) == 0:
                self.set_progress(100 * done / total)
        summary = {"device_id": self.device_id, "count": total,
                   "mean": fmean(self.data_chunk) if self.data_chunk else None,
                   "max": max(self.data_chunk, default=None)}
        log.info("processed %s", summary)
        return summary
