"""Base of the recorders that buffer while a worker loop runs in this process and write in the background.

It counts the worker loops running here and keeps one daemon flush thread from the first loop's
start to the last one's stop, then flushes what is left. Used by the metrics collector and the
dashboard's completed-jobs recorder.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any


class WorkerScopedFlusher(ABC):
    """Worker-loop counting and the background flush thread; subclasses write in `flush()`."""

    thread_name = "queue-flush"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def on_worker_starting(self, event: Any) -> None:
        """Count a worker loop; the first one starts the flush thread."""
        with self._lock:
            self._workers += 1
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._flush_loop, name=self.thread_name, daemon=True)
                self._thread.start()

    def on_worker_stopping(self, event: Any) -> None:
        """Uncount a worker loop; after the last one, stop the thread and write what is buffered."""
        with self._lock:
            self._workers = max(0, self._workers - 1)
            thread = self._thread if self._workers == 0 else None
            if thread is not None:
                self._stopping, self._thread = True, None
        if thread is not None:
            self._wake.set()
            thread.join(10)
        self.flush()

    @abstractmethod
    def flush(self) -> None:
        """Write what is buffered (each recorder's own storage)."""

    @abstractmethod
    def _flush_loop(self) -> None:
        """The background thread's loop (each recorder decides when to flush)."""
