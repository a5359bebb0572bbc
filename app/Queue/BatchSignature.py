"""Signed batch options: moved to app/Bus/BatchSignature.py; this path keeps working for existing imports."""
from __future__ import annotations

from app.Bus.BatchSignature import (  # noqa: F401  (re-exported)
    SIGNATURE,
    UNSIGNED,
    sign_options,
    verified_options,
)

__all__ = ['SIGNATURE', 'UNSIGNED', 'sign_options', 'verified_options']
