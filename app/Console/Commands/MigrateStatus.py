"""migrate:status: show which migrations have run."""
from __future__ import annotations

from app.Console.Command import Command
from app.Queue.Database import migrator
from app.Queue.Database.connection import translate_errors
from app.Queue.QueueManager import manager


class MigrateStatusCommand(Command):
    name = "migrate:status"
    description = "Show which queue migrations have run"

    def run_command(self) -> int:
        engine = manager().engine()
        with translate_errors(str(engine.url)):
            rows = migrator.status(engine)
        table = self.table()
        table.set_headers(["Ran?", "Migration", "Description"])
        table.set_rows([["Yes" if ran else "<comment>Pending</comment>", rev, doc.splitlines()[0] if doc else ""] for rev, doc, ran in rows])
        table.render()
        return 0 if all(ran for _, _, ran in rows) else 1
