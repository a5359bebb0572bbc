"""Moved to app/Queue/Redis/RedisFailedJobProvider.py; this path re-exports it for code that still imports it here."""
from __future__ import annotations

from app.Queue.Redis.RedisFailedJobProvider import RedisFailedJobProvider  # noqa: F401
