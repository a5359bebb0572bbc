"""Permanently failed jobs in the `failed_jobs` table."""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.Queue.contracts import FailedJobRecord
from app.Queue.Database.connection import translate_errors
from app.Queue.Database.tables import failed_jobs
from app.Queue.Support.failed_filter import LIKE_ESCAPE, class_matches, like_pattern
from app.Queue.Support.time import now, now_int


class DatabaseFailedJobProvider:
    """FailedJobProvider over SQL; `log` is idempotent per uuid so a retried failure is one row.

    A repeated failure replaces the row under a new id, so a retry that read the old row can delete
    exactly that one (`forget_record`) without erasing the evidence of a failure that came after it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)

    def log(self, connection: str, queue: str, payload: str, exception: str, uuid: str) -> None:
        row = dict(uuid=uuid, connection=connection, queue=queue, payload=payload, exception=exception, failed_at=now_int())
        with translate_errors(self._url):
            try:
                with self.engine.begin() as conn:
                    conn.execute(failed_jobs.insert().values(**row))
            except IntegrityError:
                with self.engine.begin() as conn:  # same uuid failed again: keep the newest, under a new id
                    self._replace(conn, row)

    @staticmethod
    def _replace(conn, row: dict) -> None:  # type: ignore[no-untyped-def]
        """Delete the uuid's record and insert `row` under an id it never had (SQLite reuses a deleted top rowid)."""
        previous = conn.execute(select(failed_jobs.c.id).where(failed_jobs.c.uuid == row["uuid"])).scalar()
        conn.execute(delete(failed_jobs).where(failed_jobs.c.uuid == row["uuid"]))
        if conn.dialect.name == "sqlite":  # no id counter there: take one above both the old id and every other
            top = conn.execute(select(func.max(failed_jobs.c.id))).scalar()
            row = {**row, "id": max(int(previous or 0), int(top or 0)) + 1}
        conn.execute(failed_jobs.insert().values(**row))

    def all(self, queue: str | None = None) -> list[FailedJobRecord]:
        query = select(failed_jobs).order_by(failed_jobs.c.id.desc())
        if queue:
            query = query.where(failed_jobs.c.queue == queue)
        with translate_errors(self._url), self.engine.connect() as conn:
            return [self._record(r) for r in conn.execute(query)]

    def recent(self, limit: int | None = None, queue: str | None = None, job_class: str | None = None) -> list[FailedJobRecord]:
        """List failed jobs, newest first: at most `limit`, of one queue and/or one job class."""
        query = select(failed_jobs).order_by(failed_jobs.c.id.desc())
        if queue:
            query = query.where(failed_jobs.c.queue == queue)
        if job_class:  # narrowed in SQL, decided on the parsed payload
            query = query.where(failed_jobs.c.payload.like(like_pattern(job_class), escape=LIKE_ESCAPE))
        elif limit:
            query = query.limit(limit)
        found: list[FailedJobRecord] = []
        with translate_errors(self._url), self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=200).execute(query):
                if job_class and not class_matches(row.payload, job_class):
                    continue
                found.append(self._record(row))
                if limit and len(found) >= limit:
                    break
        return found

    def ids(self, queue: str | None = None) -> list[str]:
        """List uuids, oldest first (for retry all)."""
        query = select(failed_jobs.c.uuid).order_by(failed_jobs.c.id)
        if queue:
            query = query.where(failed_jobs.c.queue == queue)
        with translate_errors(self._url), self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def ids_between(self, first: int, last: int, page: int = 500) -> Iterator[str]:
        """Yield the row ids in [first, last] that exist, in pages (a huge range costs what it matches)."""
        after = first - 1
        while True:
            query = (select(failed_jobs.c.id).where(failed_jobs.c.id > after, failed_jobs.c.id <= last)
                     .order_by(failed_jobs.c.id).limit(page))
            with translate_errors(self._url), self.engine.connect() as conn:
                found = [int(r[0]) for r in conn.execute(query)]
            yield from (str(i) for i in found)
            if len(found) < page:
                return
            after = found[-1]

    def find(self, ident: str) -> FailedJobRecord | None:
        with translate_errors(self._url), self.engine.connect() as conn:
            row = conn.execute(select(failed_jobs).where(self._match(ident))).first()
        return self._record(row) if row else None

    def forget(self, ident: str) -> bool:
        with translate_errors(self._url), self.engine.begin() as conn:
            return conn.execute(delete(failed_jobs).where(self._match(ident))).rowcount > 0

    def forget_record(self, record: FailedJobRecord) -> bool:
        same = (failed_jobs.c.id == int(record.id)) & (failed_jobs.c.uuid == record.uuid)
        with translate_errors(self._url), self.engine.begin() as conn:
            return conn.execute(delete(failed_jobs).where(same)).rowcount > 0

    def flush(self, older_than_hours: float | None = None) -> int:
        query = delete(failed_jobs)
        if older_than_hours is not None:
            query = query.where(failed_jobs.c.failed_at <= now() - older_than_hours * 3600)
        with translate_errors(self._url), self.engine.begin() as conn:
            return conn.execute(query).rowcount

    def count(self, queue: str | None = None) -> int:
        query = select(func.count()).select_from(failed_jobs)
        if queue:
            query = query.where(failed_jobs.c.queue == queue)
        with translate_errors(self._url), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _match(ident: str):  # type: ignore[no-untyped-def]
        ident = str(ident)
        if ident.isdigit():
            return (failed_jobs.c.uuid == ident) | (failed_jobs.c.id == int(ident))
        return failed_jobs.c.uuid == ident

    @staticmethod
    def _record(row) -> FailedJobRecord:  # type: ignore[no-untyped-def]
        try:
            failed_at = float(row.failed_at)
        except (TypeError, ValueError):  # SQLite keeps whatever was written to the column
            failed_at = 0.0
        return FailedJobRecord(row.id, str(row.uuid), str(row.connection), str(row.queue), str(row.payload),
                               str(row.exception), failed_at)
