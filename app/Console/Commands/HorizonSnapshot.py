"""horizon:snapshot: store a metrics snapshot (per queue and job class) for the dashboard's graphs."""
from __future__ import annotations

from app.Console.Command import Command
from app.Horizon.HorizonConfig import raw_settings, snapshots_kept
from app.Horizon.HorizonState import HorizonState
from app.Horizon.MetricsSnapshot import take_snapshot
from app.Queue.QueueManager import manager


class HorizonSnapshotCommand(Command):
    name = "horizon:snapshot"
    description = "Store a metrics snapshot for the dashboard (throughput, run times, pending, wait); the scheduler runs it every 5 minutes"

    def run_command(self) -> int:

        qm = manager()
        kept = snapshots_kept(raw_settings().get("metrics", {}))
        snapshot = take_snapshot(qm, HorizonState(qm.cache).masters(), kept)
        self.line(f"<info>Metrics snapshot stored</info> ({len(snapshot['queues'])} queue(s), {len(snapshot['jobs'])} job class(es)).")
        return 0
