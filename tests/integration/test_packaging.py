"""A fresh clone installs with `pip install .` into a new venv, and its `artisan` console script works there.

One venv for the module, built offline: it sees the project's pinned dependencies through a
.pth file (the way --system-site-packages would), so pip only builds and installs this
project, and still checks that the installed dependencies satisfy pyproject.toml's ranges.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _fresh_clone(dest: Path) -> Path:
    """Copy the files git would check out (tracked, plus new files not ignored): what a clone of this commit holds."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _clean_env(**extra: str) -> dict[str, str]:
    """An environment with nothing pointing at the checkout: no PYTHONPATH, no test settings."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "PIP_CACHE_DIR")}
    return {**keep, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the project pip-installed from a fresh copy; returns the venv's bin directory."""
    base = tmp_path_factory.mktemp("pkg")
    src = _fresh_clone(base / "src")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    result = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-build-isolation", "-q", str(src)],
                            capture_output=True, text=True, env=_clean_env(), cwd=base, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return venv / "bin"


def _installed_src(installed: Path) -> Path:
    return installed.parent.parent / "src"


def test_pip_install_puts_the_artisan_script_in_the_venv(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(installed / "artisan"), "list"], capture_output=True, text=True,
                            cwd=tmp_path, env=_clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "queue:work" in result.stdout and "queue:failed:show" in result.stdout


def test_installed_version_comes_from_the_package_metadata(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(installed / "artisan"), "--version"], capture_output=True, text=True,
                            cwd=tmp_path, env=_clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert VERSION in result.stdout
    meta = subprocess.run([str(installed / "python"), "-c",
                           "from importlib.metadata import version; print(version('artisan-queue'))"],
                          capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), check=True)
    assert meta.stdout.strip() == VERSION


def test_installed_copy_keeps_env_and_database_in_the_working_directory(installed: Path, tmp_path: Path) -> None:
    """Migrations ship inside the package; .env and storage/ belong to the project that uses it."""
    env = _clean_env()
    key = subprocess.run([str(installed / "artisan"), "key:generate"], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert key.returncode == 0, key.stdout + key.stderr
    assert "APP_KEY=base64:" in (tmp_path / ".env").read_text()
    migrate = subprocess.run([str(installed / "artisan"), "migrate"], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=60)
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert (tmp_path / "storage" / "database.sqlite").is_file()
    imported = subprocess.run([str(installed / "python"), "-c", "import app; print(app.__file__)"],
                              capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    assert "site-packages" in imported.stdout and str(ROOT) not in imported.stdout


def test_checkout_artisan_version_is_the_pyproject_version() -> None:
    from tests.support import artisan

    result = artisan("--version")
    assert result.returncode == 0, result.stderr
    assert f"version {VERSION}" in result.stdout


def test_bad_log_level_is_one_line_naming_the_setting() -> None:
    from tests.support import artisan

    result = artisan("list", env={"LOG_LEVEL": "loud"})
    assert result.returncode == 1
    assert result.stderr.strip() == "error: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'"


def test_artisan_beside_another_app_package_says_so_in_one_line(tmp_path: Path) -> None:
    """A project whose own package is called `app` shadows the framework: say what to do, no traceback."""
    shutil.copy2(ROOT / "artisan", tmp_path / "artisan")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text('"""A FastAPI project\'s own app package."""\n')
    result = subprocess.run([sys.executable, str(tmp_path / "artisan"), "list"], cwd=tmp_path, capture_output=True,
                            text=True, env={**_clean_env(), "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: No module named 'app.Console'; this framework owns the top-level package names app, config, routes "
        "and database: give your own package another name (docs/embedding.md)")


def test_editable_install_runs_the_source_tree(installed: Path, tmp_path: Path) -> None:
    """`pip install -e .` (last in this module: it replaces the regular install in the shared venv)."""
    src = _installed_src(installed)
    result = subprocess.run([str(installed / "python"), "-m", "pip", "install", "--no-index", "--no-build-isolation",
                             "-q", "-e", str(src)], capture_output=True, text=True, env=_clean_env(), cwd=tmp_path,
                            timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    imported = subprocess.run([str(installed / "python"), "-c", "import app; print(app.__file__)"],
                              capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), check=True)
    assert imported.stdout.strip() == str(src / "app" / "__init__.py")
    version = subprocess.run([str(installed / "artisan"), "--version"], capture_output=True, text=True,
                             cwd=tmp_path, env=_clean_env(), timeout=60)
    assert version.returncode == 0 and VERSION in version.stdout, version.stderr
