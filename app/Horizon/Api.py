"""The JSON API under /horizon/api/: thin handlers that parse, call a repository and answer JSON."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.Horizon.BatchesRepository import BatchesRepository
from app.Horizon.Errors import classify
from app.Horizon.JobRepository import JobRepository
from app.Horizon.MastersRepository import MastersRepository
from app.Horizon.MetricsRepository import DEFAULT_MINUTES, MAX_MINUTES, MetricsRepository
from app.Horizon.Paging import BadRequest, page_request, tenant_filter
from app.Horizon.settings import completed_trim_minutes
from app.Horizon.SnapshotSeries import latest_subjects, snapshot_series
from app.Horizon.StatsRepository import StatsRepository
from app.Horizon.TagsRepository import TagsRepository
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

Handler = Callable[[Request], Any]


def json_endpoint(fn: Handler) -> Callable[[Request], JSONResponse]:
    """Run a sync handler (Starlette calls it in its thread pool) and turn its result or error into JSON."""

    def endpoint(request: Request) -> JSONResponse:
        try:
            return JSONResponse(fn(request))
        except Exception as exc:
            status, message = classify(exc)
            return JSONResponse({"error": message}, status_code=status)

    endpoint.__name__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint


def _minutes(request: Request) -> int:
    raw = request.query_params.get("minutes") or str(DEFAULT_MINUTES)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_MINUTES:
        raise BadRequest(f"minutes must be between 1 and {MAX_MINUTES}")
    return int(raw)


def _body(request: Request) -> dict[str, Any]:
    """The JSON body parsed by the middleware (request.state.body), {} when there is none."""
    body = getattr(request.state, "json", None)
    return body if isinstance(body, dict) else {}


class Api:
    """Handlers bound to the process's QueueManager."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager

    def _jobs(self) -> JobRepository:
        return JobRepository(self.manager, MastersRepository(self.manager).workers()[0])

    # -- overview ------------------------------------------------------------------------------
    def stats(self, request: Request) -> Any:
        return StatsRepository(self.manager).stats()

    def workload(self, request: Request) -> Any:
        return StatsRepository(self.manager).workload()

    def masters(self, request: Request) -> Any:
        return MastersRepository(self.manager).masters()

    # -- jobs ----------------------------------------------------------------------------------
    def pending(self, request: Request) -> Any:
        return self._jobs().pending(page_request(request.query_params)).to_dict()

    def completed(self, request: Request) -> Any:
        return self._jobs().completed(page_request(request.query_params)).to_dict()

    def failed(self, request: Request) -> Any:
        return self._jobs().failed(page_request(request.query_params)).to_dict()

    def job(self, request: Request) -> Any:
        return self._jobs().find(str(request.path_params["id"]))

    def retry(self, request: Request) -> Any:
        return self._jobs().retry([str(request.path_params["id"])])

    def retry_selected(self, request: Request) -> Any:
        ids = _body(request).get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadRequest('send {"ids": ["<failed job id>", ...]}')
        return self._jobs().retry(ids)

    def forget(self, request: Request) -> Any:
        self._jobs().forget(str(request.path_params["id"]))
        return {"forgotten": request.path_params["id"]}

    # -- batches -------------------------------------------------------------------------------
    def batches(self, request: Request) -> Any:
        return BatchesRepository(self.manager).page(page_request(request.query_params)).to_dict()

    def batch(self, request: Request) -> Any:
        return BatchesRepository(self.manager).find(str(request.path_params["id"]))

    def batch_retry(self, request: Request) -> Any:
        return BatchesRepository(self.manager).retry(str(request.path_params["id"]))

    def batch_cancel(self, request: Request) -> Any:
        return BatchesRepository(self.manager).cancel(str(request.path_params["id"]))

    # -- metrics and monitoring -----------------------------------------------------------------
    def _metrics(self, request: Request) -> MetricsRepository:
        """The metrics rows, of one tenant when the request says `?tenant=`."""
        return MetricsRepository(self.manager, tenant_filter(request.query_params))

    def metrics_jobs(self, request: Request) -> Any:
        return self._metrics(request).totals("job", _minutes(request))

    def metrics_queues(self, request: Request) -> Any:
        return self._metrics(request).totals("queue", _minutes(request))

    def metrics_job(self, request: Request) -> Any:
        return self._metrics(request).series(_minutes(request), job=str(request.path_params["name"]))

    def metrics_queue(self, request: Request) -> Any:
        return self._metrics(request).series(_minutes(request), queue=str(request.path_params["name"]))

    def snapshots(self, request: Request) -> Any:
        """The newest snapshot's job classes and queues, and every queue's series from the stored snapshots."""
        return {**latest_subjects(self.manager.cache), "series": snapshot_series(self.manager.cache)}

    def snapshots_job(self, request: Request) -> Any:
        return snapshot_series(self.manager.cache, job=str(request.path_params["name"]))

    def snapshots_queue(self, request: Request) -> Any:
        return snapshot_series(self.manager.cache, queue=str(request.path_params["name"]))

    def monitoring(self, request: Request) -> Any:
        return TagsRepository(self.manager).summary(self._jobs(), now() - completed_trim_minutes() * 60)

    def monitor(self, request: Request) -> Any:
        return {"monitored": TagsRepository(self.manager).monitor(str(_body(request).get("tag") or ""))}

    def stop_monitoring(self, request: Request) -> Any:
        return {"monitored": TagsRepository(self.manager).stop(str(_body(request).get("tag") or ""))}

    def csrf(self, request: Request) -> Any:
        return {"token": request.state.csrf}


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """Decode a POST body (empty -> {}); anything but a JSON object is a BadRequest."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value
