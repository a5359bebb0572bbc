"""HTML pages under /horizon, rendered on the server from the same repositories as the API.

Each page is a content template wrapped by layout.html; `?partial=1` returns the content alone,
which the page's script fetches every few seconds to refresh itself without a reload. A store
that is down gives the layout with a banner and status 503; an unknown id gives 404.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from app.Horizon.BatchesRepository import BatchesRepository
from app.Horizon.Charts import count_label, line_chart, seconds_label
from app.Horizon.Errors import classify
from app.Horizon.JobRepository import JobRepository
from app.Horizon.MastersRepository import MastersRepository
from app.Horizon.MetricsRepository import MetricsRepository
from app.Horizon.Paging import Filters, PageRequest, page_request, tenant_filter
from app.Horizon.settings import completed_trim_minutes
from app.Horizon.SnapshotSeries import snapshot_series
from app.Horizon.StatsRepository import StatsRepository
from app.Horizon.TagsRepository import TagsRepository
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

TEMPLATES = Path(__file__).parent / "templates"

NAV = [("dashboard", "Dashboard", "/horizon"), ("workload", "Workload", "/horizon/workload"),
       ("monitoring", "Monitoring", "/horizon/monitoring"), ("metrics", "Metrics", "/horizon/metrics"),
       ("batches", "Batches", "/horizon/batches"), ("pending", "Pending jobs", "/horizon/jobs/pending"),
       ("completed", "Completed jobs", "/horizon/jobs/completed"), ("failed", "Failed jobs", "/horizon/jobs/failed"),
       ("supervisors", "Supervisors", "/horizon/supervisors")]


def _ago(ts: Any) -> str:
    if not isinstance(ts, (int, float)):
        return "-"
    return seconds_label(max(0.0, now() - float(ts))) + " ago"


def _when(ts: Any) -> str:
    if not isinstance(ts, (int, float)):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(ts)))


def _seconds(value: Any) -> str:
    return seconds_label(float(value)) if isinstance(value, (int, float)) else "-"


def _pretty(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def make_templates() -> Jinja2Templates:
    """Jinja2 with autoescaping on (every value from the store is untrusted) and the page's format filters."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    templates = Jinja2Templates(env=env)
    templates.env.filters.update(ago=_ago, when=_when, seconds=_seconds, pretty=_pretty)
    templates.env.globals.update(nav=NAV, line_chart=line_chart, seconds_label=seconds_label, count_label=count_label)
    return templates


class Pages:
    """Page handlers bound to the process's QueueManager."""

    def __init__(self, manager: QueueManager, templates: Jinja2Templates) -> None:
        self.manager = manager
        self.templates = templates

    def _render(self, request: Request, page: str, title: str, build: Callable[[], dict[str, Any]]) -> HTMLResponse:
        """Render `page`'s content (alone when partial), or the banner with the error's status."""
        status, error, context = 200, None, {}
        try:
            context = build()
        except Exception as exc:
            status, error = classify(exc)
        context.update(request=request, page=page, title=title, error=error, csrf=request.state.csrf,
                       content=f"{page}.html" if error is None else "problem.html", status=status,
                       query=dict(request.query_params))
        name = context["content"] if request.query_params.get("partial") else "layout.html"
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        if error is not None:
            response.headers["X-Dashboard-Error"] = error.encode("ascii", "replace").decode()
        return response

    def _jobs(self) -> JobRepository:
        return JobRepository(self.manager, MastersRepository(self.manager).workers()[0])

    def dashboard(self, request: Request) -> HTMLResponse:
        def build() -> dict[str, Any]:
            metrics = MetricsRepository(self.manager)  # one read of the hour's rows serves all three
            return {"stats": StatsRepository(self.manager).stats(metrics), "series": metrics.series(60),
                    "jobs": metrics.totals("job", 60)[:10]}
        return self._render(request, "dashboard", "Dashboard", build)

    def workload(self, request: Request) -> HTMLResponse:
        return self._render(request, "workload", "Workload", lambda: {"rows": StatsRepository(self.manager).workload()})

    def monitoring(self, request: Request) -> HTMLResponse:
        def build() -> dict[str, Any]:
            jobs = self._jobs()
            tag = (request.query_params.get("tag") or "").strip()
            context: dict[str, Any] = {"tags": TagsRepository(self.manager).summary(jobs, now() - completed_trim_minutes() * 60),
                                       "tag": tag}
            if tag:
                req = page_request(request.query_params)
                context["recent"] = jobs.completed(PageRequest(req.page, req.per_page, Filters(tag=tag))).to_dict()
                context["failed"] = jobs.failed(PageRequest(1, req.per_page, Filters(tag=tag))).to_dict()
            return context
        return self._render(request, "monitoring", "Monitoring", build)

    def metrics(self, request: Request) -> HTMLResponse:
        def build() -> dict[str, Any]:
            tenant = tenant_filter(request.query_params)
            repo = MetricsRepository(self.manager, tenant)
            job, queue = request.query_params.get("job"), request.query_params.get("queue")
            series = repo.series(60, job=job or None, queue=None if job else (queue or None))
            snapshots = snapshot_series(self.manager.cache, job=job or None, queue=None if job else (queue or None))
            subject = (job or queue or "all jobs") + (f", tenant {tenant}" if tenant else "")
            return {"jobs": repo.totals("job"), "queues": repo.totals("queue"), "series": series, "snapshots": snapshots,
                    "subject": subject, "tenant": tenant or ""}
        return self._render(request, "metrics", "Metrics", build)

    def batches(self, request: Request) -> HTMLResponse:
        return self._render(request, "batches", "Batches",
                            lambda: {"batches": BatchesRepository(self.manager).page(page_request(request.query_params)).to_dict()})

    def batch(self, request: Request) -> HTMLResponse:
        return self._render(request, "batch", "Batch",
                            lambda: {"batch": BatchesRepository(self.manager).find(str(request.path_params["id"]))})

    def job_list(self, kind: str) -> Callable[[Request], HTMLResponse]:
        def handler(request: Request) -> HTMLResponse:
            def build() -> dict[str, Any]:
                req = page_request(request.query_params)
                jobs = self._jobs()
                listing = {"pending": jobs.pending, "completed": jobs.completed, "failed": jobs.failed}[kind](req)
                return {"jobs": listing.to_dict(), "kind": kind, "filters": req.filters}
            return self._render(request, kind, f"{kind.capitalize()} jobs", build)
        handler.__name__ = f"{kind}_jobs"
        return handler

    def job(self, request: Request) -> HTMLResponse:
        return self._render(request, "job", "Job", lambda: {"job": self._jobs().find(str(request.path_params["id"]))})

    def supervisors(self, request: Request) -> HTMLResponse:
        return self._render(request, "supervisors", "Supervisors", lambda: {"tree": MastersRepository(self.manager).masters()})
