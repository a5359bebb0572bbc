"""Benchmark the database driver on a throwaway PostgreSQL (the same server the tests start)."""
from __future__ import annotations

from pathlib import Path

from bench.harness import Result, run_driver


def bench_pgsql(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...]) -> Result:
    """Start a private postgres, migrate a `bench` database, measure with the worker's default
    settings (LISTEN/NOTIFY pickup, --sleep=3 only as the safety net), stop the server."""
    from app.Queue.Database import migrator
    from app.Queue.QueueManager import manager
    from bench.__main__ import base_env
    from tests.servers_pgsql import running_postgres

    with running_postgres() as server:
        server.create_database("bench")
        env = {**base_env(tmp), **server.env("bench")}
        result = run_driver("pgsql", "database", env, sizes, lambda: migrator.upgrade(manager().engine()),
                            worker_args=[], rss_marks=rss_marks)
        result.notes.append("server: fsync=off, synchronous_commit=off, full_page_writes=off (throwaway, as in the tests)")
        return result
