"""A Redis worker at rest imports only what its driver needs: no SQLAlchemy, no AES-GCM (RSS at rest)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.servers_redis import RedisServer
from tests.support import ROOT, worker_env

CHILD = """
import json, sys
sys.argv = ["artisan", "queue:work", "redis", "--stop-when-empty", "--sleep=0", "--quiet"]
from app.Console.kernel import main
try:
    status = main()
except SystemExit as exc:
    status = exc.code
# redis-py itself imports the top-level cryptography package; the AES-GCM bindings are the weight
heavy = sorted(set(sys.modules) & {"sqlalchemy", "cryptography.hazmat.primitives.ciphers.aead"})
print(json.dumps({"status": status, "heavy": heavy}), file=sys.__stdout__, flush=True)
"""


def test_an_idle_redis_worker_loads_neither_sqlalchemy_nor_the_cipher(redis_server: RedisServer, tmp_path):
    env = worker_env({**redis_server.env(5), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis",
                      "DB_DATABASE": str(tmp_path / "none.sqlite")})
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"status": 0, "heavy": []}
