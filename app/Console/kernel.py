"""Build the artisan Application: a lazy registry of command factories."""
from __future__ import annotations

import importlib
import logging
import os
from typing import Callable

from cleo.application import Application
from cleo.commands.command import Command
from cleo.loaders.factory_command_loader import FactoryCommandLoader

__version__ = "0.1.0"

# command name -> "module:Class"; modules import only when their command runs.
COMMANDS: dict[str, str] = {
    "migrate": "app.Console.Commands.Migrate:MigrateCommand",
    "migrate:status": "app.Console.Commands.MigrateStatus:MigrateStatusCommand",
    "key:generate": "app.Console.Commands.KeyGenerate:KeyGenerateCommand",
    "make:job": "app.Console.Commands.MakeJob:MakeJobCommand",
    "queue:work": "app.Console.Commands.QueueWork:QueueWorkCommand",
    "queue:restart": "app.Console.Commands.QueueRestart:QueueRestartCommand",
    "queue:failed": "app.Console.Commands.QueueFailed:QueueFailedCommand",
    "queue:retry": "app.Console.Commands.QueueRetry:QueueRetryCommand",
    "queue:forget": "app.Console.Commands.QueueForget:QueueForgetCommand",
    "queue:flush": "app.Console.Commands.QueueFlush:QueueFlushCommand",
    "queue:prune-failed": "app.Console.Commands.QueuePruneFailed:QueuePruneFailedCommand",
    "queue:clear": "app.Console.Commands.QueueClear:QueueClearCommand",
    "queue:retry-batch": "app.Console.Commands.QueueRetryBatch:QueueRetryBatchCommand",
    "queue:prune-batches": "app.Console.Commands.QueuePruneBatches:QueuePruneBatchesCommand",
    "queue:listen": "app.Console.Commands.QueueListen:QueueListenCommand",
    "queue:pause": "app.Console.Commands.QueuePause:QueuePauseCommand",
    "queue:resume": "app.Console.Commands.QueueResume:QueueResumeCommand",
    "queue:stats": "app.Console.Commands.QueueStats:QueueStatsCommand",
    "queue:monitor": "app.Console.Commands.QueueMonitor:QueueMonitorCommand",
    "queue:metrics": "app.Console.Commands.QueueMetrics:QueueMetricsCommand",
    "queue:health": "app.Console.Commands.QueueHealth:QueueHealthCommand",
    "queue:top": "app.Console.Commands.QueueTop:QueueTopCommand",
    "queue:dashboard": "app.Console.Commands.QueueDashboard:QueueDashboardCommand",
}


def _factory(path: str) -> Callable[[], Command]:
    def build() -> Command:
        module_name, _, cls_name = path.partition(":")
        return getattr(importlib.import_module(module_name), cls_name)()

    return build


def application() -> Application:
    """Create the artisan application with built-in and application (routes/console.py) commands."""
    app = Application("artisan", __version__)
    app.set_command_loader(FactoryCommandLoader({name: _factory(path) for name, path in COMMANDS.items()}))
    try:
        routes = importlib.import_module("routes.console")
    except ModuleNotFoundError:
        routes = None
    if routes is not None and hasattr(routes, "register"):
        routes.register(app)
    return app


def main() -> int:
    """Run artisan with sys.argv."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return application().run()
