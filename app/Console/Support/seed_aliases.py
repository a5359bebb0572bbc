"""The seed's worker options (`--connection`, `--max-tries`) as aliases of queue:work's own.

RouteMQ (seed 000) starts workers with `--connection database --max-tries 5`; here the
connection is a positional argument and the attempt limit is `--tries`. Both spellings
work on queue:work and queue:listen; giving both with different values is an error.
"""
from __future__ import annotations

from typing import Any

from cleo.helpers import option

from app.Console.Command import UsageError

ALIAS_OPTIONS = [
    option("connection", None, "Alias of the connection argument (seed spelling)", flag=False, default=None),
    option("max-tries", None, "Alias of --tries (seed spelling)", flag=False, default=None),
]


def _given(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def connection_argument(command: Any) -> str | None:
    """The connection named by the argument or by --connection (they must agree when both are given)."""
    positional, named = _given(command.argument("connection")), _given(command.option("connection"))
    if positional and named and positional != named:
        raise UsageError(f"the connection argument ({positional!r}) and --connection ({named!r}) disagree; give one")
    return positional or named


def tries_option(command: Any) -> str:
    """The option name holding the attempt limit: `max-tries` when only it was given, else `tries`.

    --tries has a default, so it counts as given only when it differs from that default.
    """
    alias = _given(command.option("max-tries"))
    if alias is None:
        return "tries"
    tries = _given(command.option("tries"))
    default = command.definition.option("tries").default
    if tries is not None and tries != str(default) and tries != alias:
        raise UsageError(f"--tries ({tries}) and --max-tries ({alias}) disagree; give one")
    return "max-tries"
