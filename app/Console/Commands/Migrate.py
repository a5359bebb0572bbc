"""migrate: create or update the queue tables (Alembic upgrade head)."""
from __future__ import annotations

from app.Console.Command import Command
from app.Queue.database import migrator
from app.Queue.database.connection import describe, translate_errors
from app.Queue.QueueManager import manager


class MigrateCommand(Command):
    name = "migrate"
    description = "Create or update the queue tables (jobs, failed_jobs, job_batches, cache, cache_locks)"

    def run_command(self) -> int:
        engine = manager().engine()
        with translate_errors(str(engine.url)):
            before = migrator.current(engine)
            migrator.upgrade(engine)
            after = migrator.current(engine)
        if before == after:
            self.line(f"Nothing to migrate: {describe(str(engine.url))} is at {after}.")
        else:
            self.line(f"<info>Migrated</info> {describe(str(engine.url))} from {before or 'empty'} to {after}.")
        return 0
