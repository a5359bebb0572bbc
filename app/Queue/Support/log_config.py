"""Configure the stdlib `logging` tree from LOG_LEVEL and LOG_FORMAT (text, or json for log shippers)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from app.Queue.errors import ConfigurationError
from app.Queue.Support.untrusted_text import VisibleLogRecords

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, every `extra` field, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str | None, fmt: str | None) -> None:
    """Send log records at `level` and above to stderr as text or JSON; bad values name the setting."""
    name = (level or "WARNING").strip().upper()
    if name not in LEVELS:
        raise ConfigurationError(f"LOG_LEVEL must be one of {', '.join(LEVELS)}, got {level!r}")
    style = (fmt or "text").strip().lower()
    if style not in FORMATS:
        raise ConfigurationError(f"LOG_FORMAT must be text or json, got {fmt!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if style == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(VisibleLogRecords())  # messages carry queue names and exception texts from the store
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name)
