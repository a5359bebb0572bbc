"""The Supervisors page groups workers under the horizon master and supervisor that started them."""
from __future__ import annotations

from app.Horizon.HorizonState import HorizonState
from app.Horizon.MastersRepository import STANDALONE, MastersRepository
from app.Queue.Support.time import now
from app.Queue.WorkerRegistry import WorkerRegistry


def _worker(cache, worker_id: str, host: str, pid: int) -> None:
    registry = WorkerRegistry(cache)
    registry.join(worker_id)
    registry.publish({"id": worker_id, "name": "default", "pid": pid, "host": host, "connection": "database",
                      "queues": ["default"], "started_at": now(), "last_seen": now(), "processed": 0,
                      "failed": 0, "released": 0, "current": None, "memory_mb": 40.0})


def test_workers_of_a_horizon_supervisor_show_under_its_master_and_the_rest_as_standalone(queue_env):
    cache = queue_env.cache
    state = HorizonState(cache)
    token = state.claim("web-1", "host-a", 4242, 60)
    state.join("web-1")
    state.heartbeat({"name": "web-1", "host": "host-a", "pid": 4242, "status": "paused", "supervisors": [
        {"name": "supervisor-1", "connection": "database", "queues": ["default"],
         "pids": {"default": [101, 102], "junk": "not a list"}},
        "not a supervisor"]}, token, 60)
    _worker(cache, "w101", "host-a", 101)
    _worker(cache, "w102", "host-a", 102)
    _worker(cache, "w999", "host-a", 999)   # started by hand on the same host
    _worker(cache, "w101b", "host-b", 101)  # same pid on another host: not horizon's

    tree = MastersRepository(queue_env).masters()

    hosts = {h["name"]: h for h in tree["hosts"]}
    masters_a = {m["name"]: m for m in hosts["host-a"]["masters"]}
    assert masters_a["web-1"]["status"] == "paused"
    [supervisor] = masters_a["web-1"]["supervisors"]
    assert supervisor["name"] == "supervisor-1"
    assert sorted(p["pid"] for p in supervisor["processes"]) == [101, 102]
    assert [p["pid"] for s in masters_a[STANDALONE]["supervisors"] for p in s["processes"]] == [999]
    assert [m["name"] for m in hosts["host-b"]["masters"]] == [STANDALONE]
    assert tree["processes"] == 4


def test_a_concurrent_worker_shows_the_job_each_busy_slot_runs(queue_env):
    from tests.dashboard_support import client

    registry = WorkerRegistry(queue_env.cache)
    registry.join("w-c")
    t = now()
    slots = [{"job": "ResizeImageJob", "uuid": "u-1", "queue": "images", "attempts": 1, "started_at": t - 4},
             {"job": "<script>x</script>", "uuid": "u-2", "queue": "images", "attempts": 2, "started_at": t - 1},
             "junk from the store"]
    registry.publish({"id": "w-c", "name": "default", "pid": 77, "host": "host-a", "connection": "database",
                      "queues": ["images"], "started_at": t, "last_seen": t, "processed": 3, "failed": 0, "released": 0,
                      "current": slots[0], "concurrency": 4, "slots": slots, "memory_mb": 50.0})

    [process] = MastersRepository(queue_env).masters()["hosts"][0]["masters"][0]["supervisors"][0]["processes"]
    assert process["concurrency"] == 4 and process["status"] == "busy"
    assert [(s["job"], s["id"], s["running_for"] >= 3.9) for s in process["slots"]] == [
        ("ResizeImageJob", "u-1", True), ("<script>x</script>", "u-2", False)]
    page = client().get("/horizon/supervisors").text
    assert "ResizeImageJob" in page and "&lt;script&gt;x&lt;/script&gt;" in page and "2 of 4 slots busy" in page
