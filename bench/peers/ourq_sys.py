"""This project as one more row of ../shared/bench-peers (copied there by `make bench-peers`).

Enqueue: `NoopJob.dispatch(t)` (one public-API call per job). Worker: one
`python artisan queue:work redis` process, one job at a time, library defaults
except `--quiet` (WARNING-level logging, as for the other rows); the
`ourq-prefetch100` row adds `--prefetch=100` (batch reservation). The job body is
the harness's `job_body` with a per-process redis-py client.
"""
from __future__ import annotations

import os
import sys

from common import System, counter_client, job_body, url_for

DB = 7
URL = url_for(DB)
PROJECT = os.environ.get("OURQ_PROJECT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
PYTHON = os.environ.get("OURQ_PYTHON", sys.executable)
KEY = "base64:" + "b" * 43 + "="


def _env() -> dict[str, str]:
    host_port = URL.split("//", 1)[1].rsplit("/", 1)[0]
    host, port = host_port.split(":")
    return {
        "APP_KEY": KEY,
        "APP_ENV_FILE": os.path.join(PROJECT, "storage", "bench-peers.env"),
        "QUEUE_CONNECTION": "redis",
        "CACHE_STORE": "redis",
        "REDIS_HOST": host,
        "REDIS_PORT": port,
        "REDIS_DB": str(DB),
        "DB_DATABASE": os.path.join(PROJECT, "storage", "bench-peers.sqlite"),
        "QUEUE_ALLOWED_JOB_MODULES": "app.,ourq_sys",
    }


os.environ.update({k: v for k, v in _env().items() if k not in os.environ})
if PROJECT not in sys.path:
    sys.path.append(PROJECT)

from app.Jobs.Job import Job  # noqa: E402


class NoopJob(Job):
    queue = "bench"

    def __init__(self, t: float = 0.0) -> None:
        super().__init__()
        self.t = t

    def handle(self) -> None:
        job_body(counter_client(URL), self.t)


class OurQueue(System):
    name = "ourq"
    packages = ("redis", "hiredis", "SQLAlchemy")
    db = DB
    shape = "1 process, 1 job at a time"
    notes = "ourq: this project; `python artisan queue:work redis --queue=bench --quiet` (blocking pop, Lua ack+fetch-next)."

    def enqueue(self, t: float = 0.0) -> None:
        NoopJob.dispatch(t)

    def worker_cmd(self) -> list[str]:
        return [PYTHON, os.path.join(PROJECT, "artisan"), "queue:work", "redis", "--queue=bench", "--quiet", "--memory=0"]

    def worker_env(self) -> dict[str, str]:
        here = os.path.dirname(os.path.abspath(__file__))
        return {**_env(), "PYTHONPATH": os.pathsep.join([here, PROJECT])}


class OurQueuePrefetch(OurQueue):
    """The same worker in batch mode: 100 jobs reserved per round trip, acks sent without waiting."""

    name = "ourq-prefetch100"
    shape = "1 process, 1 job at a time, 100 reserved ahead"
    notes = "ourq-prefetch100: `queue:work redis --prefetch=100` (batch reservation; each ack still precedes the next job)."

    def worker_cmd(self) -> list[str]:
        return [*super().worker_cmd(), "--prefetch=100"]


SYSTEMS = [OurQueue(), OurQueuePrefetch()]
