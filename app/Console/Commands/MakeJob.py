"""make:job: write a job class skeleton into app/Jobs."""
from __future__ import annotations

import re

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError
from config.env import BASE_DIR

TEMPLATE = '''"""{name}: describe what this job does."""
from __future__ import annotations

from app.Jobs.Job import Job


class {name}(Job):
    queue = "{queue}"
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
        name = str(self.argument("name"))
        if not re.fullmatch(r"[A-Z][A-Za-z0-9_]*", name):
            raise UsageError(f"job name must be a CapitalisedIdentifier, got {name!r}")
        path = BASE_DIR / "app" / "Jobs" / f"{name}.py"
        if path.exists() and not self.option("force"):
            raise UsageError(f"{path.relative_to(BASE_DIR)} already exists; use --force to overwrite")
        path.write_text(TEMPLATE.format(name=name, queue=self.option("queue")))
        self.line(f"<info>Job created:</info> {path.relative_to(BASE_DIR)} (dispatch with {name}.dispatch(...))")
        return 0
