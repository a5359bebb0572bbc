"""Alembic environment: shares the engine handed in by app.Queue.Database.migrator."""
from __future__ import annotations

from alembic import context

from app.Queue.Database.tables import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` CLI use: build the engine from the app's settings
    from app.Queue.Database.connection import make_engine
    from config.database import database_url

    engine = make_engine(database_url())

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=config.get_main_option("version_table") or "queue_alembic_version",
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
