"""The dashboard's routes (DESIGN.md §9): pages at /horizon, the JSON API at /horizon/api/, Prometheus at /metrics."""
from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.Horizon.Api import json_endpoint

if TYPE_CHECKING:
    from app.Horizon.Api import Api
    from app.Horizon.Pages import Pages


def api_routes(api: Api) -> list[BaseRoute]:
    """GET reads and POST actions; every POST carries X-CSRF-Token."""
    get = [("stats", api.stats), ("workload", api.workload), ("masters", api.masters),
           ("jobs/pending", api.pending), ("jobs/completed", api.completed), ("jobs/failed", api.failed),
           ("jobs/{id}", api.job), ("batches", api.batches), ("batches/{id}", api.batch),
           ("metrics/jobs", api.metrics_jobs), ("metrics/queues", api.metrics_queues),
           ("metrics/jobs/{name}", api.metrics_job), ("metrics/queues/{name}", api.metrics_queue),
           ("metrics/snapshots", api.snapshots), ("metrics/snapshots/jobs/{name}", api.snapshots_job),
           ("metrics/snapshots/queues/{name}", api.snapshots_queue),
           ("monitoring", api.monitoring), ("csrf", api.csrf)]
    post = [("jobs/failed/retry", api.retry_selected), ("jobs/failed/{id}/retry", api.retry),
            ("jobs/failed/{id}/forget", api.forget), ("batches/{id}/retry", api.batch_retry),
            ("batches/{id}/cancel", api.batch_cancel), ("monitoring", api.monitor), ("monitoring/stop", api.stop_monitoring)]
    routes: list[BaseRoute] = [Route(f"/horizon/api/{path}", json_endpoint(fn), methods=["GET"]) for path, fn in get]
    return routes + [Route(f"/horizon/api/{path}", json_endpoint(fn), methods=["POST"]) for path, fn in post]


def page_routes(pages: Pages, static_dir: str) -> list[BaseRoute]:
    """The HTML pages and their shipped assets (CSS, JS: nothing from a CDN)."""
    return [
        Route("/horizon", pages.dashboard), Route("/horizon/workload", pages.workload),
        Route("/horizon/monitoring", pages.monitoring), Route("/horizon/metrics", pages.metrics),
        Route("/horizon/batches", pages.batches), Route("/horizon/batches/{id}", pages.batch),
        Route("/horizon/jobs/pending", pages.job_list("pending")),
        Route("/horizon/jobs/completed", pages.job_list("completed")),
        Route("/horizon/jobs/failed", pages.job_list("failed")),
        Route("/horizon/jobs/{id}", pages.job), Route("/horizon/supervisors", pages.supervisors),
        Mount("/horizon/static", StaticFiles(directory=static_dir), name="static"),
    ]
