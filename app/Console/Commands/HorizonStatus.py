"""horizon:status: whether any horizon master is running (exit 0), or all are paused / none is (exit 1)."""
from __future__ import annotations

from app.Console.Command import Command
from app.Horizon.HorizonState import HorizonState
from app.Queue.QueueManager import manager


class HorizonStatusCommand(Command):
    name = "horizon:status"
    description = "Show whether Horizon is running, paused or inactive (exit 0 only when running)"

    def run_command(self) -> int:
        status = HorizonState(manager().cache).status()
        if status == "running":
            self.line("<info>Horizon is running.</info>")
            return 0
        self.line(f"<comment>Horizon is {status}.</comment>")
        return 1
