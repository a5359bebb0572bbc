"""Type checks of the public API: `Job.dispatch` is checked against the job's __init__ (mypy)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = '''
from app.Jobs.Examples.SendEmailJob import SendEmailJob
from app.Jobs.Job import Job, JobStatus

ok_id: str | None = SendEmailJob.dispatch("a@b.c", "Welcome", "Hello!")
SendEmailJob.dispatch(to_email="a@b.c", subject="s", body="b")
SendEmailJob("a@b.c", "s", "b").on_queue("high").dispatch()
SendEmailJob("a@b.c", "s", "b").dispatch()
SendEmailJob.dispatch_if(True, "a@b.c", "s", "b")
status: JobStatus = Job.wait("id", timeout=1.0)

SendEmailJob.dispatch("a@b.c", "Welcome")                      # line 12: body missing
SendEmailJob.dispatch("a@b.c", "Welcome", 42)                  # line 13: body is a str
SendEmailJob.dispatch_unless(False, "a@b.c", "s", "b", "x")    # line 14: one argument too many
SendEmailJob("a@b.c", "s", "b").dispatch("again")              # line 15: an instance takes no job arguments
bad: int = SendEmailJob.dispatch("a@b.c", "s", "b")            # line 16: returns str | None
'''


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    work = tmp_path_factory.mktemp("typing")
    target = work / "uses_dispatch.py"
    target.write_text(SNIPPET)
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                             "--cache-dir", str(work / "cache"), str(target)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    errors: dict[int, str] = {}
    for line in result.stdout.splitlines():
        match = re.match(r".*uses_dispatch\.py:(\d+): error: (.*)", line)
        if match:
            errors.setdefault(int(match.group(1)), match.group(2))
    assert "uses_dispatch.py" in result.stdout or result.returncode == 0, result.stdout + result.stderr
    return errors


def test_well_typed_dispatch_calls_pass(mypy_errors: dict[int, str]) -> None:
    assert not [n for n in mypy_errors if n < 12], mypy_errors


@pytest.mark.parametrize("line, message", [
    (12, 'Missing positional argument "body"'),
    (13, 'Argument 3 to "dispatch" of "Job" has incompatible type "int"; expected "str"'),
    (14, "Too many arguments"),
    (15, 'Argument 1 to "dispatch" of "Job" has incompatible type "str"'),
    (16, 'Incompatible types in assignment (expression has type "str | None", variable has type "int")'),
])
def test_bad_dispatch_calls_are_type_errors(mypy_errors: dict[int, str], line: int, message: str) -> None:
    assert message in mypy_errors.get(line, ""), mypy_errors
