"""Strings from the store reach the terminal as text: no console markup, no terminal escapes.

Queue names, uuids, exception texts written into the store by whoever can dispatch (or reach
the store) are printed by the worker, `queue:failed` and `queue:stats`. Each runs as a real
`python artisan` process with --ansi (styling on, as on a terminal) on every driver.
"""
from __future__ import annotations

import json

from tests.drivers.conftest import Backend
from tests.support import artisan

CRASHER = "<fg=nosuchcolor>x</>"    # an unknown colour: cleo's formatter raises on it
STYLED = "<error>styled</error>"    # would render as red text
CLEAR = "\x1b[2J"                    # clears the screen when sent raw


def _assert_shown_as_text(output: str, *literals: str, traceback_allowed: bool = False) -> None:
    assert traceback_allowed or "Traceback" not in output, output
    assert CLEAR not in output and "\x1b[2J" not in output, repr(output)
    assert "\x1b[31m" not in output or "styled" not in output.split("\x1b[31m", 1)[1][:8], repr(output)
    for literal in literals:
        assert literal in output, (literal, output)


def test_queue_failed_prints_store_strings_as_text(backend: Backend):
    backend.manager.failed.log(backend.connection, CRASHER, json.dumps({"displayName": STYLED}),
                               f"RuntimeError: {CLEAR}{STYLED}", CRASHER)
    result = artisan("queue:failed", "--ansi", env=backend.env)
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_shown_as_text(result.stdout + result.stderr, CRASHER, STYLED, "\\x1b[2J")


def test_queue_stats_prints_queue_names_as_text(backend: Backend):
    backend.driver().push('"not a job"', CRASHER)
    result = artisan("queue:stats", backend.connection, "--ansi", env=backend.env)
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_shown_as_text(result.stdout + result.stderr, CRASHER)


def test_worker_prints_and_logs_store_strings_as_text(backend: Backend):
    """A payload whose uuid is markup and escapes goes to failed_jobs; the worker's lines stay plain text."""
    queue = f"{STYLED}{CLEAR}"  # also in the worker's log line about the refused job
    backend.driver().push(json.dumps({"uuid": f"{CRASHER}{CLEAR}{STYLED}", "displayName": STYLED}), queue)
    result = artisan("queue:work", backend.connection, f"--queue={queue}", "--stop-when-empty", "--ansi", env=backend.env)
    assert result.returncode == 0, result.stdout + result.stderr
    # The job log records a failed job with its traceback (docs/logging.md): allowed, but escaped too.
    _assert_shown_as_text(result.stdout + result.stderr, CRASHER, STYLED, "FAILED", "\\x1b[2J", traceback_allowed=True)
    assert "refusing job on <error>styled</error>\\x1b[2J" in result.stderr, result.stderr
    assert backend.manager.failed.count() == 1


def test_json_output_keeps_store_strings_exact(backend: Backend):
    backend.driver().push('"not a job"', CRASHER)
    result = artisan("queue:stats", backend.connection, "--json", "--ansi", env=backend.env)
    assert result.returncode == 0, result.stdout + result.stderr
    queues = [q["queue"] for q in json.loads(result.stdout)["queues"]]
    assert CRASHER in queues
