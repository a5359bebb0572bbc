"""An audit trail with a small batch whose store notes, per append, whether it waited for the reply."""
from __future__ import annotations

from typing import Any

import pytest

from app.Queue.QueueManager import QueueManager


def trail_noting_waits(manager: QueueManager, monkeypatch: pytest.MonkeyPatch, batch: int) -> tuple[Any, list[bool]]:
    """Reboot `manager` with QUEUE_AUDIT_BATCH=`batch`; its trail, and the `wait` flag of each append_many so far."""
    monkeypatch.setenv("QUEUE_AUDIT_BATCH", str(batch))
    from config import env as env_mod

    env_mod.reload()
    manager.reset()
    manager.config  # boots the listeners, and with them the trail
    trail = manager.audit_trail
    assert trail is not None and trail.batch == batch
    waits: list[bool] = []
    store = trail.store
    original = store.append_many
    monkeypatch.setattr(store, "append_many", lambda entries, wait=True: (waits.append(wait), original(entries, wait))[1])
    return trail, waits
