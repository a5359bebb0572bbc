"""QUEUE_BOOTSTRAP: the host application's start-up code, run once per worker process before its first job.

`QUEUE_BOOTSTRAP=mysite.queue_boot:boot` imports `mysite.queue_boot` and calls `boot()`;
`QUEUE_BOOTSTRAP=mysite.queue_boot` imports the module and calls its `boot()` if it has one
(importing it may be all the set-up there is). Django projects call `django.setup()` there;
others open pools or configure logging. A failing hook stops the worker with one line.
"""
from __future__ import annotations

import importlib
from typing import Any

from app.Queue.errors import ConfigurationError


def run_bootstrap(spec: str | None) -> None:
    """Import and call the QUEUE_BOOTSTRAP hook (nothing when unset)."""
    spec = (spec or "").strip()
    if not spec:
        return
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"QUEUE_BOOTSTRAP={spec}: cannot import {module_name!r} ({exc}); "
                                 "is the project on PYTHONPATH?") from None
    hook: Any = getattr(module, attr or "boot", None)
    if hook is None and attr:
        raise ConfigurationError(f"QUEUE_BOOTSTRAP={spec}: {module_name!r} has no {attr!r}")
    if hook is None:
        return
    if not callable(hook):
        raise ConfigurationError(f"QUEUE_BOOTSTRAP={spec}: {attr or 'boot'!r} is not callable")
    try:
        hook()
    except Exception as exc:
        raise ConfigurationError(f"QUEUE_BOOTSTRAP={spec} failed: {type(exc).__name__}: {exc}") from exc
