"""Read settings from the process environment, then `.env`, then defaults."""
from __future__ import annotations

import math
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


def _invalid(message: str) -> Exception:
    from app.Queue.errors import ConfigurationError

    return ConfigurationError(message)


def env_int(key: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    """Get an integer setting, with an error naming the variable when it is not a whole number in range."""
    raw = env(key)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise _invalid(f"{key} must be an integer, got {raw!r}") from None
    _check_range(key, value, raw, minimum, maximum)
    return value


def env_float(key: str, default: float, minimum: float | None = None, maximum: float | None = None,
              positive: bool = False) -> float:
    """Get a finite number setting (not nan/inf), with an error naming the variable when it is out of range."""
    raw = env(key)
    if raw in (None, ""):
        return default
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise _invalid(f"{key} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise _invalid(f"{key} must be a finite number, got {raw!r}")
    if positive and value <= 0:
        raise _invalid(f"{key} must be greater than 0, got {raw!r}")
    _check_range(key, value, raw, minimum, maximum)
    return value


def _check_range(key: str, value: float, raw: str, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise _invalid(f"{key} must be at least {minimum:g}, got {raw!r}")
    if maximum is not None and value > maximum:
        raise _invalid(f"{key} must be at most {maximum:g}, got {raw!r}")


def env_choice(key: str, choices: tuple[str, ...], default: str) -> str:
    """Get a setting that must be one of `choices` (compared in lower case)."""
    raw = env(key)
    if raw in (None, ""):
        return default
    value = str(raw).strip().lower()
    if value not in choices:
        raise _invalid(f"{key} must be one of {', '.join(choices)}; got {raw!r}")
    return value


def env_list(key: str, default: str, allow_empty: bool = True) -> list[str]:
    """Get a comma-separated list setting; an explicitly empty one is an error unless `allow_empty`."""
    raw = env(key, default)
    items = [part.strip() for part in (raw or "").split(",") if part.strip()]
    if not items and not allow_empty:
        raise _invalid(f"{key} must list at least one value (comma separated), got {raw!r}")
    return items


def env_bool(key: str, default: bool) -> bool:
    """Get a boolean setting (true/false, 1/0, yes/no, on/off)."""
    raw = env(key)
    if raw in (None, ""):
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise _invalid(f"{key} must be true or false (1/0, yes/no, on/off), got {raw!r}")


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
