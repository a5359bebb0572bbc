#!/usr/bin/env bash
# Run ../shared/bench-peers with this project added as the `ourq` row, all in one run.
#   bench/peers/run.sh [--systems ourq,ourq-prefetch100,huey,dramatiq-prefetch100,raw-redis] [other bench.py options]
# The harness is copied to storage/bench-peers (shared/ is read-only); its venv gets this
# project's requirements too, so the bench process can dispatch our jobs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SRC="${BENCH_PEERS_DIR:-$ROOT/../shared/bench-peers}"
DEST="$ROOT/storage/bench-peers"
[ -d "$SRC" ] || { echo "bench-peers not found at $SRC (set BENCH_PEERS_DIR)"; exit 2; }
mkdir -p "$DEST"
cp -r "$SRC"/. "$DEST"/
chmod -R u+w "$DEST"
cp "$ROOT/bench/peers/ourq_sys.py" "$DEST/"
cd "$DEST"
[ -x .venv/bin/python ] || ./setup.sh >/dev/null
.venv/bin/pip install -q -r "$ROOT/requirements.txt"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--systems ourq,ourq-prefetch100,huey,dramatiq-prefetch100,raw-redis,rq-simple,celery --repeats 3)
OURQ_PROJECT="$ROOT" .venv/bin/python bench.py --out "$ROOT/storage/bench-peers-RESULTS.md" --json "$ROOT/storage/bench-peers-results.json" "${args[@]}"
echo "results: storage/bench-peers-RESULTS.md"
