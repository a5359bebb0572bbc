"""queue:restart: ask every worker to exit after its current job."""
from __future__ import annotations

from app.Console.Command import Command
from app.Queue.QueueManager import manager
from app.Queue.Support.time import now
from app.Queue.Worker import RESTART_KEY


class QueueRestartCommand(Command):
    name = "queue:restart"
    description = "Make every worker exit after its current job (a supervisor starts them again)"

    def run_command(self) -> int:
        manager().cache.put(RESTART_KEY, now())
        self.line("<info>Broadcasting queue restart signal.</info>")
        return 0
