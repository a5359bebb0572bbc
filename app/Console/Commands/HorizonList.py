"""horizon:list: every running master on every host, with its supervisors and their processes."""
from __future__ import annotations

import json

from cleo.helpers import option
from cleo.ui.table_cell import TableCell
from cleo.ui.table_separator import TableSeparator

from app.Console.Command import Command
from app.Console.Support.untrusted import plain
from app.Horizon.HorizonState import HorizonState
from app.Queue.QueueManager import manager


class HorizonListCommand(Command):
    name = "horizon:list"
    description = "List horizon masters on every host with their supervisors and worker processes"
    options = [option("json", None, "Print JSON instead of a table")]

    def run_command(self) -> int:
        masters = HorizonState(manager().cache).masters()
        if self.option("json"):
            self.line(json.dumps(masters, indent=2, default=str))
            return 0
        if not masters:
            self.line("<comment>No horizon master is running.</comment>")
            return 0
        table = self.table()
        table.set_headers(["Master", "Host", "PID", "Status", "Supervisor", "Connection", "Balance", "Processes"])
        rows: list[list[str | TableCell] | TableSeparator] = []
        for m in masters:
            for sup in m.get("supervisors") or [{}]:
                sup = sup if isinstance(sup, dict) else {}
                processes = sup.get("processes")
                processes = processes if isinstance(processes, dict) else {}
                shown = ", ".join(f"{q}: {n}" for q, n in processes.items())
                rows.append([plain(str(m.get("name"))), plain(str(m.get("host", ""))), str(m.get("pid", "")),
                             plain(str(m.get("status"))), plain(str(sup.get("name", ""))),
                             plain(str(sup.get("connection", ""))), plain(str(sup.get("balance", ""))),
                             plain(shown)])
        table.set_rows(rows)
        table.render()
        return 0
