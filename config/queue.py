"""Queue settings, in Laravel's shape: connections, failed-job storage, cache store.

Queue definitions (`define_queue`, `QueueManager.rate_limit`) belong at the bottom of
this file, so every process (dispatcher and worker) loads them when it starts.
"""
from __future__ import annotations

from typing import Any

from config.database import table_name
from config.env import env, env_choice, env_float, env_int, env_list, env_switch

MAX_PORT = 65535


def settings() -> dict[str, Any]:
    """Build the queue configuration from the environment; a bad value is an error naming its variable."""
    retry_after = env_int("QUEUE_RETRY_AFTER", 30, minimum=1)
    redis_db = env_int("REDIS_DB", 0, minimum=0)
    default = env("QUEUE_CONNECTION", "database") or "database"
    # How long each kind of record lives, in hours (0 keeps forever): one place for all of it.
    # `python artisan queue:prune` applies it (the default schedule runs it daily).
    retention = {
        "failed_jobs": env_int("QUEUE_RETAIN_FAILED_HOURS", 168, minimum=0),
        "finished_batches": env_int("QUEUE_RETAIN_BATCHES_HOURS", 48, minimum=0),
        "cancelled_batches": env_int("QUEUE_RETAIN_CANCELLED_BATCHES_HOURS", 168, minimum=0),
        "statuses": env_int("QUEUE_RETAIN_STATUSES_HOURS", 24, minimum=0),  # job statuses and results (cache entries, TTL)
        "metrics": env_int("QUEUE_RETAIN_METRICS_HOURS", 168, minimum=0),
        "audit": env_int("QUEUE_RETAIN_AUDIT_HOURS", 2160, minimum=0),
        # the dashboard's completed-job records: a ceiling (workers trim them after QUEUE_COMPLETED_TRIM_MINUTES)
        "completed_jobs": env_int("QUEUE_RETAIN_COMPLETED_HOURS", 24, minimum=0),
    }
    config: dict[str, Any] = {
        "default": default,
        "connections": {
            "sync": {"driver": "sync"},
            "database": {
                "driver": "database",
                "table": table_name("QUEUE_JOBS_TABLE"),
                "queue": "default",
                "retry_after": retry_after,
            },
            "redis": {
                "driver": "redis",
                "enabled": env_switch("ENABLE_REDIS", True),  # seed 000: ENABLE_REDIS=false switches Redis off
                "host": env("REDIS_HOST", "127.0.0.1"),
                "port": env_int("REDIS_PORT", 6379, minimum=1, maximum=MAX_PORT),
                "db": redis_db,
                "password": env("REDIS_PASSWORD") or None,
                "username": env("REDIS_USERNAME") or None,
                "url": env("REDIS_URL") or None,  # wins over host/port/db/password (DESIGN §9)
                "tls_ca": env("REDIS_TLS_CA") or None,
                "tls_cert": env("REDIS_TLS_CERT") or None,
                "tls_key": env("REDIS_TLS_KEY") or None,
                "tls_verify": env("REDIS_TLS_VERIFY") or None,
                "cluster": env("REDIS_CLUSTER") or None,
                "sentinels": env("REDIS_SENTINELS") or None,
                "sentinel_master": env("REDIS_SENTINEL_MASTER") or None,
                "queue": "default",
                "prefix": env("QUEUE_PREFIX", "queues:"),
                "retry_after": retry_after,
                "block_for": env_float("REDIS_BLOCK_FOR", 5, minimum=0, maximum=3600),
            },
        },
        "failed": {"driver": env_choice("QUEUE_FAILED_DRIVER", ("database", "redis"), "database"),
                   "table": table_name("QUEUE_FAILED_TABLE")},
        "cache_store": env_choice("CACHE_STORE", ("redis", "database"), "redis" if default == "redis" else "database"),
        "allowed_job_modules": env_list("QUEUE_ALLOWED_JOB_MODULES", "app.", allow_empty=False),
        "status_ttl": env_int("QUEUE_STATUS_TTL", retention["statuses"] * 3600 or 86400, minimum=1),
        "bootstrap": env("QUEUE_BOOTSTRAP") or None,  # module[:function] run once per worker before its first job
        "worker_permissions": env_list("QUEUE_WORKER_PERMISSIONS", ""),
        # the largest payload a dispatch may store, in bytes (every driver); docs/configuration.md
        "max_payload_bytes": env_int("QUEUE_MAX_PAYLOAD_BYTES", 8 * 1024 * 1024, minimum=1024, maximum=64 * 1024 * 1024),
        # how long a worker waits out an unreachable store before it exits (0: for ever); docs/configuration.md
        "reconnect_timeout": env_float("QUEUE_RECONNECT_TIMEOUT", 60, minimum=0, maximum=7 * 86400),
        # The audit trail (app/Audit): lifecycle events and operator actions, written in batches.
        "audit": {
            "enabled": env_switch("QUEUE_AUDIT", True),
            "store": env_choice("QUEUE_AUDIT_STORE", ("database", "redis"), "") or None,  # default: redis when QUEUE_CONNECTION is
            "stream_max": env_int("QUEUE_AUDIT_STREAM_MAX", 100_000, minimum=1),  # the Redis stream's cap (entries)
            "batch": env_int("QUEUE_AUDIT_BATCH", 500, minimum=1),
            "flush_seconds": env_float("QUEUE_AUDIT_FLUSH_SECONDS", 1, minimum=0.01, maximum=3600),
        },
        "retention": retention,
        # Tenants (app/Tenancy): queues shared fairly between tenants (`*` for all), turns per tenant.
        "tenancy": {
            "fair_queues": env_list("QUEUE_FAIR_QUEUES", ""),
            "weights": {},  # e.g. {"acme": 3}: acme gets three jobs per turn
            "refresh_seconds": 1.0,
            "tenants": env_list("QUEUE_TENANTS", ""),
            "rate_limits": {},  # e.g. {"acme": (100, 60), "*": (1000, 60)}: jobs per seconds, per tenant
            "concurrency": {},  # e.g. {"acme": 2, "*": 10}: jobs of one tenant running at once
        },
    }
    if default not in config["connections"]:
        from app.Queue.errors import ConfigurationError

        raise ConfigurationError(f"QUEUE_CONNECTION must be one of {', '.join(config['connections'])}; got {default!r}")
    return config


# Queue definitions. Examples:
#
# from app.Queue.QueueManager import define_queue, QueueManager
# define_queue("emails", connection="database", max_attempts=5, retry_after=300)
# QueueManager.rate_limit("emails", max_jobs=1000, per_seconds=3600)
