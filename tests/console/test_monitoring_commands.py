"""queue:stats, queue:monitor, queue:metrics, queue:health and queue:top in-process."""
from __future__ import annotations

import json
import re

from sqlalchemy import text

from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from app.Queue.WorkerRegistry import WorkerRegistry
from app.Queue.Support.time import now
from tests.fixtures.console_jobs import BrokenJob, EmailJob, ReportJob


def work(qm, queues=("default", "emails")) -> None:
    Worker(qm, WorkerOptions(memory=0, stop_when_empty=True, sleep=0, max_tries=1)).daemon("database", list(queues))


def one_error_line(ran) -> str:
    assert ran.status == 1 and "Traceback" not in ran.err + ran.out
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    return lines[0]


def test_stats_shows_every_queue_as_a_table_and_json(queue_env, artisan_cmd):
    EmailJob.dispatch()
    ReportJob().delay_until(60).dispatch()
    BrokenJob.dispatch()
    work(queue_env, ["default"])
    ran = artisan_cmd("queue:stats")
    assert ran.status == 0
    assert "| database:default | 0       | 1       | 0        | 1      | 0.2" in ran.out
    assert "| database:emails  | 1       | 0" in ran.out
    data = json.loads(artisan_cmd("queue:stats", "--json --queue=emails").out)
    assert data["queues"] == [{"queue": "emails", "connection": "database", "pending": 1, "delayed": 0, "reserved": 0,
                               "failed": 0, "throughput_per_minute": 0.0, "oldest_wait": data["queues"][0]["oldest_wait"],
                               "size": 1, "paused": False}]


def test_stats_lists_recent_batches_with_progress(queue_env, artisan_cmd):
    with queue_env.engine().begin() as conn:
        conn.execute(text("INSERT INTO job_batches (id, name, total_jobs, pending_jobs, failed_jobs, failed_job_ids, options, "
                          "created_at, finished_at) VALUES ('b1', 'Import', 4, 1, 0, '[]', '{}', 2, NULL), "
                          "('b2', 'Done', 2, 0, 0, '[]', '{}', 1, 5)"))
    ran = artisan_cmd("queue:stats")
    assert "| b1    | Import | 75%      | 4     | 1       | 0      | running  |" in ran.out
    assert "| b2    | Done   | 100%     | 2     | 0       | 0      | finished |" in ran.out
    assert json.loads(artisan_cmd("queue:stats", "--json").out)["batches"][0]["progress"] == 75.0


def test_stats_rejects_an_unknown_connection(artisan_cmd):
    assert "unknown queue connection 'nope'" in one_error_line(artisan_cmd("queue:stats", "nope"))


def test_monitor_exits_1_and_names_the_queue_over_its_threshold(queue_env, artisan_cmd):
    for _ in range(3):
        EmailJob.dispatch()
    ok = artisan_cmd("queue:monitor", "emails:3,default:0")
    assert ok.status == 0 and "ALERT" not in ok.out
    over = artisan_cmd("queue:monitor", "emails:2,default:10")
    assert over.status == 1
    assert over.err.strip() == "Queue [database:emails] has 3 jobs, over its threshold of 2."
    data = json.loads(artisan_cmd("queue:monitor", "database:emails,default --max=1 --json").out)
    assert [(d["queue"], d["size"], d["max"], d["status"]) for d in data] == [("emails", 3, 1, "ALERT"), ("default", 0, 1, "OK")]


def test_monitor_bad_input_is_one_line(artisan_cmd):
    assert "has no threshold" in one_error_line(artisan_cmd("queue:monitor", "emails"))
    assert "--max must be a whole number" in one_error_line(artisan_cmd("queue:monitor", "emails --max=lots"))
    assert "unknown queue connection" in one_error_line(artisan_cmd("queue:monitor", "x:emails:5"))
    assert "name the queues" in one_error_line(artisan_cmd("queue:monitor", '","'))


