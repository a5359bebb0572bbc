"""QueueFailedJob: the failed-jobs table as a SQLAlchemy model (seed path app/models/queue_failed_job.py).

Fields as in seed 000: `id`, `connection`, `queue`, `payload`, `exception`, `failed_at`
(unix seconds; `failed_at_datetime` gives a UTC datetime), plus `uuid`, the id that
`dispatch()` returned. The table is QUEUE_FAILED_TABLE (`failed_jobs`, or a RouteMQ
deployment's `queue_failed_jobs`). Helpers: `find`, `all`, `retry`, `forget`.
It reads the database; with QUEUE_FAILED_DRIVER=redis use `manager().failed` instead.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Mapped

from app.Models.Model import Model
from app.Queue.Database.tables import failed_jobs
from app.Queue.FailedRetrier import retry_failed
from app.Queue.errors import QueueError
from app.Queue.QueueManager import manager


class QueueFailedJob(Model):
    """One permanently failed job."""

    __table__ = failed_jobs

    id: Mapped[int]
    uuid: Mapped[str]
    connection: Mapped[str]
    queue: Mapped[str]
    payload: Mapped[str]
    exception: Mapped[str]
    failed_at: Mapped[int]

    @classmethod
    def find(cls, ident: int | str) -> QueueFailedJob | None:
        """Get a failed job by its uuid or its row id."""
        text = str(ident)
        query = select(cls).where(cls.uuid == text)
        if text.isdigit():
            query = select(cls).where((cls.uuid == text) | (cls.id == int(text)))
        with cls.session() as session:
            return session.scalars(query).first()

    @classmethod
    def all(cls, queue: str | None = None) -> list[QueueFailedJob]:
        """List failed jobs, newest first, optionally of one queue."""
        query = select(cls).order_by(cls.failed_at.desc(), cls.id.desc())
        if queue:
            query = query.where(cls.queue == queue)
        with cls.session() as session:
            return list(session.scalars(query))

    def retry(self) -> str:
        """Push this job back onto its queue with fresh attempts and remove its record; returns its uuid."""

        def missing(ident: str) -> None:
            raise QueueError(f"failed job {ident} is no longer recorded (retried or forgotten already)")

        retry_failed(manager(), [self.uuid], missing)
        return self.uuid

    def forget(self) -> bool:
        """Delete this record; False when it was already gone."""
        return manager().failed.forget(self.uuid)

    @property
    def failed_at_datetime(self) -> datetime:
        """`failed_at` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.failed_at, timezone.utc)

    def __repr__(self) -> str:
        return f"<QueueFailedJob {self.uuid} {self.queue} failed_at={self.failed_at}>"
