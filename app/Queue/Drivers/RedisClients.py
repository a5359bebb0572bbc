"""Moved to app/Queue/redis/clients.py; this path re-exports it for code that still imports it here."""
from __future__ import annotations

from app.Queue.redis.clients import *  # noqa: F401,F403
from app.Queue.redis.clients import (  # noqa: F401
    RedisTarget,
    ServerModeError,
    close_client,
    is_cluster,
    make_client,
    require_enabled,
    target,
)
