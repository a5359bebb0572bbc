"""Database settings: SQLite at storage/database.sqlite by default, MySQL/MariaDB through pymysql,
PostgreSQL through psycopg 3."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote_plus

from config.env import BASE_DIR, env, env_first, env_int, env_switch

# The seed's table names (RouteMQ: queue_jobs, queue_failed_jobs) are one setting away.
TABLE_SETTINGS = {"QUEUE_JOBS_TABLE": "jobs", "QUEUE_FAILED_TABLE": "failed_jobs"}
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def table_name(setting: str) -> str:
    """Get a configurable table name (QUEUE_JOBS_TABLE, QUEUE_FAILED_TABLE), refusing anything but a plain identifier."""
    raw = env(setting) or TABLE_SETTINGS[setting]
    if not _TABLE_NAME.fullmatch(raw):
        from app.Queue.errors import ConfigurationError

        raise ConfigurationError(f"{setting} must be a table name (letters, digits and _, at most 63), got {raw!r}")
    return raw


def mysql_enabled() -> bool:
    """ENABLE_MYSQL (seed 000): false switches MySQL/MariaDB off; true with no DB_CONNECTION selects it."""
    return env_switch("ENABLE_MYSQL", default=True)


def _refuse_disabled_mysql(what: str) -> None:
    from app.Queue.errors import ConfigurationError

    raise ConfigurationError(f"{what} uses MySQL, but ENABLE_MYSQL=false; set ENABLE_MYSQL=true or use DB_CONNECTION=sqlite")


def purge_nudge_enabled() -> bool:
    """DB_PURGE_NUDGE (default true): a MariaDB worker wakes InnoDB purge between claims (app/Queue/Database/purge_nudge.py)."""
    return env_switch("DB_PURGE_NUDGE", default=True)


DEFAULT_PORTS = {"mysql": "3306", "pgsql": "5432"}
# URL schemes people write for PostgreSQL, all served by psycopg 3 (SQLAlchemy's bare `postgresql://` means psycopg2).
POSTGRES_SCHEMES = ("postgresql+psycopg://", "postgresql://", "postgres://", "pgsql://")


def database_url() -> str:
    """Build the SQLAlchemy URL: DATABASE_URL (or DB_URL) wins over DB_*."""
    explicit = env("DATABASE_URL") or env("DB_URL")
    if explicit:
        if explicit.lower().startswith(("mysql", "mariadb")) and not mysql_enabled():
            _refuse_disabled_mysql("DATABASE_URL" if env("DATABASE_URL") else "DB_URL")
        return _with_postgres_driver(explicit)
    default_driver = "mysql" if env("ENABLE_MYSQL") and mysql_enabled() else "sqlite"
    driver = (env("DB_CONNECTION", default_driver) or default_driver).lower()
    if driver == "sqlite":
        path = Path(env_first(("DB_DATABASE", "DB_NAME"), str(BASE_DIR / "storage" / "database.sqlite")) or "")
        if not path.is_absolute():
            path = BASE_DIR / path
        return f"sqlite:///{path}"
    if driver in ("mysql", "mariadb"):
        if not mysql_enabled():
            _refuse_disabled_mysql(f"DB_CONNECTION={driver}")
        return f"mysql+pymysql://{_server_part('mysql', 'root')}{_mysql_query()}"
    if driver in ("pgsql", "postgres", "postgresql"):
        return f"postgresql+psycopg://{_server_part('pgsql', 'postgres')}"
    from app.Queue.errors import ConfigurationError

    raise ConfigurationError(f"DB_CONNECTION must be sqlite, mysql or pgsql, got {driver!r}")


def _server_part(driver: str, default_user: str) -> str:
    """user[:password]@host:port/name from DB_* (the seed's DB_USER, DB_PASS, DB_NAME too)."""
    user = quote_plus(env_first(("DB_USERNAME", "DB_USER"), default_user) or "")
    password = quote_plus(env_first(("DB_PASSWORD", "DB_PASS"), "") or "")
    host = env("DB_HOST", "127.0.0.1")
    port = env_int("DB_PORT", int(DEFAULT_PORTS[driver]), minimum=1, maximum=65535)
    name = env_first(("DB_DATABASE", "DB_NAME"), "queue")
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"{auth}{host}:{port}/{name}"


def _mysql_query() -> str:
    socket = env("DB_SOCKET")
    return f"?charset=utf8mb4&unix_socket={socket}" if socket else "?charset=utf8mb4"


def _with_postgres_driver(url: str) -> str:
    """Point a PostgreSQL URL at psycopg 3, whichever scheme spelling it uses."""
    for scheme in POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url
