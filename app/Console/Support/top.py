"""Draw queue:top frames (pure text) and read keys from a terminal without waiting for Enter."""
from __future__ import annotations

import os
import select
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, Sequence

from app.Console.Support.targets import format_seconds
from app.Jobs.MetricsCollector import QueueMetrics
from app.Queue.Support.time import now
from app.Queue.Support.untrusted_text import visible

ENTER_SCREEN = "\x1b[?1049h\x1b[?25l"
LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l"
HOME_CLEAR = "\x1b[H\x1b[2J"


def render_frame(connection: str, queues: Sequence[tuple[QueueMetrics, bool]], workers: Sequence[dict[str, Any]],
                 width: int = 120) -> list[str]:
    """Lines of one frame: a header, a row per queue, a row per live worker with its running job."""
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"queue:top  {stamp}  connection {_plain(connection)}  (q quits)", ""]
    lines.append(f"{'QUEUE':<24}{'PENDING':>9}{'DELAYED':>9}{'RESERVED':>10}{'FAILED':>8}{'JOBS/MIN':>10}{'OLDEST':>9}  STATE")
    for m, paused in queues:
        lines.append(f"{_plain(m.queue)[:23]:<24}{m.pending:>9}{m.delayed:>9}{m.reserved:>10}{m.failed:>8}"
                     f"{m.throughput_per_minute:>10.1f}{format_seconds(m.oldest_wait):>9}  {'paused' if paused else 'active'}")
    lines += ["", f"WORKERS ({len(workers)})"]
    lines.append(f"{'WORKER':<32}{'PID':>8}  {'QUEUES':<18}{'DONE':>7}{'FAIL':>6}{'MEM MB':>8}  {'RUNNING JOB':<34}{'FOR':>8}{'SEEN':>7}")
    t = now()
    for w in workers:
        current = w.get("current") or {}
        job = f"{current.get('job', '')} {str(current.get('uuid') or '')[:8]}".strip() if current else "idle"
        running = format_seconds(t - float(current["started_at"])) if current else "-"
        queues_text = _plain(f"{w.get('connection', '?')}:{','.join(map(str, w.get('queues', [])))}")
        job = _plain(job)
        memory = w.get("memory_mb")
        memory_text = f"{float(memory):.1f}" if isinstance(memory, (int, float)) else "-"
        concurrency = w.get("concurrency") if isinstance(w.get("concurrency"), int) else 1  # store data: untrusted
        slots = [s for s in w.get("slots") or [] if isinstance(s, dict)] if isinstance(w.get("slots"), list) else []
        if concurrency > 1:  # one line per busy slot under the worker's own
            job = f"{len(slots)}/{concurrency} slots busy"
            running = "-"
        lines.append(f"{_plain(w['id'])[:31]:<32}{_plain(w.get('pid', '')):>8}  {queues_text[:17]:<18}{w.get('processed', 0):>7}"
                     f"{w.get('failed', 0):>6}{memory_text:>8}  {job[:33]:<34}{running:>8}{format_seconds(max(0.0, t - float(w.get('last_seen', t)))):>7}")
        if concurrency > 1:
            lines += _slot_lines(slots, t)
    if not workers:
        lines.append("  no worker is running (start one with `python artisan queue:work`)")
    return [line[:width] for line in lines]


def _plain(value: object) -> str:
    """A store string for the raw terminal frame: control characters shown, never sent."""
    return visible(value, one_line=True)


def _slot_lines(slots: Sequence[dict[str, Any]], t: float) -> list[str]:
    """A line per running job of a concurrent worker, oldest first."""
    out = []
    def started(slot: dict[str, Any]) -> float:
        value = slot.get("started_at")
        return float(value) if isinstance(value, (int, float)) else t

    for slot in sorted(slots, key=started):
        job = _plain(f"{slot.get('job', '')} {str(slot.get('uuid') or '')[:8]}".strip())
        out.append(f"{'':<32}{'':>8}  {'  slot':<18}{'':>7}{'':>6}  {job[:33]:<34}{format_seconds(t - started(slot)):>8}")
    return out


@contextmanager
def keyboard() -> Iterator[Any]:
    """Put stdin in cbreak mode (keys arrive one by one, Ctrl-C still interrupts); yield a `read_key(timeout)`."""
    if not sys.stdin or not sys.stdin.isatty():
        yield lambda timeout: _sleep_for_key(timeout)
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield lambda timeout: _read_key(fd, timeout)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _read_key(fd: int, timeout: float) -> str | None:
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 1).decode(errors="replace") if ready else None


def _sleep_for_key(timeout: float) -> None:
    import time

    time.sleep(timeout)
    return None
