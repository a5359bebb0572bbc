"""What middleware options hold so they survive the queue: exception types as class paths, functions as references.

A lambda or closure cannot be stored: middleware holding one must come from a job's
`middleware()` method (built on the worker), and storing it in `__init__` is refused
with a clear error when the job is dispatched.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from app.Queue.errors import SerializationError
from app.Queue.Serializer import class_path
from app.Bus import Callbacks
from app.Queue.QueueManager import manager
from app.Bus.Callbacks import _positional

Predicate = Callable[..., Any]


def exception_paths(types: Iterable[type[BaseException] | str]) -> list[str]:
    """Exception classes as `module:Class` text, matched later without importing anything."""
    return [t if isinstance(t, str) else class_path(t) for t in types]


def matches(exc: BaseException, paths: Iterable[str]) -> bool:
    """Whether `exc` is an instance of one of the classes named by `paths`."""
    wanted = set(paths)
    return any(class_path(c) in wanted for c in type(exc).__mro__)


def storable(value: Any, what: str) -> Any:
    """Turn a function into `{"fn": "module:qualname"}` for the payload; refuse lambdas and closures."""
    if value is None or not callable(value) or isinstance(value, dict):
        return value
    try:
        Callbacks.ensure_queueable(value, what, manager().codec.allowed)
    except Callbacks.CallbackError as exc:
        raise SerializationError(f"{exc}; or return this middleware from a middleware() method instead of "
                                 "setting it in __init__") from None
    return {"fn": f"{value.__module__}:{value.__qualname__}"}


def live(value: Any) -> Any:
    """The callable behind a stored reference (loaded only from QUEUE_ALLOWED_JOB_MODULES), or `value` itself."""
    if isinstance(value, dict) and "fn" in value:
        return Callbacks.load(value, manager().codec)
    return value


def call_with_job(fn: Callable[..., Any], job: Any) -> Any:
    """Call a condition with the job when it takes an argument, else with none (Laravel's closures)."""
    return fn(job) if _positional(fn) else fn()
