"""Moved to app/Queue/redis/ (errors.py, held_connection.py); this path re-exports the old names.

FastLane is now HeldConnection and QuietLane NoReplyConnection.
"""
from __future__ import annotations

from app.Queue.redis.clients import make_client  # noqa: F401
from app.Queue.redis.errors import translate, translate_errors, where  # noqa: F401
from app.Queue.redis.held_connection import MAX_UNREAD, HeldConnection, NoReplyConnection  # noqa: F401

FastLane = HeldConnection
QuietLane = NoReplyConnection
