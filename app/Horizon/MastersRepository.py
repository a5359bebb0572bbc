"""Hosts, masters, supervisors and worker processes, from the cache store.

Masters published by `python artisan horizon` (app/Horizon/HorizonState.py) are shown with
their status and supervisors; a worker whose pid one of their supervisors lists, on the same
host, is drawn under that supervisor. Workers started on their own (`queue:work`) show under
one implicit "standalone" master per host, with one supervisor per connection and queue list.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.Horizon.HorizonState import HorizonState
from app.Queue.Support.time import now
from app.Queue.WorkerRegistry import WorkerRegistry

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

STANDALONE = "standalone"
MAX_SLOTS = 256  # slots shown per process (a record is store data: never trusted to be small)


def _running(job: Any, t: float) -> dict[str, Any] | None:
    """One running job of a worker's record (a slot), or None when the record holds something else."""
    if not isinstance(job, dict):
        return None
    return {"job": str(job.get("job", "")), "id": str(job.get("uuid") or ""), "queue": str(job.get("queue") or ""),
            "attempts": job.get("attempts"),
            "running_for": round(max(0.0, t - float(job["started_at"])), 1)
            if isinstance(job.get("started_at"), (int, float)) else None}


def worker_view(record: dict[str, Any], t: float) -> dict[str, Any]:
    """The fields the page shows for one worker process (all values from the store are untrusted)."""
    current = _running(record.get("current"), t)
    slots = [s for s in (_running(job, t) for job in (record.get("slots") or [])[:MAX_SLOTS]
                         if isinstance(record.get("slots"), list)) if s is not None]
    concurrency = record.get("concurrency")
    last_seen = record.get("last_seen")
    return {
        "id": str(record.get("id", "")), "name": str(record.get("name", "")), "pid": record.get("pid"),
        "host": str(record.get("host", "?")), "connection": str(record.get("connection", "")),
        "queues": [str(q) for q in record.get("queues") or []],
        "processed": record.get("processed", 0), "failed": record.get("failed", 0), "released": record.get("released", 0),
        "memory_mb": record.get("memory_mb"),
        "heartbeat_age": round(max(0.0, t - float(last_seen)), 1) if isinstance(last_seen, (int, float)) else None,
        "current": current,
        # --concurrency=N: the job each busy slot runs (a worker without slots in its record runs `current`)
        "concurrency": concurrency if isinstance(concurrency, int) and concurrency > 0 else 1,
        "slots": slots or ([current] if current else []),
        "status": "busy" if current or slots else "idle",
    }


class MastersRepository:
    """Group live workers host -> master -> supervisor -> processes."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager

    def workers(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Live worker views, and ids of workers whose heartbeat stopped."""
        live, gone = WorkerRegistry(self.manager.cache).workers()
        t = now()
        return [worker_view(r, t) for r in live if isinstance(r, dict)], gone

    def masters(self) -> dict[str, Any]:
        """The tree the Supervisors page draws, plus the ids of workers that stopped beating."""
        workers, gone = self.workers()
        hosts: dict[str, dict[str, Any]] = {}
        owner: dict[tuple[str, int], dict[str, Any]] = {}  # (host, pid) -> the horizon supervisor listing it
        for record in self._horizon_masters():
            host = hosts.setdefault(record["host"], {"name": record["host"], "masters": {}})
            master = host["masters"].setdefault(record["name"], {"name": record["name"], "status": record["status"],
                                                                  "supervisors": {}})
            for sup_record in record["supervisors"]:
                sup = master["supervisors"].setdefault(sup_record["name"], {
                    "name": sup_record["name"], "connection": sup_record["connection"],
                    "queues": sup_record["queues"], "processes": []})
                for pid in sup_record["pids"]:
                    owner[(record["host"], pid)] = sup
        for w in workers:
            sup = owner.get((w["host"], w["pid"])) if isinstance(w["pid"], int) else None
            if sup is None:
                host = hosts.setdefault(w["host"], {"name": w["host"], "masters": {}})
                master = host["masters"].setdefault(STANDALONE, {"name": STANDALONE, "status": "running", "supervisors": {}})
                key = f"{w['connection']}:{','.join(w['queues'])}"
                sup = master["supervisors"].setdefault(key, {"name": key, "connection": w["connection"],
                                                             "queues": w["queues"], "processes": []})
            sup["processes"].append(w)
        tree = [{"name": h["name"], "masters": [
            {**m, "supervisors": list(m["supervisors"].values())} for m in h["masters"].values()]} for h in hosts.values()]
        return {"hosts": sorted(tree, key=lambda h: h["name"]), "processes": len(workers), "gone": gone}

    def _horizon_masters(self) -> list[dict[str, Any]]:
        """Live horizon masters, each reduced to checked strings and pid lists (the store is untrusted)."""
        masters = []
        for record in HorizonState(self.manager.cache).masters():
            supervisors = []
            for sup in record.get("supervisors") or []:
                if not isinstance(sup, dict):
                    continue
                raw_pids = sup.get("pids")
                pids = raw_pids if isinstance(raw_pids, dict) else {}
                supervisors.append({
                    "name": str(sup.get("name", "?")), "connection": str(sup.get("connection", "")),
                    "queues": [str(q) for q in sup.get("queues") or [] if isinstance(q, str)],
                    "pids": [p for group in pids.values() if isinstance(group, list) for p in group if isinstance(p, int)],
                })
            masters.append({"name": str(record.get("name", "?")), "host": str(record.get("host", "?")),
                            "status": str(record.get("status", "running")), "supervisors": supervisors})
        return masters
