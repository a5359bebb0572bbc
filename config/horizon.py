"""Horizon supervisor settings (`python artisan horizon`), in Laravel Horizon's shape.

`defaults` holds every supervisor's settings; `environments[APP_ENV]` overrides them key by key
(a supervisor named only under an environment is taken as is). See docs/deployment.md.
HORIZON_CONFIG=path/to/file.json or module:attribute replaces this file (tests, other layouts).
"""
from __future__ import annotations

from typing import Any

from config.env import env


def settings() -> dict[str, Any]:
    """Build the Horizon configuration."""
    connection = env("QUEUE_CONNECTION", "database") or "database"
    return {
        # seconds a job may wait on `connection:queue` before horizon logs a long-wait warning
        "waits": {f"{connection}:default": 60},
        # minutes to keep job lists shown by the dashboard (Horizon's trim)
        "trim": {"recent": 60, "pending": 60, "completed": 60, "recent_failed": 10080, "failed": 10080, "monitored": 10080},
        # snapshots (horizon:snapshot, every 5 minutes) kept for the metrics graphs
        "metrics": {"trim_snapshots": {"job": 24, "queue": 24}},
        "memory_limit": 128,          # MB of RSS of the master before it exits 12 for its service manager to restart it
        "fast_termination": False,    # True: horizon:terminate returns without waiting for workers
        "heartbeat": 2.0,             # seconds between the master's heartbeats and command polls
        "defaults": {
            "supervisor-1": {
                "connection": connection,
                "queue": ["default"],
                "balance": "auto",
                "auto_scaling_strategy": "time",
                "min_processes": 1,
                "max_processes": 1,
                "balance_max_shift": 1,
                "balance_cooldown": 3,
                "tries": 3,
                "timeout": 60,
                "memory": 128,
                "concurrency": 1,
                "max_jobs": 0,
                "max_time": 0,
                "nice": 0,
            },
        },
        "environments": {
            "production": {"supervisor-1": {"max_processes": 10, "balance_max_shift": 1, "balance_cooldown": 3}},
            "local": {"supervisor-1": {"max_processes": 3}},
        },
    }
