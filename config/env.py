"""Read settings from the process environment, then `.env`, then defaults."""
from __future__ import annotations

import os
from pathlib import Path

CODE_DIR = Path(__file__).resolve().parent.parent


def base_dir() -> Path:
    """The project root holding .env and storage/: the checkout itself, or (pip-installed) APP_BASE_PATH or the cwd."""
    if (CODE_DIR / "artisan").is_file():
        return CODE_DIR
    return Path(os.environ.get("APP_BASE_PATH") or Path.cwd()).resolve()


BASE_DIR = base_dir()

_dotenv: dict[str, str] | None = None


def env_file() -> Path:
    """Locate the .env file (APP_ENV_FILE overrides the project root default)."""
    return Path(os.environ.get("APP_ENV_FILE", BASE_DIR / ".env"))


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse KEY=VALUE lines; quotes are stripped, `#` starts a comment line."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def _load() -> dict[str, str]:
    global _dotenv
    if _dotenv is None:
        path = env_file()
        _dotenv = parse_dotenv(path.read_text()) if path.is_file() else {}
    return _dotenv


def reload() -> None:
    """Forget the cached .env so the next read sees the file again (tests, key:generate)."""
    global _dotenv
    _dotenv = None


def env(key: str, default: str | None = None) -> str | None:
    """Get a setting: the environment wins over .env, which wins over the default."""
    if key in os.environ:
        return os.environ[key]
    return _load().get(key, default)


def env_int(key: str, default: int) -> int:
    """Get an integer setting, with an error naming the variable when it is not a number."""
    raw = env(key)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        from app.Queue.errors import ConfigurationError

        raise ConfigurationError(f"{key} must be an integer, got {raw!r}") from None


def env_bool(key: str, default: bool) -> bool:
    """Get a boolean setting (true/false, 1/0, yes/no, on/off)."""
    raw = env(key)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def env_first(keys: tuple[str, ...], default: str | None = None) -> str | None:
    """Get the first of several alias variables that is set (DB_DATABASE or the seed's DB_NAME)."""
    for key in keys:
        value = env(key)
        if value not in (None, ""):
            return value
    return default


_SWITCH_VALUES = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def env_switch(key: str, default: bool) -> bool:
    """Get an on/off setting (ENABLE_REDIS, ENABLE_MYSQL), with an error naming it when it is neither."""
    raw = env(key)
    if raw in (None, ""):
        return default
    value = _SWITCH_VALUES.get(raw.strip().lower())
    if value is None:
        from app.Queue.errors import ConfigurationError

        raise ConfigurationError(f"{key} must be true or false, got {raw!r}")
    return value
