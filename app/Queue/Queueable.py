"""Queueable: the base every queued job class derives from (app.Jobs.Job does).

The queue side checks "is this a job?" against this contract, so it needs no import of the
job side (issue 11: app/Queue depends on contracts, app/Jobs depends on app/Queue).
"""
from __future__ import annotations

from typing import Sequence


class Queueable:
    """Marks a class whose instances the queue manager accepts; app.Jobs.Job is the one to subclass."""

    __slots__ = ()
    _error_name = "Job"  # what errors call a queueable class (users subclass app.Jobs.Job)

    def tags(self) -> Sequence[str]:
        """Tags shown by monitoring (none unless the job class says; the payload writer skips the call then)."""
        return []
