"""make help lists the queue targets; make queue-clear asks unless FORCE=1."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

TARGETS = ["setup", "test", "bench", "migrate", "queue-work", "queue-work-emails", "queue-stats", "queue-failed",
           "queue-retry-failed", "queue-clear", "queue-metrics", "queue-health", "queue-top", "schedule-work", "schedule-list",
           "horizon", "horizon-status", "horizon-terminate", "queue-dashboard"]


def make(*args: str) -> str:
    return subprocess.run(["make", "-s", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_help_lists_every_target_with_one_line():
    lines = make("help").splitlines()
    for target in TARGETS:
        [line] = [l for l in lines if l.split()[:2] == ["make", target]]
        assert len(line.split()) > 3, line


def test_queue_clear_confirms_unless_force_is_set():
    assert "queue:clear --queue=emails --force" in make("-n", "queue-clear", "QUEUE=emails", "FORCE=1")
    dry = make("-n", "queue-clear", "QUEUE=emails")
    assert "queue:clear --queue=emails" in dry and "--force" not in dry


def test_queue_dashboard_serves_on_loopback_port_8000_by_default():
    assert "queue:dashboard --host=127.0.0.1 --port=8000" in make("-n", "queue-dashboard")
    assert "queue:dashboard --host=0.0.0.0 --port=9000" in make("-n", "queue-dashboard", "HOST=0.0.0.0", "PORT=9000")
