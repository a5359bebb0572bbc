"""Queue settings, in Laravel's shape: connections, failed-job storage, cache store.

Queue definitions (`define_queue`, `QueueManager.rate_limit`) belong at the bottom of
this file, so every process (dispatcher and worker) loads them when it starts.
"""
from __future__ import annotations

from typing import Any

from config.database import table_name
from config.env import env, env_int, env_switch


def settings() -> dict[str, Any]:
    """Build the queue configuration from the environment."""
    retry_after = env_int("QUEUE_RETRY_AFTER", 30)
    redis_db = env_int("REDIS_DB", 0)
    # How long each kind of record lives, in hours (0 keeps forever): one place for all of it.
    # `python artisan queue:prune` applies it (the default schedule runs it daily).
    retention = {
        "failed_jobs": env_int("QUEUE_RETAIN_FAILED_HOURS", 168),
        "finished_batches": env_int("QUEUE_RETAIN_BATCHES_HOURS", 48),
        "cancelled_batches": env_int("QUEUE_RETAIN_CANCELLED_BATCHES_HOURS", 168),
        "statuses": env_int("QUEUE_RETAIN_STATUSES_HOURS", 24),  # job statuses and results (cache entries, TTL)
        "metrics": env_int("QUEUE_RETAIN_METRICS_HOURS", 168),
        "audit": env_int("QUEUE_RETAIN_AUDIT_HOURS", 2160),
    }
    return {
        "default": env("QUEUE_CONNECTION", "database"),
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
                "port": env_int("REDIS_PORT", 6379),
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
                "block_for": float(env("REDIS_BLOCK_FOR", "5") or 5),
            },
        },
        "failed": {"driver": env("QUEUE_FAILED_DRIVER", "database"), "table": table_name("QUEUE_FAILED_TABLE")},
        "cache_store": env("CACHE_STORE") or ("redis" if env("QUEUE_CONNECTION") == "redis" else "database"),
        "allowed_job_modules": [
            m.strip() for m in (env("QUEUE_ALLOWED_JOB_MODULES", "app.") or "").split(",") if m.strip()
        ],
        "status_ttl": env_int("QUEUE_STATUS_TTL", retention["statuses"] * 3600 or 86400),
        "bootstrap": env("QUEUE_BOOTSTRAP") or None,  # module[:function] run once per worker before its first job
        # The audit trail (app/Audit): lifecycle events and operator actions, written in batches.
        "audit": {
            "enabled": env_switch("QUEUE_AUDIT", True),
            "store": env("QUEUE_AUDIT_STORE") or None,  # database | redis; default: redis when QUEUE_CONNECTION is
            "stream_max": env_int("QUEUE_AUDIT_STREAM_MAX", 100_000),  # the Redis stream's cap (entries)
            "batch": env_int("QUEUE_AUDIT_BATCH", 500),
            "flush_seconds": float(env("QUEUE_AUDIT_FLUSH_SECONDS", "1") or 1),
        },
        "retention": retention,
        # Tenants (app/Tenancy): queues shared fairly between tenants (`*` for all), turns per tenant.
        "tenancy": {
            "fair_queues": [q.strip() for q in (env("QUEUE_FAIR_QUEUES", "") or "").split(",") if q.strip()],
            "weights": {},  # e.g. {"acme": 3}: acme gets three jobs per turn
            "refresh_seconds": 1.0,
            "tenants": [t.strip() for t in (env("QUEUE_TENANTS", "") or "").split(",") if t.strip()],
            "rate_limits": {},  # e.g. {"acme": (100, 60), "*": (1000, 60)}: jobs per seconds, per tenant
            "concurrency": {},  # e.g. {"acme": 2, "*": 10}: jobs of one tenant running at once
        },
        "worker_permissions": [
            p.strip() for p in (env("QUEUE_WORKER_PERMISSIONS", "") or "").split(",") if p.strip()
        ],
    }


# Queue definitions. Examples:
#
# from app.Queue.QueueManager import define_queue, QueueManager
# define_queue("emails", connection="database", max_attempts=5, retry_after=300)
# QueueManager.rate_limit("emails", max_jobs=1000, per_seconds=3600)
