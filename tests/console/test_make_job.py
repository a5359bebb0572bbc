"""make:job refuses names Python or the framework reserve and writes any --queue value safely.

Each run is the real command line in a throwaway copy of the project (artisan, app/, config/),
so the real app/Jobs is never touched. Before, `make:job None` and `make:job True` wrote files
with a SyntaxError, `make:job Job --force` overwrote app/Jobs/Job.py (breaking every job), and a
--queue with quotes broke the generated file.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's code in a temp dir: make:job writes into its app/Jobs."""
    dest = tmp_path_factory.mktemp("project")
    for name in ("app", "config", "routes"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "artisan", dest / "artisan")
    return dest


def make_job(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(project)
    return subprocess.run([sys.executable, str(project / "artisan"), "make:job", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60)


def one_line_exit_1(result: subprocess.CompletedProcess[str], needle: str) -> None:
    output = result.stdout + result.stderr
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in output, output
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize("name, needle", [
    ("None", "is a Python keyword"),
    ("True", "is a Python keyword"),
    ("False", "is a Python keyword"),
    ("Exception", "would shadow Python's built-in"),
    ("Job", "is a module of the framework"),
    ("Batch", "is a module of the framework"),
    ("Middleware", "is a module of the framework"),
    ("lowercase", "must be a CapitalisedIdentifier"),
    ("Bad-Name", "must be a CapitalisedIdentifier"),
])
def test_reserved_and_framework_names_are_refused_even_with_force(project: Path, name: str, needle: str):
    before = {p: p.read_bytes() for p in (project / "app" / "Jobs").glob("*.py")}
    for args in ((name,), (name, "--force")):
        one_line_exit_1(make_job(project, *args), needle)
    assert {p: p.read_bytes() for p in (project / "app" / "Jobs").glob("*.py")} == before


@pytest.mark.parametrize("queue", ['it"s', "it's", 'a"""b', "back\\slash", "ünïcode-😀"])
def test_any_allowed_queue_value_makes_a_file_that_parses(project: Path, queue: str):
    name = f"QueueJob{abs(hash(queue)) % 10**6}"
    result = make_job(project, name, f"--queue={queue}")
    assert result.returncode == 0, result.stdout + result.stderr
    source = (project / "app" / "Jobs" / f"{name}.py").read_text()
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assigned = {t.id: ast.literal_eval(n.value) for n in cls.body if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Name)}
    assert assigned["queue"] == queue


@pytest.mark.parametrize("queue, needle", [("a,b", "contains ','"), ("redis:emails", "contains ':'"), ("", "non-empty")])
def test_a_queue_that_could_never_be_worked_is_refused(project: Path, queue: str, needle: str):
    one_line_exit_1(make_job(project, "NeverWorkedJob", f"--queue={queue}" if queue else "--queue= "), needle)
    assert not (project / "app" / "Jobs" / "NeverWorkedJob.py").exists()


def test_a_user_job_can_still_be_overwritten_with_force(project: Path):
    assert make_job(project, "InvoiceJob").returncode == 0
    one_line_exit_1(make_job(project, "InvoiceJob"), "already exists; use --force")
    assert make_job(project, "InvoiceJob", "--force", "--queue=billing").returncode == 0
    assert "queue = 'billing'" in (project / "app" / "Jobs" / "InvoiceJob.py").read_text()
