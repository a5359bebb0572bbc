"""Shared by the schedule:* commands: build the scheduler for a command and print its lines escaped."""
from __future__ import annotations

from typing import TYPE_CHECKING

from cleo.formatters.formatter import Formatter

from app.Scheduling.bootstrap import Scheduler, build_scheduler

if TYPE_CHECKING:
    from app.Console.Command import Command


def escape(text: str) -> str:
    """Escape cleo markup in text that came from a store or an exception."""
    return Formatter.escape(text)


def scheduler_for(command: Command) -> Scheduler:
    """The scheduler, with routes/console.py checked against the commands artisan has."""
    app = command.application
    exists = app.has if app is not None else None
    return build_scheduler(exists, lambda line: command.line(escape(line)))
