"""The project's version, single-sourced from pyproject.toml (read directly in a checkout, else from package metadata)."""
from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "artisan-queue"
PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def version() -> str:
    """Get the version: a source checkout reads pyproject.toml, an installed copy its package metadata."""
    if PYPROJECT.is_file():
        with PYPROJECT.open("rb") as f:
            project = tomllib.load(f).get("project", {})
        if project.get("name") == DISTRIBUTION and project.get("version"):
            return str(project["version"])
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"
