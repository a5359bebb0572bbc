"""Generate a report file (the seed's long-running example); writes to storage/reports."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from app.Jobs.Job import Job
from config.env import BASE_DIR

log = logging.getLogger("jobs.GenerateReportJob")


class GenerateReportJob(Job):
    queue = "reports"
    timeout = 600
    max_tries = 2

    def __init__(self, user_id: int, report_type: str = "daily") -> None:
        super().__init__()
        self.user_id = user_id
        self.report_type = report_type

    def output_path(self) -> Path:
        return BASE_DIR / "storage" / "reports" / f"{self.report_type}-{self.user_id}.json"

    def handle(self) -> str:
        path = self.output_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        report = {"user_id": self.user_id, "type": self.report_type,
                  "generated_at": datetime.now(timezone.utc).isoformat(), "job_id": self.job_id}
        path.write_text(json.dumps(report, indent=2))
        self.set_progress(100)
        log.info("report written to %s", path)
        return str(path)
