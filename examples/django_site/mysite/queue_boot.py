"""QUEUE_BOOTSTRAP=mysite.queue_boot:boot — set Django up once in each worker process, before its first job.

Django needs `django.setup()` before models can be imported, and a long-running worker must
drop database connections Django considers stale, as a request cycle would: the worker's
lifecycle events do that around every job.
"""
from __future__ import annotations

import os
from typing import Any


def boot() -> None:
    """Configure Django and close stale connections before and after each job."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    import django
    from django.db import close_old_connections

    from app.Queue.events import JobFailed, JobProcessed, JobProcessing, JobReleased
    from app.Queue.QueueManager import manager

    django.setup()

    def close(_event: Any) -> None:
        close_old_connections()

    for event in (JobProcessing, JobProcessed, JobReleased, JobFailed):
        manager().events.listen(event, close)
