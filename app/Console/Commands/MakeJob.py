"""make:job: write a job class skeleton into app/Jobs."""
from __future__ import annotations

import builtins
import keyword
import re

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError
from app.Queue.DispatchChecks import check_queue_name
from config.env import BASE_DIR

TEMPLATE = '''"""{name}: describe what this job does."""
from __future__ import annotations

from app.Jobs.Job import Job


class {name}(Job):
    queue = {queue}
    max_tries = 3
    timeout = 60
    backoff = [10, 30, 60]

    def __init__(self, payload: dict | None = None) -> None:
        super().__init__()
        self.payload = payload or {{}}

    def handle(self) -> None:
        """Do the work; raise to retry (up to max_tries), or call self.fail(exc) to stop."""

    def failed(self, exception: BaseException) -> None:
        """Called once when the job fails permanently."""
'''


class MakeJobCommand(Command):
    name = "make:job"
    description = "Create a new job class in app/Jobs"
    arguments = [argument("name", "The class name, e.g. SendInvoiceJob")]
    options = [
        option("queue", None, "The queue the job goes to", flag=False, default="default"),
        option("force", None, "Overwrite an existing file"),
    ]

    def run_command(self) -> int:
        name = check_job_name(str(self.argument("name")))
        jobs_dir = BASE_DIR / "app" / "Jobs"
        if (jobs_dir / name).is_dir():
            raise UsageError(f"{name!r} is a package of the framework (app/Jobs/{name}/); choose another name")
        queue = str(self.option("queue") or "default")
        try:
            check_queue_name(queue, "--queue")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        path = jobs_dir / f"{name}.py"
        if path.exists() and not self.option("force"):
            raise UsageError(f"{path.relative_to(BASE_DIR)} already exists; use --force to overwrite")
        path.write_text(TEMPLATE.format(name=name, queue=repr(queue)))
        self.line(f"<info>Job created:</info> {path.relative_to(BASE_DIR)} (dispatch with {name}.dispatch(...))")
        return 0


# Modules of app/Jobs that belong to the framework: overwriting one (even with --force) breaks every job.
FRAMEWORK_NAMES = frozenset({
    "Job", "Batch", "BatchRecorder", "Callbacks", "Chain", "ChainMonitor", "ChainRecorder", "Contracts",
    "Encrypter", "JobState", "MetricsCollector", "MetricsStore", "RateLimiter", "Security", "Steps", "UniqueLock",
    "Middleware", "Examples",
})
MAX_NAME = 100


def check_job_name(name: str) -> str:
    """Refuse a class name Python or the framework reserves, or one that is no identifier."""
    if not re.fullmatch(r"[A-Z][A-Za-z0-9_]*", name) or len(name) > MAX_NAME:
        raise UsageError(f"job name must be a CapitalisedIdentifier of at most {MAX_NAME} characters, got {name!r}")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise UsageError(f"job name {name!r} is a Python keyword; choose another name")
    if hasattr(builtins, name):
        raise UsageError(f"job name {name!r} would shadow Python's built-in {name}; choose another name")
    if name in FRAMEWORK_NAMES:
        raise UsageError(f"job name {name!r} is a module of the framework (app/Jobs/{name}.py); choose another name")
    return name
