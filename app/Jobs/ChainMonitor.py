"""ChainMonitor (seed path app.Jobs.ChainMonitor): moved to app/Bus/ChainMonitor.py; this path keeps working for existing imports."""
from __future__ import annotations

from app.Bus.ChainMonitor import (  # noqa: F401  (re-exported)
    STATUS_TTL,
    status_key,
    ChainStatus,
    ChainMonitor,
)

__all__ = ['STATUS_TTL', 'status_key', 'ChainStatus', 'ChainMonitor']
