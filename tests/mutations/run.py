"""Put known bugs into the code one at a time and check that the tests catch each one.

    .venv/bin/python -m tests.mutations.run            # all mutations
    .venv/bin/python -m tests.mutations.run then-fires-twice redis-ack-noop
    .venv/bin/python -m tests.mutations.run --baseline # also run each selection unmutated first

A tool, not a test: pytest does not collect it (no test_ prefix), and `make test` never runs it.
Each mutation replaces one exact snippet in one file (it must occur exactly once), runs the
tests that should notice under a per-test and an overall time limit, and always writes the
file's original bytes back (finally, atexit and SIGTERM/SIGINT). A run killed with SIGKILL
prints nothing; `git diff app/` then shows what to revert.

Outcomes: caught (tests failed), SURVIVED (tests passed), HUNG (a test hit its time limit, or the
run hit the overall one), ERROR (pytest could not run: collection error, bad selection).
"""
from __future__ import annotations

import atexit
import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PER_TEST_TIMEOUT = 120  # pytest-timeout (thread method): a hung test ends the run
OVERALL_TIMEOUT = 600   # seconds per mutation run, whatever happens inside


@dataclass(frozen=True)
class Mutation:
    """One deliberate bug: replace `old` with `new` in `path`, then run `tests` (pytest arguments)."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "redis-ack-noop", "app/Queue/Drivers/RedisQueue.py",
        '            if self.done_until is None:\n'
        '                return bool(driver.held.execute(*command))\n'
        '            return bool(driver.held.evalsha(driver._ack, command))',
        "            return True",
        ("tests/drivers/test_contract.py", "tests/drivers/test_redis_driver.py", "-k", "redis"),
    ),
    Mutation(
        "ack-skipped-in-combined-pop", "app/Queue/LuaScripts.py",
        "local deleted = redis.call('zrem', KEYS[3], ARGV[4])",
        "local deleted = 1",
        ("tests/drivers/test_redis_driver.py",),
    ),
    Mutation(
        "bad-signature-accepted", "app/Queue/Payload.py",
        '    raise InvalidPayloadError("payload signature does not match APP_KEY (forged, corrupted, or signed with an unknown key)")',
        "    return",
        ("tests/unit/test_payload.py", "tests/unit/test_security.py"),
    ),
    Mutation(
        "batch-counter-minus-two", "app/Bus/BatchRepository.py",
        "return replace(batch, pending_jobs=batch.pending_jobs - 1), False",
        "return replace(batch, pending_jobs=batch.pending_jobs - 2), False",
        ("tests/unit/test_batches_sync.py", "tests/unit/test_batch_repository_counts.py", "tests/drivers/test_batch_redelivery.py", "-m", "not slow"),
    ),
    Mutation(
        "member-counted-twice", "app/Bus/BatchRepository.py",
        "if previous is not None and previous[0] == SUCCEEDED:\n                return batch, False\n"
        "            self._put_member(conn, batch.id, member, SUCCEEDED",
        "if False:\n                return batch, False\n"
        "            self._put_member(conn, batch.id, member, SUCCEEDED",
        ("tests/unit/test_batches_sync.py", "tests/unit/test_batch_repository_counts.py", "tests/drivers/test_batch_redelivery.py", "-m", "not slow"),
    ),
    Mutation(
        "release-ignores-delay-sql", "app/Queue/Drivers/DatabaseQueue.py",
        "values: dict[str, Any] = dict(reserved_at=None, reserved_by=None, available_at=_available_at(delay))",
        "values: dict[str, Any] = dict(reserved_at=None, reserved_by=None, available_at=_available_at(0))",
        ("tests/drivers/test_contract.py", "-k", "sqlite or mariadb"),
    ),
    Mutation(
        "release-ignores-delay-redis", "app/Queue/LuaScripts.py",
        "if tonumber(ARGV[2]) > tonumber(ARGV[1]) then\n  redis.call('zadd', KEYS[2], ARGV[2], rec)",
        "if false then\n  redis.call('zadd', KEYS[2], ARGV[2], rec)",
        ("tests/drivers/test_contract.py", "-k", "redis"),
    ),
    Mutation(
        "unique-lock-never-released", "app/Jobs/UniqueLock.py",
        "return self.manager.locks.release(lock_key(job), owner)",
        "return False",
        ("tests/drivers/test_unique_jobs.py", "-m", "not slow"),
    ),
    Mutation(
        "rate-limit-release-burns-an-attempt", "app/Queue/Worker.py",
        "reserved.release(wait, undo_attempt=True)",
        "reserved.release(wait, undo_attempt=False)",
        ("tests/drivers/test_rate_limits.py", "-m", "not slow"),
    ),
    Mutation(
        "pop-uses-redis-time", "app/Queue/LuaScripts.py",
        "migrate(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])\n"
        "local rec = reserve(KEYS[1], KEYS[3], KEYS[4], ARGV[2], ARGV[3], KEYS[5])\nif rec then return {rec, seen(KEYS[6], rec, ARGV[1])} end",
        "migrate(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], redis.call('TIME')[1])\n"
        "local rec = reserve(KEYS[1], KEYS[3], KEYS[4], ARGV[2], ARGV[3], KEYS[5])\nif rec then return {rec, seen(KEYS[6], rec, ARGV[1])} end",
        ("tests/drivers/test_contract.py", "-k", "redis"),
    ),
    Mutation(
        "then-fires-twice", "app/Bus/BatchRepository.py",
        'if not beyond and cancelled_at is None and "then" not in fired:',
        "if not beyond and cancelled_at is None:",
        ("tests/unit/test_batches_sync.py", "tests/unit/test_batch_repository_counts.py", "tests/drivers/test_batch_redelivery.py", "-m", "not slow"),
    ),
)


class Restorer:
    """Write a file's original bytes back however the script ends (short of SIGKILL)."""

    def __init__(self) -> None:
        self.saved: dict[Path, bytes] = {}
        atexit.register(self.restore)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def mutate(self, path: Path, old: str, new: str) -> None:
        original = path.read_bytes()
        text = original.decode("utf-8")
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"{path.relative_to(ROOT)}: the snippet to mutate occurs {count} times (want 1); "
                             "the code changed, update tests/mutations/run.py")
        self.saved[path] = original
        path.write_text(text.replace(old, new), encoding="utf-8")

    def restore(self) -> None:
        for path, original in list(self.saved.items()):
            path.write_bytes(original)
            if hashlib.sha256(path.read_bytes()).digest() != hashlib.sha256(original).digest():
                print(f"could not restore {path}; run: git checkout -- {path.relative_to(ROOT)}", file=sys.stderr)
            del self.saved[path]

    def _on_signal(self, signum: int, frame: object) -> None:
        self.restore()
        raise SystemExit(128 + signum)


