"""Run the Alembic migrations shipped in database/migrations from code."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "database" / "migrations"
VERSION_TABLE = "queue_alembic_version"


def alembic_config(engine: Engine) -> Config:
    """Build an Alembic Config in code that shares `engine`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("version_table", VERSION_TABLE)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to `revision` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Migrate the database down to `revision`."""
    command.downgrade(alembic_config(engine), revision)


def heads(engine: Engine) -> tuple[str, ...]:
    """Name the head revisions of the migration scripts (exactly one is expected)."""
    return tuple(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current(engine: Engine) -> str | None:
    """Name the revision the database is at (None before the first migration)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def status(engine: Engine) -> list[tuple[str, str, bool]]:
    """List (revision, description, applied) from oldest to newest."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    at = current(engine)
    applied_ids: set[str] = set()
    if at is not None:
        applied_ids = {rev.revision for rev in script.iterate_revisions(at, "base")}
    revisions = list(reversed(list(script.walk_revisions())))
    return [(rev.revision, rev.doc or "", rev.revision in applied_ids) for rev in revisions]
