"""queue:retry: push failed jobs back onto their queues."""
from __future__ import annotations

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError
from app.Queue.FailedRetrier import retry_failed
from app.Queue.QueueManager import manager


def parse_range(text: str) -> list[str]:
    """Turn `1-5` (row ids, inclusive) into ["1", ..., "5"]."""
    first, sep, last = text.partition("-")
    if not sep or not first.strip().isdigit() or not last.strip().isdigit() or int(first) > int(last):
        raise UsageError(f"--range must look like 1-5, got {text!r}")
    return [str(i) for i in range(int(first), int(last) + 1)]


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
            targets = ids + [i for r in self.option("range") or [] for i in parse_range(r)]
        if not targets:
            if "all" in ids:  # `make queue-retry-failed` on a clean system is not an error
                self.line("No failed jobs.")
                return 0
            if ids or self.option("range"):
                raise UsageError("no failed job matches")
            if self.option("queue"):
                self.line(f"No failed jobs on queue {self.option('queue')!r}.")
                return 0
            raise UsageError("name failed jobs to retry: uuids, 'all', --queue=NAME or --range=1-5")
        missing: list[str] = []
        locked: list[str] = []
        with self.progress(len(targets)) as advance:
            done = retry_failed(manager(), targets, missing.append, advance, locked.append)
        for ident in missing:
            self.line_error(f"<error>No failed job matches the ID [{ident}].</error>")
        for ident in locked:
            self.line_error(f"<error>Failed job [{ident}] is unique and another queued copy holds its lock; "
                            "left in failed_jobs.</error>")
        self.line(f"<info>Pushed {done} failed job(s) back onto their queues.</info>")
        return 1 if missing or locked else 0
