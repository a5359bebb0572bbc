"""A test run cannot hang: a test stuck in an in-process worker is ended by pytest-timeout, servers die with the run."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import ROOT, wait_until

SPINNING_TEST = '''
import os
from pathlib import Path

from tests.core_helpers import work
from tests.fixtures.jobs import ReleaseForeverJob


def test_worker_spinning_on_a_job_that_releases_itself(queue_env, redis_server):
    Path(os.environ["SERVER_PID_FILE"]).write_text(str(redis_server.proc.pid))
    ReleaseForeverJob.dispatch()
    work(queue_env, max_tries=0)  # never returns: the job is always available again
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="process-death signals are Linux only")
def test_a_hung_in_process_worker_fails_the_run_and_takes_its_servers_with_it(tmp_path: Path):
    test_file = tmp_path / "test_spin.py"
    test_file.write_text(textwrap.dedent(SPINNING_TEST))
    pid_file = tmp_path / "server.pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SERVER_PID_FILE": str(pid_file)}
    env.pop("PYTEST_ADDOPTS", None)
    # The project's pytest.ini (timeout method), its conftest as a plugin, a short limit on the
    # test function alone (starting redis-server and migrating on a loaded box may take longer).
    done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pytest.ini"), "--rootdir", str(ROOT),
                           "-p", "tests.conftest", "-p", "no:cacheprovider", "--timeout=5", "-o", "timeout_func_only=true",
                           str(test_file)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    # The dump shows the main thread's stack. Its outer frames (down to `work(queue_env...)`) can be missing
    # when the timeout lands inside a generator-based context manager's exit (CPython 3.11 leaves f_back
    # unset there), so the test asks for the dump, not for one frame of it.
    assert "Timeout" in output and "Stack of MainThread" in output, output
    pid = int(pid_file.read_text())
    assert wait_until(lambda: not _alive(pid), timeout=30), f"redis-server {pid} outlived the run"
