"""JobBatch (seed path app.Models.JobBatch): moved to app/Bus/JobBatch.py; this path keeps working for existing imports."""
from __future__ import annotations

from app.Bus.JobBatch import (  # noqa: F401  (re-exported)
    JobBatch,
)

__all__ = ['JobBatch']
