"""Console colours: green for success, yellow for warnings and retries, red for failures.

cleo's own palette makes `<info>` blue and `<comment>` green, so `DONE`/`OK` would print
blue and `WARN`/`SKIP` green. NO_COLOR (https://no-color.org/) and `--no-ansi` turn
colours off altogether; cleo honours both.
"""
from __future__ import annotations

from cleo.formatters.style import Style
from cleo.io.io import IO

STYLES: dict[str, Style] = {
    "info": Style("green"),
    "comment": Style("yellow"),
    "error": Style("red", options=["bold"]),
    "question": Style("cyan"),
}


def apply_palette(io: IO) -> None:
    """Set the project's styles on every output of `io`."""
    for output in (io.output, io.error_output):
        for name, style in STYLES.items():
            output.formatter.set_style(name, style)
