"""Build the artisan Application: a lazy registry of command factories."""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

from cleo.application import Application
from cleo.commands.command import Command
from cleo.io.inputs.input import Input
from cleo.io.io import IO
from cleo.io.outputs.output import Output
from cleo.loaders.factory_command_loader import FactoryCommandLoader

from app.Console.Support.palette import apply_palette
from app.Console.Support.version import version
from app.Console.Command import Command as ArtisanCommand
from app.Queue.errors import ConfigurationError
from app.Queue.Support.log_config import configure_logging

__version__ = version()

# command name -> "module:Class"; modules import only when their command runs.
COMMANDS: dict[str, str] = {
    "migrate": "app.Console.Commands.Migrate:MigrateCommand",
    "migrate:status": "app.Console.Commands.MigrateStatus:MigrateStatusCommand",
    "key:generate": "app.Console.Commands.KeyGenerate:KeyGenerateCommand",
    "make:job": "app.Console.Commands.MakeJob:MakeJobCommand",
    "queue:work": "app.Console.Commands.QueueWork:QueueWorkCommand",
    "queue:restart": "app.Console.Commands.QueueRestart:QueueRestartCommand",
    "queue:failed": "app.Console.Commands.QueueFailed:QueueFailedCommand",
    "queue:failed:show": "app.Console.Commands.QueueFailedShow:QueueFailedShowCommand",
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
    "queue:export": "app.Console.Commands.QueueExport:QueueExportCommand",
    "queue:import": "app.Console.Commands.QueueImport:QueueImportCommand",
    "queue:audit": "app.Console.Commands.QueueAudit:QueueAuditCommand",
    "queue:prune": "app.Console.Commands.QueuePrune:QueuePruneCommand",
    "queue:forget-tenant": "app.Console.Commands.QueueForgetTenant:QueueForgetTenantCommand",
    "schedule:run": "app.Console.Commands.ScheduleRun:ScheduleRunCommand",
    "schedule:work": "app.Console.Commands.ScheduleWork:ScheduleWorkCommand",
    "schedule:list": "app.Console.Commands.ScheduleList:ScheduleListCommand",
    "schedule:test": "app.Console.Commands.ScheduleTest:ScheduleTestCommand",
    "horizon": "app.Console.Commands.Horizon:HorizonCommand",
    "horizon:status": "app.Console.Commands.HorizonStatus:HorizonStatusCommand",
    "horizon:pause": "app.Console.Commands.HorizonPause:HorizonPauseCommand",
    "horizon:continue": "app.Console.Commands.HorizonContinue:HorizonContinueCommand",
    "horizon:terminate": "app.Console.Commands.HorizonTerminate:HorizonTerminateCommand",
    "horizon:list": "app.Console.Commands.HorizonList:HorizonListCommand",
    "horizon:snapshot": "app.Console.Commands.HorizonSnapshot:HorizonSnapshotCommand",
}


def _factory(path: str) -> Callable[[], Command]:
    def build() -> Command:
        module_name, _, cls_name = path.partition(":")
        return getattr(importlib.import_module(module_name), cls_name)()

    return build


class Artisan(Application):
    """cleo's Application with the project's colours (green done, yellow warn, red failed)."""

    def create_io(self, input: Input | None = None, output: Output | None = None,
                  error_output: Output | None = None) -> IO:
        io = super().create_io(input, output, error_output)
        apply_palette(io)
        return io


def application() -> Application:
    """Create the artisan application with built-in and application (routes/console.py) commands."""
    app = Artisan("artisan", __version__)
    app.set_command_loader(FactoryCommandLoader({name: _factory(path) for name, path in COMMANDS.items()}))
    try:
        routes = importlib.import_module("routes.console")
    except ModuleNotFoundError:
        routes = None
    if routes is not None and hasattr(routes, "register"):
        routes.register(app)
    if routes is not None:
        _add_defined_commands(app, routes)
    return app


def _add_defined_commands(app: Application, module: Any) -> None:
    """Add the commands a module defines (Laravel discovers them) unless register() already added them."""
    for obj in list(vars(module).values()):
        if (isinstance(obj, type) and issubclass(obj, ArtisanCommand) and obj.__module__ == module.__name__
                and obj.name and not app.has(obj.name)):
            app.add(obj())


def main() -> int:
    """Run artisan with sys.argv, logging as LOG_LEVEL and LOG_FORMAT say (environment, then .env)."""
    from config.env import BASE_DIR, env

    if str(BASE_DIR) not in sys.path:  # the project's own packages (jobs, QUEUE_BOOTSTRAP) import as from its root
        sys.path.append(str(BASE_DIR))
    try:
        configure_logging(env("LOG_LEVEL"), env("LOG_FORMAT"))
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        artisan = application()
    except ConfigurationError as exc:  # e.g. a bad command signature in routes/console.py
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return artisan.run()
