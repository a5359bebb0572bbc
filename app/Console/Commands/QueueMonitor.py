"""queue:monitor: exit non-zero when a queue holds more jobs than its threshold (for cron and alerting)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError
from app.Console.Support.targets import parse_target
from app.Queue.events import QueueBusy
from app.Console.Support.untrusted import plain, plain_json
from app.Queue.QueueManager import QueueManager, manager


@dataclass(frozen=True, slots=True)
class Threshold:
    connection: str
    queue: str
    max: int


def parse_thresholds(text: str, qm: QueueManager, default_max: int | None) -> list[Threshold]:
    """Read `emails:100,redis:default:500` (QUEUE:MAX or CONNECTION:QUEUE:MAX; MAX may come from --max)."""
    found = []
    for item in [part.strip() for part in text.split(",") if part.strip()]:
        head, sep, tail = item.rpartition(":")
        if sep and tail.isdigit():
            target, limit = head, int(tail)
        elif default_max is not None:
            target, limit = item, default_max
        else:
            raise UsageError(f"{item!r} has no threshold: write QUEUE:MAX (e.g. emails:100) or pass --max")
        connection, queue = parse_target(target, qm)
        found.append(Threshold(connection, queue, limit))
    if not found:
        raise UsageError("name the queues to monitor, e.g. queue:monitor default:100,emails:50")
    return found


class QueueMonitorCommand(Command):
    name = "queue:monitor"
    description = "Check queue sizes against thresholds (QUEUE:MAX,...); exit 1 when one is over"
    arguments = [argument("queues", "Comma list of QUEUE:MAX or CONNECTION:QUEUE:MAX")]
    options = [
        option("max", None, "Threshold for queues given without one", flag=False),
        option("json", None, "Print JSON instead of a table"),
    ]

    def run_command(self) -> int:
        qm = manager()
        default_max = self._parse("max", int, "a whole number", None, 0)
        results = []
        for t in parse_thresholds(self.argument("queues"), qm, default_max):
            size = qm.connection(t.connection).sizes(t.queue).total
            results.append({**asdict(t), "size": size, "status": "ALERT" if size > t.max else "OK"})
        over = [r for r in results if r["status"] == "ALERT"]
        if self.option("json"):
            self.line(plain_json(results))
        else:
            table = self.table()
            table.set_headers(["Queue", "Size", "Max", "Status"])
            table.set_rows([[plain(f"{r['connection']}:{r['queue']}", one_line=True), str(r["size"]), str(r["max"]),
                             "<error>ALERT</error>" if r["status"] == "ALERT" else "<info>OK</info>"] for r in results])
            table.render()
        for r in over:  # listeners (config/queue.py: Queue.busy(...)) can notify someone
            qm.events.dispatch(QueueBusy(r["connection"], r["queue"], r["size"], r["max"]))
        for r in over:
            name = f"{plain(r['connection'], one_line=True)}:{plain(r['queue'], one_line=True)}"
            self.line_error(f"<error>Queue [{name}] has {r['size']} jobs, over its threshold of {r['max']}.</error>")
        return 1 if over else 0
