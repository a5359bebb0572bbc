"""Base class of artisan commands: one-line errors, option parsing helpers, progress bars."""
from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from cleo.commands.command import Command as CleoCommand

from app.Console.Support.untrusted import plain
from app.Queue.errors import QueueError
from app.Queue.Support.untrusted_text import visible
from app.Console.Signature import parse_signature

T = TypeVar("T")

MAX_SECONDS = 365 * 86400.0  # a year: above it a wait or timeout overflows the platform's timers


class UsageError(QueueError):
    """A bad argument or option value."""


class Command(CleoCommand):
    """Subclasses implement `run_command()`; errors become one red line and exit status 1.

    Laravel's form works too: a `signature = "report:send {user} {--queue=default}"` class
    attribute (app/Console/Signature.py) and a `handle()` method, which then gets the same
    one-line error handling as `run_command()`. cleo's `name` / `arguments` / `options` stay as they are.
    """

    signature: str | None = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if own.get("signature"):
            cls.name, cls.arguments, cls.options = parse_signature(str(own["signature"]))
        if "handle" in own and "run_command" not in own:  # Laravel's handle(): run it inside our error handling
            cls.run_command = own["handle"]  # type: ignore[method-assign]
            cls.handle = Command.handle  # type: ignore[method-assign]

    def handle(self) -> int:
        try:
            return int(self.run_command() or 0)
        except (QueueError, ValueError, TypeError) as exc:
            if self.io.is_debug():  # -vvv shows the traceback for bug reports
                raise
            if self.io.error_output.is_quiet():  # --quiet hides output, never the reason for a failure
                print(f"error: {visible(_one_line(exc), one_line=True)}", file=sys.stderr)
            else:
                self.line_error(f"<error>{plain(_one_line(exc), one_line=True)}</error>")
            return 1
        except KeyboardInterrupt:
            self.line_error("<comment>interrupted</comment>")
            return 130

    def run_command(self) -> int | None:
        raise UsageError(f"{self.name} has no implementation")

    # -- option helpers ----------------------------------------------------------------------
    def _parse(self, name: str, convert: Callable[[str], T], what: str, default: T | None = None, minimum: float | None = None) -> T | None:
        raw = self.option(name)
        if raw in (None, ""):
            return default
        try:
            value = convert(str(raw))
        except ValueError:
            raise UsageError(f"--{name} must be {what}, got {raw!r}") from None
        if isinstance(value, float) and not math.isfinite(value):  # nan spins the loop, inf overflows time_t
            raise UsageError(f"--{name} must be a finite number, got {raw!r}")
        if isinstance(value, float) and value > MAX_SECONDS:
            raise UsageError(f"--{name} must be at most {MAX_SECONDS:g}, got {raw!r}")
        if minimum is not None and value < minimum:  # type: ignore[operator]
            raise UsageError(f"--{name} must be at least {minimum:g}, got {raw!r}")
        return value

    def int_option(self, name: str, default: int = 0, minimum: int = 0) -> int:
        return self._parse(name, int, "a whole number", default, minimum) or 0

    def float_option(self, name: str, default: float = 0.0, minimum: float = 0.0) -> float:
        value = self._parse(name, float, "a number", default, minimum)
        return float(value or 0.0)

    def list_option(self, name: str) -> list[str]:
        raw = self.option(name) or ""
        return [part.strip() for part in str(raw).split(",") if part.strip()]

    # -- output --------------------------------------------------------------------------------
    def is_tty(self) -> bool:
        stream = getattr(self.io.output, "stream", None)
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())

    @contextmanager
    def progress(self, total: int) -> Iterator[Callable[[int], None]]:
        """Yield an `advance(n)` function that draws a progress bar on a terminal, nothing otherwise."""
        if not self.is_tty() or total < 2:
            yield lambda n=1: None
            return
        bar = self.progress_bar(total)
        bar.start()
        try:
            yield bar.advance
        finally:
            bar.finish()
            self.line("")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def stdin_is_tty() -> bool:
    return bool(sys.stdin and sys.stdin.isatty())

