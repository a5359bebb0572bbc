"""Benchmark the database driver on a throwaway MariaDB (the same server the tests start)."""
from __future__ import annotations

from pathlib import Path

from bench.harness import Result, run_driver


def bench_mariadb(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...]) -> Result:
    """Start a private mariadbd, migrate a `bench` database, measure, stop the server."""
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager
    from bench.__main__ import base_env
    from tests.servers_mariadb import running_mariadb

    with running_mariadb() as server:
        server.create_database("bench")
        env = {**base_env(tmp), **server.env("bench")}
        result = run_driver("mariadb", "database", env, sizes, lambda: migrator.upgrade(manager().engine()),
                            worker_args=["--sleep=0.01"], rss_marks=rss_marks)
        result.notes.append("server: --innodb-flush-log-at-trx-commit=2 (no fsync per commit), 64 MB buffer pool; "
                            "workers wake InnoDB purge (DB_PURGE_NUDGE, default on; the bench user has SUPER)")
        return result
