"""Run artisan commands in-process with cleo's CommandTester."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from cleo.testers.command_tester import CommandTester

from app.Console.kernel import application


@dataclass
class Ran:
    status: int
    out: str
    err: str


def run_command(name: str, args: str = "", inputs: str | None = None) -> Ran:
    tester = CommandTester(application().find(name))
    status = tester.execute(args, inputs=inputs)
    return Ran(status, tester.io.fetch_output(), tester.io.fetch_error())


@pytest.fixture
def artisan_cmd():
    return run_command
