"""Show text read from the store on the console as text: no cleo style tags, no terminal control codes.

Every command prints store strings (queue names, uuids, job names, exceptions, batch names)
through `plain`: `<fg=nosuchcolor>x</>` would crash cleo's formatter, `<error>x</error>` would
render as styling, and control characters are shown as escapes (app/Queue/Support/untrusted_text.py).
"""
from __future__ import annotations

import json

from cleo.formatters.formatter import Formatter

from app.Queue.Support.untrusted_text import visible


def plain(text: object, one_line: bool = False) -> str:
    """Escape `<` for cleo's formatter and show control characters (ESC included) as `\\xNN`.

    Tab and newline are kept (a trace prints on several lines) unless `one_line`: table cells
    and one-line messages must not be split or forged by a stored newline.
    """
    return Formatter.escape(visible(text, one_line))


def plain_json(data: object) -> str:
    """JSON for `self.line`: ASCII only (json escapes control characters in strings), DEL escaped
    the JSON way, and markup escaped so cleo prints it exactly."""
    return Formatter.escape(json.dumps(data, indent=2).replace("\x7f", "\\u007f"))
