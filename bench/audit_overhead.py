"""Measure what the audit trail costs: dispatch (bulk) + in-process worker, no-op jobs on SQLite.

Modes (alternated, median of --rounds): `without-audit` (every built-in listener but the trail)
and `with-audit` (all of them, as in production). The trail's writes are batched (QUEUE_AUDIT_BATCH).
Usage: python -m bench.audit_overhead [--jobs 5000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys

from bench.overhead import run_once, sqlite_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_overhead", description=__doc__)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with sqlite_store("bench-audit-") as everything:
        modes = {"without-audit": tuple(m for m in everything if m.__module__ != "app.Audit.AuditTrail"), "with-audit": everything}
        rates: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
        for _ in range(args.rounds):
            for mode, modules in modes.items():
                rates[mode].append(run_once(modules, args.jobs, time_dispatch=True))
        print(f"dispatch + run, no-op jobs/s, SQLite, {args.jobs} jobs, median of {args.rounds} (alternating modes):")
        for column, label in ((0, "wall"), (1, "CPU")):
            base = statistics.median(r[column] for r in rates["without-audit"])
            for mode, values in rates.items():
                median = statistics.median(r[column] for r in values)
                print(f"  {label:<4} {mode:<14} median {median:6.0f} jobs/s ({100 * (base - median) / base:+5.1f} % cost)  "
                      f"runs: {', '.join(f'{r[column]:.0f}' for r in values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
