"""Read a failed job's class from its stored payload, and match it against a `--class` filter."""
from __future__ import annotations

import json
from typing import Any


def payload_fields(payload: str) -> dict[str, Any]:
    """The stored envelope as a dict, or {} when the payload is not a JSON object (untrusted text)."""
    try:
        data = json.loads(payload)
    except (ValueError, TypeError, RecursionError):  # a planted row may nest deeper than the parser allows
        return {}
    return data if isinstance(data, dict) else {}


def job_class(payload: str) -> str:
    """Name the job class of a stored payload, or '?' when it cannot be read."""
    data = payload_fields(payload)
    return str(data.get("displayName") or data.get("job") or "?")[:100]


def class_matches(payload: str, wanted: str) -> bool:
    """True when `wanted` names the payload's class: `SendEmailJob`, `module:SendEmailJob` or `module.SendEmailJob`."""
    data = payload_fields(payload)
    path = str(data.get("job") or "")
    return wanted in (str(data.get("displayName") or ""), path, path.replace(":", "."))


LIKE_ESCAPE = "!"  # not a backslash: MySQL reads one inside a string literal as an escape of its own


def like_pattern(wanted: str) -> str:
    """A SQL LIKE pattern that every payload of class `wanted` contains (a pre-filter; class_matches decides)."""
    name = wanted.replace(":", ".").rsplit(".", 1)[-1]
    escaped = name.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"%{escaped}%"
