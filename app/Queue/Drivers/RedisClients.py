"""Moved to app/Queue/Redis/clients.py; this path re-exports it for code that still imports it here."""
from __future__ import annotations

from app.Queue.Redis.clients import *  # noqa: F401,F403
from app.Queue.Redis.clients import (  # noqa: F401
    RedisTarget,
    ServerModeError,
    close_client,
    is_cluster,
    make_client,
    require_enabled,
    target,
)
