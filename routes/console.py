"""Register the application's own artisan commands here.

Example: `python artisan inspire` prints a line. Add yours the same way: subclass
app.Console.Command.Command, implement run_command(), and add it in register().
"""
from __future__ import annotations

from cleo.application import Application

from app.Console.Command import Command


class InspireCommand(Command):
    name = "inspire"
    description = "Print an encouraging line (an example of an application command)"

    def run_command(self) -> int:
        self.line("Nothing is lost when every job is acked.")
        return 0


def register(app: Application) -> None:
    """Add application commands to artisan."""
    app.add(InspireCommand())
