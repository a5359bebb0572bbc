"""Moved to app/Queue/redis/failed_jobs.py; this path re-exports it for code that still imports it here."""
from __future__ import annotations

from app.Queue.redis.failed_jobs import RedisFailedJobProvider  # noqa: F401
