"""queue:pause / queue:resume: a paused queue is skipped by workers until resumed."""
from __future__ import annotations

from app.Queue.Worker import Worker, paused_key
from app.Queue.WorkerOptions import WorkerOptions
from tests.fixtures.console_jobs import EmailJob, ReportJob


def test_pause_makes_workers_skip_the_queue_until_resume(queue_env, artisan_cmd):
    EmailJob.dispatch()
    ReportJob.dispatch()
    ran = artisan_cmd("queue:pause", "emails")
    assert ran.status == 0 and "[database:emails] has been paused" in ran.out
    Worker(queue_env, WorkerOptions(memory=0, stop_when_empty=True, sleep=0)).daemon("database", ["emails", "default"])
    assert queue_env.size("emails") == 1 and queue_env.size("default") == 0
    ran = artisan_cmd("queue:resume", "database:emails")
    assert ran.status == 0 and "has been resumed" in ran.out
    Worker(queue_env, WorkerOptions(memory=0, stop_when_empty=True, sleep=0)).daemon("database", ["emails"])
    assert queue_env.size("emails") == 0


def test_pause_accepts_connection_prefix_and_uses_define_queue_connection(queue_env, artisan_cmd):
    assert artisan_cmd("queue:pause", "redis:bulk").status == 0
    assert queue_env.cache.get(paused_key("redis", "bulk")) is not None
    queue_env.define_queue("mail", connection="sync")
    assert artisan_cmd("queue:pause", "mail").status == 0
    assert queue_env.cache.get(paused_key("sync", "mail")) is not None


def test_resume_of_a_queue_that_is_not_paused_says_so(artisan_cmd):
    ran = artisan_cmd("queue:resume", "default")
    assert ran.status == 0 and "was not paused" in ran.out


def test_bad_targets_give_one_line_and_exit_1(artisan_cmd):
    for target in ("nowhere:emails", "database:", "a:b:c", ":"):
        ran = artisan_cmd("queue:pause", f'"{target}"')
        assert ran.status == 1, target
        assert len(ran.err.strip().splitlines()) == 1 and "Traceback" not in ran.err
    assert "unknown queue connection 'nowhere'" in artisan_cmd("queue:resume", "nowhere:emails").err