def run_tests(args: tuple[str, ...]) -> tuple[str, float, str]:
    """Run pytest on `args` in its own process group; returns (outcome, seconds, last lines of output)."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", f"--timeout={PER_TEST_TIMEOUT}", *args]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        out, _ = proc.communicate(timeout=OVERALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return "HUNG", time.monotonic() - started, (out or "")[-800:]
    seconds = time.monotonic() - started
    tail = "\n".join(out.strip().splitlines()[-6:])
    if "+++++++ Timeout +++++++" in out:
        return "HUNG", seconds, tail
    outcome = {0: "SURVIVED", 1: "caught"}.get(proc.returncode, f"ERROR (pytest exit {proc.returncode})")
    return outcome, seconds, tail


def main(argv: list[str]) -> int:
    baseline = "--baseline" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    chosen = [m for m in MUTATIONS if not wanted or m.name in wanted]
    unknown = set(wanted) - {m.name for m in MUTATIONS}
    if unknown:
        print(f"unknown mutation(s): {', '.join(sorted(unknown))}; known: {', '.join(m.name for m in MUTATIONS)}")
        return 2
    restorer = Restorer()
    rows: list[tuple[str, str, str, float]] = []
    for mutation in chosen:
        path = ROOT / mutation.path
        if baseline:
            outcome, seconds, tail = run_tests(mutation.tests)
            if outcome != "SURVIVED":  # unmutated, the selection must pass
                print(f"{mutation.name}: baseline is not green ({outcome}):\n{tail}")
                return 1
        restorer.mutate(path, mutation.old, mutation.new)
        try:
            outcome, seconds, tail = run_tests(mutation.tests)
        finally:
            restorer.restore()
        rows.append((mutation.name, mutation.path, outcome, seconds))
        print(f"{mutation.name:38} {outcome:10} {seconds:6.1f} s", flush=True)
        if outcome != "caught":
            print(tail)
    print("\n| mutation | file | outcome | seconds |\n|---|---|---|---|")
    for name, file, outcome, seconds in rows:
        print(f"| {name} | {file} | {outcome} | {seconds:.0f} |")
    caught = sum(1 for row in rows if row[2] == "caught")
    print(f"\n{caught} of {len(rows)} caught")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
