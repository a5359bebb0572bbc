"""Show text read from the store on the console as text: no cleo style tags, no terminal control codes."""
from __future__ import annotations

import re

from cleo.formatters.formatter import Formatter

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n


def plain(text: object) -> str:
    """Escape `<` for cleo's formatter and replace control characters (ESC included) with `?`."""
    return Formatter.escape(_CONTROL.sub("?", str(text)))
