"""queue:health: check APP_KEY, migrations, every connection in use, the cache store and worker heartbeats."""
from __future__ import annotations

from dataclasses import asdict

from cleo.helpers import option

from app.Console.Command import Command
from app.Console.Support.health import FAIL, OK, SKIP, WARN, run_checks
from app.Console.Support.untrusted import plain, plain_json
from app.Queue.QueueManager import manager

STYLE = {OK: "info", WARN: "comment", FAIL: "error", SKIP: "comment"}


class QueueHealthCommand(Command):
    name = "queue:health"
    description = "Check configuration, migrations, connections and worker heartbeats; exit 1 on a problem"
    options = [
        option("connection", None, "Also check these connections (comma list)", flag=False),
        option("json", None, "Print JSON instead of a table"),
    ]

    def run_command(self) -> int:
        checks = run_checks(manager(), self.list_option("connection"))
        failed = [c for c in checks if c.status == FAIL]
        if self.option("json"):
            self.line(plain_json({"healthy": not failed, "checks": [asdict(c) for c in checks]}))
        else:
            table = self.table()
            table.set_headers(["Check", "Status", "Detail"])
            table.set_rows([[plain(c.name, one_line=True), f"<{STYLE[c.status]}>{c.status}</>", plain(c.detail, one_line=True)] for c in checks])
            table.render()
            self.line(f"<error>{len(failed)} problem(s) found.</error>" if failed else "<info>Healthy.</info>")
        return 1 if failed else 0
