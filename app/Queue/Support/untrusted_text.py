"""Show text read from the store as text: control characters become visible escapes, never reach a terminal.

Queue names, uuids, job class names, exception texts and batch names come from the
database or Redis, where anyone who can dispatch (or write to the store) put them. Raw,
`\\x1b[2J` would clear the operator's screen and a newline would forge a log line.
`visible` is the one rule; the console's `plain` (app/Console/Support/untrusted.py) adds
cleo markup escaping on top, and `VisibleLogRecords` applies it to every log line.
"""
from __future__ import annotations

import logging
import re

# C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidirectional overrides
# that reorder what a terminal shows; with one_line, tab and newline too.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _show(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object, one_line: bool = False) -> str:
    """Replace control characters with `\\xNN` (`\\uNNNN` for bidi overrides); `one_line` also tab and newline."""
    return (_CONTROL_ONE_LINE if one_line else _CONTROL).sub(_show, str(value))


class VisibleLogRecords(logging.Filter):
    """A handler filter that makes each record's final message one line of visible text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = visible(message, one_line=True)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and not record.exc_text:  # a traceback quotes exception messages, also from the store
            record.exc_text = visible(logging.Formatter().formatException(record.exc_info))
        return True
