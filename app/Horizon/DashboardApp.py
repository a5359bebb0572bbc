"""Build the dashboard's ASGI app (Starlette): routes from routes/web.py, access checks, CSRF, /metrics.

Starlette rather than FastAPI: the API is a dozen JSON reads whose contract is tested
directly, so FastAPI's pydantic models and OpenAPI would add a dependency tree and
start-up time for nothing; Starlette gives routing, Jinja2 templates, static files and the
test client, and uvicorn serves it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from app.Horizon.Api import Api, parse_json_body
from app.Horizon.Auth import COOKIE, AccessPolicy
from app.Horizon.Errors import classify
from app.Horizon.Pages import Pages, make_templates
from app.Horizon.Paging import BadRequest
from app.Horizon.PrometheusCollector import QueueCollector

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class GuardMiddleware(BaseHTTPMiddleware):
    """Authenticate every request, check CSRF on POST, parse JSON bodies, add security headers."""

    def __init__(self, app: Any, policy: AccessPolicy) -> None:
        super().__init__(app)
        self.policy = policy

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        allowed, set_cookie = self.policy.allows(request.headers.get("authorization"), request.query_params.get("token"),
                                                 request.cookies.get(COOKIE))
        if not allowed:
            response: Response = self._refuse(request)
        elif not self.policy.host_allowed(request.url.hostname):
            response = PlainTextResponse("This dashboard answers only for localhost (Host header refused)", status_code=403)
        elif request.method == "POST" and not self.policy.check_csrf(request.headers.get("x-csrf-token")):
            response = JSONResponse({"error": "missing or wrong X-CSRF-Token header"}, status_code=403)
        else:
            request.state.csrf = self.policy.csrf_token()
            response = await self._forward(request, call_next)
        if set_cookie:
            response.set_cookie(COOKIE, self.policy.session_value(), httponly=True, samesite="strict",
                                secure=request.url.scheme == "https", path="/")
        response.headers.update(SECURITY_HEADERS)
        return response

    async def _forward(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method == "POST":
            try:
                request.state.json = parse_json_body(await request.body())
            except BadRequest as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        if request.method in ("GET", "HEAD") and request.query_params.get("token") and not request.url.path.startswith("/horizon/api"):
            # the token came once in the URL: drop it from the address bar now that the cookie holds the session
            return RedirectResponse(request.url.remove_query_params("token"), status_code=303)
        return await call_next(request)

    def _refuse(self, request: Request) -> Response:
        if not self.policy.configured:
            message = ("The dashboard is open without credentials only with APP_ENV=local on a loopback --host; "
                       "set QUEUE_DASHBOARD_TOKEN or QUEUE_DASHBOARD_BASIC_AUTH=user:pass")
        else:
            message = "Authentication required: Authorization: Bearer <QUEUE_DASHBOARD_TOKEN>, ?token=, or basic auth"
        headers = {"WWW-Authenticate": 'Basic realm="queue dashboard"'} if self.policy.basic else {}
        if request.url.path.startswith("/horizon/api") or request.url.path == "/metrics":
            return JSONResponse({"error": message}, status_code=401, headers=headers)
        return PlainTextResponse(message, status_code=401, headers=headers)


def metrics_endpoint(registry: CollectorRegistry) -> Callable[[Request], Response]:
    """Prometheus text exposition of the store, read at scrape time."""

    def metrics(request: Request) -> Response:
        try:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
        except Exception as exc:
            status, message = classify(exc)
            return PlainTextResponse(f"# {message}\n", status_code=status)

    return metrics


def create_app(manager: QueueManager, host: str = "127.0.0.1", policy: AccessPolicy | None = None) -> Starlette:
    """The dashboard for `manager`'s store, served on `host` (which decides, with APP_ENV, whether it is open)."""
    from routes.web import api_routes, page_routes

    policy = policy or AccessPolicy.from_env(host)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(manager))
    pages = Pages(manager, make_templates())
    routes = [*api_routes(Api(manager)), *page_routes(pages, str(STATIC)),
              Route("/metrics", metrics_endpoint(registry)),
              Route("/", lambda request: RedirectResponse("/horizon", status_code=307))]
    app = Starlette(routes=routes)
    app.add_middleware(GuardMiddleware, policy=policy)

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/horizon/api"):
            return JSONResponse({"error": "no such API endpoint"}, status_code=404)
        return PlainTextResponse("Not found", status_code=404)

    app.add_exception_handler(404, not_found)
    return app
