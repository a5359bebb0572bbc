"""Run a job only on workers granted the permissions it needs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from app.Jobs.Middleware.Middleware import Middleware, Next
from app.Jobs.Security import SecureJob, check_permissions

if TYPE_CHECKING:
    from app.Jobs.Job import Job


class AuthorizationMiddleware(Middleware):
    """Check `permissions` (default: a SecureJob's required_permissions) before handle.

    A missing permission raises AuthorizationError, which fails the job without retries.
    """

    def __init__(self, permissions: Iterable[str] | None = None) -> None:
        self.permissions = list(permissions) if permissions is not None else None

    def handle(self, job: Job, next: Next) -> Any:
        required = self.permissions
        if required is None:
            required = list(job.required_permissions) if isinstance(job, SecureJob) else []
        check_permissions(job, required)
        return next(job)
