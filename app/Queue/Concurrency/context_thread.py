"""Start a worker's helper thread in the caller's context: listeners find the worker's state through context variables."""
from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable


def start_thread(name: str, target: Callable[..., Any], *args: Any) -> threading.Thread:
    """Start a daemon thread running `target(*args)` in a copy of the calling thread's context."""
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(target, *args), name=name, daemon=True)
    thread.start()
    return thread
