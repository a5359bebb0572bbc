"""queue:retry: push failed jobs back onto their queues."""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError
from app.Console.Support.untrusted import plain
from app.Queue.FailedRetrier import retry_failed
from app.Queue.QueueManager import manager

MAX_ROW_ID = 2**63 - 1  # failed_jobs.id is a BIGINT


def parse_range(text: str) -> tuple[int, int]:
    """Turn `1-5` (row ids, inclusive) into (1, 5); the ids themselves are looked up, never listed."""
    first, sep, last = text.partition("-")
    if not sep or not first.strip().isdigit() or not last.strip().isdigit() or int(first) > int(last):
        raise UsageError(f"--range must look like 1-5, got {text!r}")
    if int(last) > MAX_ROW_ID:
        raise UsageError(f"--range ends must be at most {MAX_ROW_ID}, got {text!r}")
    return int(first), int(last)


def ids_in_range(failed: Any, first: int, last: int) -> Iterator[str]:
    """Stream the failed jobs' row ids within [first, last]: a range of 10^11 ids costs what it matches."""
    between = getattr(failed, "ids_between", None)
    if between is not None:
        yield from between(first, last)
        return
    for record in reversed(failed.all()):  # a provider without paging: one pass over its records
        if first <= int(record.id) <= last:
            yield str(record.id)


class QueueRetryCommand(Command):
    name = "queue:retry"
    description = "Retry failed jobs by uuid (or row id), 'all', --queue or --range"
    arguments = [argument("id", "uuids or ids of failed jobs, or 'all'", optional=True, multiple=True)]
    options = [
        option("queue", None, "Retry every failed job of this queue", flag=False),
        option("range", None, "Retry row ids in a range, e.g. 1-5", flag=False, multiple=True),
        option("tenant", None, "Retry every failed job of this tenant (app/Tenancy)", flag=False),
    ]

    def run_command(self) -> int:
        failed = manager().failed
        ids = list(self.argument("id") or [])
        if self.option("tenant"):
            # lazy: SQLAlchemy (tenant queries read the tables) only when the command runs; artisan list builds every command
            from app.Tenancy.TenantJobs import failed_of, require_known

            require_known(manager(), str(self.option("tenant")), [manager().default_connection])
            targets = failed_of(manager(), str(self.option("tenant")))
            if not targets:
                self.line(f"No failed jobs of tenant {self.option('tenant')!r}.")
                return 0
        elif "all" in ids:
            targets = failed.ids()
        elif self.option("queue"):
            targets = failed.ids(self.option("queue"))
        else:
            ranges = [parse_range(r) for r in self.option("range") or []]
            if ranges:
                return self._retry(itertools.chain(ids, *(ids_in_range(failed, a, b) for a, b in ranges)), None)
            targets = ids
        if not targets:
            if "all" in ids:  # `make queue-retry-failed` on a clean system is not an error
                self.line("No failed jobs.")
                return 0
            if ids or self.option("range"):
                raise UsageError("no failed job matches")
            if self.option("queue"):
                self.line(f"No failed jobs on queue {plain(repr(self.option('queue')), one_line=True)}.")
                return 0
            raise UsageError("name failed jobs to retry: uuids, 'all', --queue=NAME or --range=1-5")
        return self._retry(iter(targets), len(targets))

    def _retry(self, targets: Iterator[str], total: int | None) -> int:
        """Retry each target as it comes (a range is streamed, so memory stays flat)."""
        missing: list[str] = []
        locked: list[str] = []
        with self.progress(total or 0) as advance:
            done = retry_failed(manager(), targets, missing.append, advance, locked.append)
        for ident in missing:
            self.line_error(f"<error>No failed job matches the ID [{plain(ident, one_line=True)}].</error>")
        for ident in locked:
            self.line_error(f"<error>Failed job [{plain(ident, one_line=True)}] is unique and another queued copy holds its lock; "
                            "left in failed_jobs.</error>")
        if total is None and done == 0 and not missing and not locked:
            raise UsageError("no failed job matches")
        self.line(f"<info>Pushed {done} failed job(s) back onto their queues.</info>")
        return 1 if missing or locked else 0
