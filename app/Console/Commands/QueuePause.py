"""queue:pause: stop workers from taking new jobs off a queue (running jobs finish)."""
from __future__ import annotations

from cleo.helpers import argument

from app.Console.Command import Command
from app.Console.Support.targets import parse_target
from app.Console.Support.untrusted import plain
from app.Queue.QueueManager import manager
from app.Queue.Support.time import now
from app.Queue.Worker import paused_key


class QueuePauseCommand(Command):
    name = "queue:pause"
    description = "Pause a queue: workers stop taking its jobs (within a second) until queue:resume"
    arguments = [argument("queue", "QUEUE or CONNECTION:QUEUE")]

    def run_command(self) -> int:
        qm = manager()
        connection, queue = parse_target(self.argument("queue"), qm)
        qm.cache.put(paused_key(connection, queue), {"paused_at": now()})
        self.line(f"<info>Job processing on queue [{plain(connection, one_line=True)}:{plain(queue, one_line=True)}] has been paused.</info>")
        return 0
