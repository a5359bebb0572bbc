"""The job_batches repository: moved to app/Bus/BatchRepository.py; this path keeps working for existing imports."""
from __future__ import annotations

from app.Bus.BatchRepository import (  # noqa: F401  (re-exported)
    FAILED,
    SUCCEEDED,
    BatchRecord,
    Outcome,
    decide,
    DatabaseBatchRepository,
)

__all__ = ['FAILED', 'SUCCEEDED', 'BatchRecord', 'Outcome', 'decide', 'DatabaseBatchRepository']
