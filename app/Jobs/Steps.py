"""Encoding of jobs that wait inside another payload: moved to app/Bus/Steps.py; this path keeps working for existing imports."""
from __future__ import annotations

from app.Bus.Steps import (  # noqa: F401  (re-exported)
    encode_step,
    decode_step,
)

__all__ = ['encode_step', 'decode_step']
