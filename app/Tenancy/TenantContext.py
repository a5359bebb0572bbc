"""The tenant a job runs for: carried in its envelope, restored on the worker before `handle`.

Application hooks (register once, e.g. in QUEUE_BOOTSTRAP or config/queue.py):

    from app.Tenancy.TenantContext import resolve_tenants_with, on_tenant_enter
    resolve_tenants_with(lambda: request_tenant_id())     # dispatch: tenant of jobs that name none
    on_tenant_enter(lambda tenant: set_search_path(tenant)) # worker: before handle (None: no tenant)

Inside a job, `current_tenant()` (a contextvar) names the tenant; it is reset after every attempt.
"""
from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Callable

from app.Queue.events import JobFailed, JobProcessed, JobProcessing, JobReleased
from app.Queue.QueueManager import manager as current
from app.Tenancy.FairQueues import install, tenancy_settings
from app.Tenancy.TenantLimits import register_limits

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("queue_tenant", default=None)

Resolver = Callable[[], "str | int | None"]
EnterHook = Callable[["str | None"], None]


def current_tenant() -> str | None:
    """The tenant of the job running in this context, or None."""
    return _current.get()


def _hooks(manager: QueueManager) -> dict[str, Any]:
    manager.config  # boot first: register() sets the hooks dict
    return manager.tenancy


def resolve_tenants_with(resolver: Resolver, manager: QueueManager | None = None) -> None:
    """Name the tenant of every dispatched job that does not name one (`for_tenant` / `self.tenant`)."""
    _hooks(manager or current())["resolver"] = resolver


def on_tenant_enter(hook: EnterHook, manager: QueueManager | None = None) -> None:
    """Call `hook(tenant)` on the worker before each job's handle (set a schema, a contextvar, ...)."""
    _hooks(manager or current())["enter"].append(hook)


def tenant_for_dispatch(job: Job) -> str | None:
    """The tenant `job` is dispatched for: its own, else the registered resolver's answer."""
    if job.tenant is not None:
        return str(job.tenant)
    resolver = current().tenancy.get("resolver")
    if resolver is None:
        return None
    value = resolver()
    return None if value is None else str(value)


class TenantRestorer:
    """Worker listeners: enter the job's tenant before handle, leave it after the attempt."""

    def __init__(self, hooks: dict[str, Any]) -> None:
        self.hooks = hooks

    def enter(self, event: JobProcessing) -> None:
        tenant = event.envelope.get("tenant")
        tenant = None if tenant is None else str(tenant)
        _current.set(tenant)
        for hook in self.hooks["enter"]:
            hook(tenant)

    def leave(self, event: Any) -> None:
        _current.set(None)


def register(manager: QueueManager) -> None:
    """Wire tenant restoring into the worker, and fair sharing when config/queue.py asks for it."""
    hooks: dict[str, Any] = {"resolver": None, "enter": []}
    manager.tenancy = hooks
    restorer = TenantRestorer(hooks)
    manager.events.listen(JobProcessing, restorer.enter)
    for event_type in (JobProcessed, JobFailed, JobReleased):
        manager.events.listen(event_type, restorer.leave)
    install(manager)
    register_limits(manager, tenancy_settings(manager))
