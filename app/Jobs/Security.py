"""SecureJob: sensitive fields encrypted at rest, and permissions the worker must hold to run it.

    class ProcessPaymentJob(SecureJob):
        def __init__(self, payment_data):
            super().__init__()
            self.payment_data = payment_data
            self.set_sensitive_fields(["payment_data"])
            self.set_required_permissions(["process_payments"])

A worker's granted permissions come from `queue:work --permissions=a,b` or the env
QUEUE_WORKER_PERMISSIONS; `*` grants every permission. A job lacking one fails at
once, without retries, with an AuthorizationError. Every payload is also signed
with APP_KEY (app/Queue/Payload.py), so the lists cannot be altered in the queue.
"""
from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from app.Jobs.Job import Job
from app.Queue.errors import AuthorizationError
from app.Queue.QueueManager import manager as current

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

WILDCARD = "*"


def granted_permissions(manager: QueueManager | None = None) -> frozenset[str]:
    """The permissions of this process: what queue:work was given, else QUEUE_WORKER_PERMISSIONS."""
    if manager is None:
        manager = current()
    granted = manager.worker_permissions
    if granted is None:
        granted = tuple(manager.config.get("worker_permissions", ()))
    return frozenset(granted)


def check_permissions(job: Job, required: Iterable[str], manager: QueueManager | None = None) -> None:
    """Raise AuthorizationError when the worker lacks any of `required`."""
    needed = [p for p in required if p]
    if not needed:
        return
    granted = granted_permissions(manager)
    if WILDCARD in granted:
        return
    missing = [p for p in needed if p not in granted]
    if missing:
        raise AuthorizationError(
            f"{type(job).__name__} requires permission(s) {', '.join(missing)} that this worker lacks; "
            f"grant them with `queue:work --permissions={','.join(needed)}` or QUEUE_WORKER_PERMISSIONS"
        )


def _authorizing(handle: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a handle so the permission check runs first (sync and async handles alike)."""
    if inspect.iscoroutinefunction(handle):
        @functools.wraps(handle)
        async def guarded_async(self: SecureJob, *args: Any, **kwargs: Any) -> Any:
            self.authorize()
            return await handle(self, *args, **kwargs)

        guarded_async.__authorizes__ = True  # type: ignore[attr-defined]
        return guarded_async

    @functools.wraps(handle)
    def guarded(self: SecureJob, *args: Any, **kwargs: Any) -> Any:
        self.authorize()
        return handle(self, *args, **kwargs)

    guarded.__authorizes__ = True  # type: ignore[attr-defined]
    return guarded


class SecureJob(Job):
    """A job whose sensitive fields are encrypted at rest and which only permitted workers run."""

    sensitive_fields: Sequence[str] = ()
    required_permissions: Sequence[str] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handle = cls.__dict__.get("handle")
        if handle is not None and not getattr(handle, "__authorizes__", False):
            cls.handle = _authorizing(handle)  # type: ignore[method-assign]

    def set_sensitive_fields(self, fields: Iterable[str]) -> SecureJob:
        """Encrypt these attributes at rest (AES-GCM under APP_KEY); the rest stays plain."""
        self.sensitive_fields = [str(f) for f in fields]
        return self

    def set_required_permissions(self, permissions: Iterable[str]) -> SecureJob:
        """Run only on workers granted all of these permissions."""
        self.required_permissions = [str(p) for p in permissions]
        return self

    def authorize(self) -> None:
        """Raise AuthorizationError unless this worker holds every required permission."""
        check_permissions(self, self.required_permissions)


__all__ = ["SecureJob", "check_permissions", "granted_permissions"]
