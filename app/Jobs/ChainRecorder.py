"""The worker-side chain recorder: moved to app/Bus/ChainRecorder.py; this path keeps working for existing imports."""
from __future__ import annotations

from app.Bus.ChainRecorder import (  # noqa: F401  (re-exported)
    STATUS_TTL,
    ChainRecorder,
    chain_recorder,
    register,
    status_key,
)

__all__ = ['STATUS_TTL', 'ChainRecorder', 'chain_recorder', 'register', 'status_key']
