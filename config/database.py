"""Database settings: SQLite at storage/database.sqlite by default, MySQL/MariaDB through pymysql."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote_plus

from config.env import BASE_DIR, env, env_first


def database_url() -> str:
    """Build the SQLAlchemy URL from DB_* (DB_URL wins when set)."""
    explicit = env("DB_URL")
    if explicit:
        return explicit
    driver = (env("DB_CONNECTION", "sqlite") or "sqlite").lower()
    if driver == "sqlite":
        path = Path(env_first(("DB_DATABASE", "DB_NAME"), str(BASE_DIR / "storage" / "database.sqlite")) or "")
        if not path.is_absolute():
            path = BASE_DIR / path
        return f"sqlite:///{path}"
    if driver in ("mysql", "mariadb"):
        user = quote_plus(env_first(("DB_USERNAME", "DB_USER"), "root") or "")
        password = quote_plus(env_first(("DB_PASSWORD", "DB_PASS"), "") or "")
        host = env("DB_HOST", "127.0.0.1")
        port = env("DB_PORT", "3306")
        name = env_first(("DB_DATABASE", "DB_NAME"), "queue")
        auth = f"{user}:{password}@" if password else f"{user}@"
        socket = env("DB_SOCKET")
        query = f"?charset=utf8mb4&unix_socket={socket}" if socket else "?charset=utf8mb4"
        return f"mysql+pymysql://{auth}{host}:{port}/{name}{query}"
    from app.Queue.errors import ConfigurationError

    raise ConfigurationError(f"DB_CONNECTION must be sqlite or mysql, got {driver!r}")
