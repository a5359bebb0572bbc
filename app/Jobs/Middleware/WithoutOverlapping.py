"""Let only one job of a class (and key) run at a time, across every worker."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from app.Jobs.Middleware.Middleware import Middleware, Next, manager_of
from app.Queue.Serializer import class_path

if TYPE_CHECKING:
    from app.Jobs.Job import Job

DEFAULT_EXPIRE_AFTER = 3600.0  # seconds; a SIGKILLed worker's overlap lock frees itself after this


class WithoutOverlapping(Middleware):
    """Hold a lock while the job runs; a job that finds it held is released (or dropped).

    `release_after`: seconds before a blocked job runs again (counts as an attempt);
    None drops it instead (it counts as done). `expire_after`: the lock's TTL, so a
    crashed worker cannot block the key forever (default one hour).
    """

    def __init__(self, key: str = "", release_after: float | None = 0, expire_after: float | None = None) -> None:
        if expire_after is not None and expire_after <= 0:
            raise ValueError(f"WithoutOverlapping expire_after must be positive seconds, got {expire_after!r}")
        self.key = key
        self.release_after = release_after
        self.expire_after = expire_after
        self.share = False

    def shared(self) -> WithoutOverlapping:
        """Share the lock between job classes: any job using the same key waits (Laravel's shared())."""
        self.share = True
        return self

    def dont_release(self) -> WithoutOverlapping:
        """Drop a blocked job (it counts as done) instead of releasing it to run later."""
        self.release_after = None
        return self

    def lock_key(self, job: Job) -> str:
        if getattr(self, "share", False):
            return f"overlap:shared:{self.key}"
        return f"overlap:{class_path(type(job))}:{self.key}"

    def handle(self, job: Job, next: Next) -> Any:
        locks = manager_of().locks
        key, owner = self.lock_key(job), f"{job.job_id}:{uuid.uuid4().hex}"
        if not locks.acquire(key, owner, self.expire_after or DEFAULT_EXPIRE_AFTER):
            if self.release_after is not None:
                job.release(self.release_after)
            return None
        try:
            return next(job)
        finally:
            locks.release(key, owner)
