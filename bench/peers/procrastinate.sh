#!/usr/bin/env bash
# Compare this project's PostgreSQL driver with procrastinate in one run (bench/peers/vs_procrastinate.py).
#   bench/peers/procrastinate.sh [--quick]
# procrastinate is not a project dependency: it goes into its own venv under storage/, with
# this project's requirements beside it, so both sides run the same Python and psycopg.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="$ROOT/storage/bench-peers-procrastinate"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q procrastinate==3.10.0 -r "$ROOT/requirements.txt"
cd "$ROOT"
"$VENV/bin/python" bench/peers/vs_procrastinate.py "$@"
