"""Laravel's command signatures: `signature = "report:send {user} {--queue=default}"` -> cleo name, arguments, options.

Grammar (as Laravel's): `{user}` required argument, `{user?}` optional, `{user=alice}` optional
with a default, `{users*}` one or more, `{users?*}` any number; `{--force}` a flag, `{--queue=}`
an option taking a value, `{--queue=default}` with a default, `{--id=*}` repeatable,
`{--Q|queue=}` with a shortcut. ` : text` after any of them is its description.
"""
from __future__ import annotations

import re
from typing import Any

from cleo.helpers import argument, option

from app.Queue.errors import ConfigurationError

_TOKEN = re.compile(r"\{\s*([^{}]*?)\s*\}")
_NAME = re.compile(r"^[A-Za-z0-9][\w:.\-]*$")


def parse_signature(signature: str) -> tuple[str, list[Any], list[Any]]:
    """Split a signature into the command name, cleo arguments and cleo options."""
    head, _, _rest = signature.partition("{")
    name = head.strip()
    if not name or not _NAME.match(name):
        raise ConfigurationError(f"command signature {signature!r} must start with the command name, e.g. 'report:send {{user}}'")
    leftover = _TOKEN.sub("", signature[len(head):]).strip()
    if leftover:
        raise ConfigurationError(f"command signature {signature!r}: cannot read {leftover!r} (write each part as {{...}})")
    arguments: list[Any] = []
    options: list[Any] = []
    for token in _TOKEN.findall(signature):
        spec, _, description = token.partition(" : ")
        spec, description = spec.strip(), description.strip() or None
        if spec.startswith("--"):
            options.append(_option(signature, spec[2:], description))
        else:
            arguments.append(_argument(signature, spec, description))
    return name, arguments, options


def _argument(signature: str, spec: str, description: str | None) -> Any:
    default: Any = None
    optional = multiple = False
    if "=" in spec:
        spec, default = spec.split("=", 1)
        optional = True
    if spec.endswith("*"):
        spec, multiple = spec[:-1], True
    if spec.endswith("?"):
        spec, optional = spec[:-1], True
    _check_name(signature, spec)
    if multiple and default is not None:
        default = [d.strip() for d in default.split(",") if d.strip()]
    return argument(spec, description, optional=optional, multiple=multiple, default=default if optional else None)


def _option(signature: str, spec: str, description: str | None) -> Any:
    shortcut = None
    if "|" in spec:
        shortcut, spec = spec.split("|", 1)
    if "=" not in spec:
        _check_name(signature, spec)
        return option(spec, shortcut, description, flag=True)
    spec, default = spec.split("=", 1)
    _check_name(signature, spec)
    multiple = default.endswith("*")
    if multiple:
        default = default[:-1]
    value: Any = default if default != "" else None
    if multiple:
        value = [value] if value is not None else None
    return option(spec, shortcut, description, flag=False, multiple=multiple, default=value)


def _check_name(signature: str, name: str) -> None:
    if not re.match(r"^[A-Za-z_][\w\-]*$", name):
        raise ConfigurationError(f"command signature {signature!r}: {name!r} is not a valid argument or option name")