def test_metrics_table_and_json(queue_env, artisan_cmd):
    assert "No finished jobs recorded in the last 24 hours." in artisan_cmd("queue:metrics").out
    for _ in range(3):
        ReportJob.dispatch()
    BrokenJob.dispatch()
    work(queue_env, ["default"])
    ran = artisan_cmd("queue:metrics")
    assert ran.status == 0
    assert "| ReportJob | 3     | 0      |" in ran.out and "100.0%" in ran.out
    assert "| BrokenJob | 1     | 1      |" in ran.out and "0.0%" in ran.out
    data = json.loads(artisan_cmd("queue:metrics", "--job=ReportJob --minutes=5 --json").out)
    assert data[0]["name"] == "ReportJob" and data[0]["count"] == 3 and data[0]["success_rate"] == 1.0
    assert "--minutes must be a number of minutes" in one_error_line(artisan_cmd("queue:metrics", "--minutes=soon"))


def test_health_is_green_on_a_migrated_database(artisan_cmd):
    ran = artisan_cmd("queue:health")
    assert ran.status == 0 and "Healthy." in ran.out
    assert "| workers             | WARN   | no worker is running (nothing waiting)" in ran.out
    assert "| connection redis    | SKIP   | not in use; check it with --connection=redis" in ran.out


def test_health_fails_on_pending_jobs_without_workers_and_reports_dead_ones(queue_env, artisan_cmd):
    ReportJob.dispatch()
    registry = WorkerRegistry(queue_env.cache)
    registry.join("ghost@host:1")  # listed, but never published a heartbeat: killed
    ran = artisan_cmd("queue:health", "--json")
    assert ran.status == 1
    checks = {c["name"]: c for c in json.loads(ran.out)["checks"]}
    assert checks["workers"]["status"] == "FAIL" and "1 job(s) waiting and no worker heartbeat" in checks["workers"]["detail"]
    assert "ghost@host:1" in checks["workers"]["detail"]
    assert registry.workers() == ([], [])  # the dead entry was pruned
    registry.join("w@host:2")
    registry.publish({"id": "w@host:2", "last_seen": now(), "current": None})
    assert artisan_cmd("queue:health").status == 0


def test_health_fails_on_a_bad_app_key_and_missing_migrations(queue_env, artisan_cmd, monkeypatch):
    from app.Queue.Database import migrator

    migrator.downgrade(queue_env.engine(), "0004_create_cache_tables")
    monkeypatch.setenv("APP_KEY", "not-a-key")
    from config import env as env_mod

    env_mod.reload()
    queue_env.reset()
    ran = artisan_cmd("queue:health", "--json")
    assert ran.status == 1
    checks = {c["name"]: c for c in json.loads(ran.out)["checks"]}
    assert checks["APP_KEY"]["status"] == "FAIL" and "APP_KEY" in checks["APP_KEY"]["detail"]
    assert checks["migrations"]["status"] == "FAIL" and "run `python artisan migrate`" in checks["migrations"]["detail"]


def test_health_fails_on_an_unreachable_connection(queue_env, artisan_cmd, monkeypatch):
    monkeypatch.setenv("REDIS_PORT", "1")
    from config import env as env_mod

    env_mod.reload()
    queue_env.reset()
    ran = artisan_cmd("queue:health", "--connection=redis")
    assert ran.status == 1 and "| connection redis    | FAIL" in ran.out
    assert "| connection database | OK" in ran.out


def test_top_draws_bounded_frames_when_not_a_terminal(queue_env, artisan_cmd):
    EmailJob.dispatch()
    registry = WorkerRegistry(queue_env.cache)
    registry.join("w1@box:42")
    registry.publish({"id": "w1@box:42", "pid": 42, "connection": "database", "queues": ["emails"], "processed": 7,
                      "failed": 1, "last_seen": now(), "current": {"job": "EmailJob", "uuid": "abcdef1234", "started_at": now() - 3}})
    ran = artisan_cmd("queue:top", "--iterations=2 --interval=0.1")
    assert ran.status == 0
    assert ran.out.count("queue:top ") == 2
    assert "emails                          1        0         0       0       0.0" in ran.out
    assert "w1@box:42" in ran.out
    assert re.search(r"EmailJob abcdef12 +3\.\ds ", ran.out)  # running 3 s when published, plus the command's own time
    assert "--interval must be at least 0.1" in one_error_line(artisan_cmd("queue:top", "--interval=0"))
    assert "--iterations must be a whole number" in one_error_line(artisan_cmd("queue:top", "--iterations=x"))
