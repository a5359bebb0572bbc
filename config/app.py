"""Application settings: the APP_KEY used to sign and encrypt payloads."""
from __future__ import annotations

import base64

from config.env import env


def app_key() -> bytes:
    """Decode APP_KEY (`base64:` + 32 random bytes), failing with a fix when it is missing or bad."""
    from app.Queue.errors import ConfigurationError

    return decode_key(env("APP_KEY"), "APP_KEY", ConfigurationError)


def previous_keys() -> list[bytes]:
    """Decode APP_PREVIOUS_KEYS (comma separated), the keys payloads may still be signed with."""
    from app.Queue.errors import ConfigurationError

    raw = env("APP_PREVIOUS_KEYS") or ""
    return [decode_key(k.strip(), "APP_PREVIOUS_KEYS", ConfigurationError) for k in raw.split(",") if k.strip()]


def decode_key(raw: str | None, name: str, error: type[Exception]) -> bytes:
    """Turn `base64:...` into 32 key bytes."""
    hint = "run `python artisan key:generate`"
    if not raw:
        raise error(f"{name} is not set; {hint}")
    if not raw.startswith("base64:"):
        raise error(f"{name} must start with 'base64:'; {hint}")
    try:
        key = base64.b64decode(raw[len("base64:"):], validate=True)
    except ValueError:
        raise error(f"{name} is not valid base64; {hint}") from None
    if len(key) != 32:
        raise error(f"{name} must decode to 32 bytes, got {len(key)}; {hint}")
    return key


def app_env() -> str:
    """Get the environment name (local, production, testing)."""
    return env("APP_ENV", "local") or "local"
