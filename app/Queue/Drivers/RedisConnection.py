"""Moved to app/Queue/Redis/ (errors.py, HeldConnection.py); this path re-exports the old names.

FastLane is now HeldConnection and QuietLane NoReplyConnection.
"""
from __future__ import annotations

from app.Queue.Redis.clients import make_client  # noqa: F401
from app.Queue.Redis.errors import translate, translate_errors, where  # noqa: F401
from app.Queue.Redis.HeldConnection import MAX_UNREAD, HeldConnection, NoReplyConnection  # noqa: F401

FastLane = HeldConnection
QuietLane = NoReplyConnection
