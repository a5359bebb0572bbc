"""queue:top: a live full-screen view of queues and workers, redrawn every second; q or Ctrl-C quits."""
from __future__ import annotations

import shutil
import sys

from cleo.helpers import argument, option

from app.Console.Command import Command
from app.Console.Commands.QueueStats import queue_rows
from app.Console.Support.top import ENTER_SCREEN, HOME_CLEAR, LEAVE_SCREEN, keyboard, render_frame
from app.Console.Support.untrusted import plain
from app.Queue.QueueManager import manager
from app.Queue.WorkerRegistry import WorkerRegistry


class QueueTopCommand(Command):
    name = "queue:top"
    description = "Live view of queues, throughput and the job each worker runs (q quits)"
    arguments = [argument("connection", "The connection (default: QUEUE_CONNECTION)", optional=True)]
    options = [
        option("queue", None, "Only these queues (comma list)", flag=False),
        option("interval", None, "Seconds between refreshes", flag=False, default="1"),
        option("iterations", None, "Draw this many frames, then exit (0: until q; default 1 when not a terminal)", flag=False),
    ]

    def run_command(self) -> int:
        qm = manager()
        connection = self.argument("connection") or qm.default_connection
        qm.connection_config(connection)
        interval = self.float_option("interval", 1.0, minimum=0.1)
        tty = self.is_tty()
        iterations = self.int_option("iterations", 0 if tty else 1)
        if not tty:
            for n in range(iterations or 1):
                if n:
                    self._sleep(interval)
                    self.line("")
                for line in self._frame(connection):
                    self.line(plain(line, one_line=True))  # the frame has no markup of its own
            return 0
        return self._live(connection, interval, iterations)

    def _frame(self, connection: str) -> list[str]:
        rows = queue_rows(connection, self.list_option("queue"))
        live, _ = WorkerRegistry(manager().cache).workers()
        width = shutil.get_terminal_size((120, 40)).columns if self.is_tty() else 200
        return render_frame(connection, rows, live, width)

    def _live(self, connection: str, interval: float, iterations: int) -> int:
        out = sys.stdout
        out.write(ENTER_SCREEN)
        try:
            with keyboard() as read_key:
                drawn = 0
                while True:
                    out.write(HOME_CLEAR + "\r\n".join(self._frame(connection)) + "\r\n")
                    out.flush()
                    drawn += 1
                    if iterations and drawn >= iterations:
                        return 0
                    if read_key(interval) in ("q", "Q"):
                        return 0
        except KeyboardInterrupt:
            return 0
        finally:
            out.write(LEAVE_SCREEN)
            out.flush()

    @staticmethod
    def _sleep(seconds: float) -> None:
        import time

        time.sleep(seconds)
