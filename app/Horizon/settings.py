"""Dashboard settings read from the environment (and config/horizon.py's `trim` once the supervisor ships it)."""
from __future__ import annotations

import importlib
from typing import Any

from app.Queue.errors import ConfigurationError
from config.env import env

DEFAULT_COMPLETED_TRIM_MINUTES = 60.0  # Horizon's trim.completed


def _horizon_trim() -> dict[str, Any]:
    """The `trim` block of config/horizon.py (its `settings()` or a HORIZON dict), when that module exists."""
    try:
        module = importlib.import_module("config.horizon")
    except ModuleNotFoundError:
        return {}
    build = getattr(module, "settings", None)
    try:
        horizon = build() if callable(build) else getattr(module, "HORIZON", None)
    except Exception:  # the supervisor reports its own configuration errors; the dashboard keeps the default
        return {}
    trim = horizon.get("trim") if isinstance(horizon, dict) else None
    return trim if isinstance(trim, dict) else {}


def completed_trim_minutes() -> float:
    """Minutes completed jobs are kept: QUEUE_COMPLETED_TRIM_MINUTES, else config/horizon.py's trim.completed, else 60."""
    raw = env("QUEUE_COMPLETED_TRIM_MINUTES")
    if raw is None or raw == "":
        raw = _horizon_trim().get("completed", DEFAULT_COMPLETED_TRIM_MINUTES)
    try:
        minutes = float(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(f"QUEUE_COMPLETED_TRIM_MINUTES must be a number of minutes, got {raw!r}") from None
    if minutes < 0:
        raise ConfigurationError(f"QUEUE_COMPLETED_TRIM_MINUTES must be >= 0, got {raw!r}")
    return minutes


def completed_recording_enabled() -> bool:
    """Whether workers record completed jobs (QUEUE_RECORD_COMPLETED, default on; 0 turns it off)."""
    return (env("QUEUE_RECORD_COMPLETED", "1") or "1").strip().lower() not in ("0", "false", "off", "no")


def dashboard_token() -> str | None:
    """QUEUE_DASHBOARD_TOKEN: the bearer token (or `?token=`) that opens the dashboard off loopback."""
    return env("QUEUE_DASHBOARD_TOKEN") or None


def dashboard_basic_auth() -> tuple[str, str] | None:
    """QUEUE_DASHBOARD_BASIC_AUTH=user:pass, or None."""
    raw = env("QUEUE_DASHBOARD_BASIC_AUTH") or ""
    if not raw:
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ConfigurationError("QUEUE_DASHBOARD_BASIC_AUTH must be user:password")
    return user, password
