"""queue:dashboard: serve the Horizon-style dashboard (pages at /horizon, API at /horizon/api/, /metrics)."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command, UsageError
from app.Queue.QueueManager import manager
from app.Horizon.Auth import AccessPolicy


class QueueDashboardCommand(Command):
    name = "queue:dashboard"
    description = "Serve the web dashboard (/horizon), its JSON API and Prometheus /metrics"
    options = [
        option("host", None, "Address to bind (loopback with APP_ENV=local opens it without credentials)", flag=False,
               default="127.0.0.1"),
        option("port", None, "Port to listen on", flag=False, default="8000"),
    ]

    def run_command(self) -> int:
        import uvicorn

        # lazy: the ASGI app and its web stack load only when the dashboard runs (artisan list builds every command)
        from app.Horizon.DashboardApp import create_app

        host = str(self.option("host") or "127.0.0.1").strip()
        port = self.int_option("port", 8000, minimum=0)
        if port > 65535:
            raise UsageError(f"--port must be at most 65535, got {port}")
        policy = AccessPolicy.from_env(host)
        if not policy.configured:
            raise UsageError(f"the dashboard on {host} would be open to anyone: it is open without credentials only with "
                             "APP_ENV=local on a loopback --host; set QUEUE_DASHBOARD_TOKEN or QUEUE_DASHBOARD_BASIC_AUTH=user:pass")
        qm = manager()
        qm.config  # fail now, in one line, on bad configuration
        app = create_app(qm, host, policy)
        where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/horizon"
        self.line(f"<info>Dashboard on {where}</info> ({'open: local and loopback' if policy.open else 'credentials required'}); "
                  "Ctrl-C stops it.")
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        return 0
