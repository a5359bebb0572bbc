"""The worker-side batch recorder: moved to app/Bus/BatchRecorder.py; this path keeps working for existing imports."""
from __future__ import annotations

from app.Bus.BatchRecorder import (  # noqa: F401  (re-exported)
    BatchRecorder,
    batch_recorder,
    register,
)

__all__ = ['BatchRecorder', 'batch_recorder', 'register']
