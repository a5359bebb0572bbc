"""Batch and chain callbacks: check a worker can load them, store them in options, call them with the arguments they take."""
from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from typing import TYPE_CHECKING, Any, Callable, Sequence

from app.Bus.Steps import decode_step, encode_step
from app.Jobs.Job import Job
from app.Queue.errors import QueueError
from app.Queue.Serializer import module_allowed

if TYPE_CHECKING:
    from app.Queue.Payload import PayloadCodec
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.callbacks")

Callback = Any  # an importable function or a Job instance (any callable on the sync connection)


class CallbackError(QueueError):
    """A batch or chain callback cannot be stored for a worker."""


def _describe(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    where = f" ({code.co_filename}:{code.co_firstlineno})" if code else ""
    return f"{getattr(fn, '__qualname__', type(fn).__name__)}{where}"


def ensure_queueable(callback: Callback, kind: str, allowed: Sequence[str]) -> None:
    """Refuse callbacks a worker could not load: lambdas, closures, methods, modules not allowed."""
    if isinstance(callback, Job):
        return
    if not callable(callback):
        raise CallbackError(f"{kind} callback must be a function or a Job instance, got {type(callback).__name__}")
    qualname = getattr(callback, "__qualname__", "") or ""
    module = getattr(callback, "__module__", "") or ""
    if not inspect.isfunction(callback) or "<lambda>" in qualname or "<locals>" in qualname or _resolve(module, qualname) is not callback:
        raise CallbackError(
            f"{kind} callback {_describe(callback)} is a lambda, closure or method, which a worker cannot load; "
            "use a module-level function or a Job instance (lambdas are allowed only on the sync connection)"
        )
    if not module_allowed(module, allowed):
        raise CallbackError(f"{kind} callback {module}:{qualname} is outside the allowed job modules {list(allowed)} "
                            "(QUEUE_ALLOWED_JOB_MODULES)")


def _resolve(module: str, qualname: str) -> Any:
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            if inspect.ismodule(getattr(obj, part)):  # never walk into another module's namespace
                return None
            obj = getattr(obj, part)
    except Exception:  # ImportError, AttributeError, or an import that fails on its own
        return None
    return obj


def serialize(callback: Callback, codec: PayloadCodec) -> dict[str, Any]:
    """Store a checked callback as {"fn": "module:qualname"} or {"job": encoded job}."""
    if isinstance(callback, Job):
        return {"job": encode_step(callback, codec)}
    return {"fn": f"{callback.__module__}:{callback.__qualname__}"}


def load(spec: dict[str, Any], codec: PayloadCodec) -> Callback:
    """Load a stored callback: a Job, or a plain function defined in an allowed module.

    The function must be defined where the reference says (its `__module__` and `__qualname__`
    match): a path through a module's imports (`app.X:os.abort`) or to a builtin is refused.
    """
    if not isinstance(spec, dict):
        raise CallbackError(f"callback spec must be an object, got {type(spec).__name__}")
    if "job" in spec:
        return decode_step(spec["job"], codec)
    ref = spec.get("fn")
    module, _, qualname = str(ref if isinstance(ref, str) else "").partition(":")
    if not module or not qualname or not module_allowed(module, codec.allowed):
        raise CallbackError(f"callback {ref!r} is outside the allowed job modules {list(codec.allowed)}")
    fn = _resolve(module, qualname)
    if not defined_in(fn, module, qualname):
        raise CallbackError(f"callback {ref!r} is not a function defined in {module!r}; refusing to call it")
    return fn


def defined_in(fn: Any, module: str, qualname: str) -> bool:
    """Tell whether `fn` is a plain function defined in `module` under `qualname` (not reached through an import)."""
    return (inspect.isfunction(fn) and getattr(fn, "__module__", None) == module
            and getattr(fn, "__qualname__", None) == qualname and "<" not in qualname)


def _positional(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 0
    count = 0
    for p in params:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return 2
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def arguments(fn: Callable[..., Any], kind: str, subject: Any, exception: BaseException | None) -> tuple[Any, ...]:
    """Pick the arguments a callback takes: none; the batch (then/finally) or the exception (catch); or both."""
    n = _positional(fn)
    if kind != "catch":
        return () if n == 0 else (subject,)
    return () if n == 0 else (exception,) if n == 1 else (subject, exception)


def run(callback: Callback, kind: str, subject: Any, exception: BaseException | None,
        manager: QueueManager, queue: str | None, connection: str | None) -> None:
    """Call a function callback, or dispatch a Job callback; a callback's error is logged, not raised."""
    try:
        if isinstance(callback, Job):
            manager.push(callback, queue if callback.queue is None else None, connection)
            return
        result = callback(*arguments(callback, kind, subject, exception))
        if inspect.iscoroutine(result):
            asyncio.run(result)
    except Exception:
        log.exception("%s callback %s raised", kind, _describe(callback))
