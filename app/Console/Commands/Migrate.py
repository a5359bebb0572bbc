"""migrate: create or update the queue tables (Alembic upgrade head)."""
from __future__ import annotations

from app.Console.Command import Command
from app.Queue.Database import migrator
from app.Queue.Database.connection import describe, translate_errors
from app.Queue.Database.mysql_checks import charset_problem, is_mysql, packet_problem
from app.Queue.Database.tables import QUEUE_TABLES
from app.Queue.errors import ConfigurationError
from app.Queue.QueueManager import manager


class MigrateCommand(Command):
    name = "migrate"
    description = "Create or update the queue tables (jobs, failed_jobs, job_batches, cache, cache_locks)"

    def run_command(self) -> int:
        qm = manager()
        engine = qm.engine()
        with translate_errors(str(engine.url)):
            if is_mysql(engine):  # before creating anything: tables take the database's character set
                with engine.connect() as conn:
                    problem = charset_problem(conn, QUEUE_TABLES)
                if problem:
                    raise ConfigurationError(problem)
            before = migrator.current(engine)
            migrator.upgrade(engine)
            after = migrator.current(engine)
            warning = None
            if is_mysql(engine):
                with engine.connect() as conn:
                    warning = packet_problem(conn, int(qm.config.get("max_payload_bytes", 0)))
        if before == after:
            self.line(f"Nothing to migrate: {describe(str(engine.url))} is at {after}.")
        else:
            self.line(f"<info>Migrated</info> {describe(str(engine.url))} from {before or 'empty'} to {after}.")
        if warning:
            self.line_error(f"<comment>warning: {warning}</comment>")
        return 0
