"""queue:resume: let workers take jobs from a paused queue again."""
from __future__ import annotations

from cleo.helpers import argument

from app.Console.Command import Command
from app.Console.Support.targets import parse_target
from app.Console.Support.untrusted import plain
from app.Queue.QueueManager import manager
from app.Queue.Worker import paused_key


class QueueResumeCommand(Command):
    name = "queue:resume"
    description = "Resume a paused queue"
    arguments = [argument("queue", "QUEUE or CONNECTION:QUEUE")]

    def run_command(self) -> int:
        qm = manager()
        connection, queue = parse_target(self.argument("queue"), qm)
        key = paused_key(connection, queue)
        if qm.cache.get(key) is None:
            self.line(f"Queue [{plain(connection, one_line=True)}:{plain(queue, one_line=True)}] was not paused.")
            return 0
        qm.cache.forget(key)
        self.line(f"<info>Job processing on queue [{plain(connection, one_line=True)}:{plain(queue, one_line=True)}] has been resumed.</info>")
        return 0
