"""Batch and chain callbacks: moved to app/Bus/Callbacks.py; this path keeps working for existing imports."""
from __future__ import annotations

from app.Bus.Callbacks import (  # noqa: F401  (re-exported)
    Callback,
    CallbackError,
    _describe,
    ensure_queueable,
    _resolve,
    serialize,
    load,
    defined_in,
    _positional,
    arguments,
    run,
)

__all__ = ['Callback', 'CallbackError', 'ensure_queueable', 'serialize', 'load', 'defined_in', 'arguments', 'run']
