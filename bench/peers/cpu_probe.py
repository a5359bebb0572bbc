"""One ourq worker on the peers harness's jobs: steady jobs/s and the worker's CPU per job.

Judging a change by jobs/s alone is hopeless on a shared 2-core machine; the worker process's
CPU seconds per job (from /proc/<pid>/stat, between 10 % and 90 % of the jobs) is steadier.
Run `bench/peers/run.sh` once first (it copies the harness to storage/bench-peers), then e.g.:

    storage/bench-peers/.venv/bin/python bench/peers/cpu_probe.py --port 6392 --c 32 --n 10000
    ... --c 500 --async --n 20000        # async def handle jobs
    ... --c 1 --io-ms 0                  # no-op jobs, one at a time
    ... --pyspy /tmp/c32.raw             # also `py-spy record --idle --threads` for 4 s (raw stacks)
    ... --pyspy /tmp/a.raw --pyspy-args '--threads --nonblocking -r 200 -d 6'   # (PY_SPY=<path> if not on PATH)

It starts its own redis-server on --port (use your own), so never run two at once on one port.
"""
import argparse
import os
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=6392)
ap.add_argument("--n", type=int, default=10000)
ap.add_argument("--c", type=int, default=32)
ap.add_argument("--async", dest="use_async", action="store_true")
ap.add_argument("--io-ms", type=float, default=20)
ap.add_argument("--pyspy", default="")
ap.add_argument("--pyspy-args", default="--idle --threads -d 4", help="py-spy record options besides --pid/-o/-f")
ap.add_argument("--extra", default="")
ap.add_argument("--per-thread", action="store_true", help="also the CPU us/job of each thread (names from py-spy dump)")
a = ap.parse_args()
os.environ["BENCH_REDIS_BASE"] = f"redis://127.0.0.1:{a.port}"
os.environ["BENCH_JOB_IO_MS"] = str(a.io_ms)
PROJECT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(PROJECT, "storage", "bench-peers")  # the harness copy made by bench/peers/run.sh
os.environ.setdefault("OURQ_PROJECT", PROJECT)
sys.path.insert(0, HERE)
import redis  # noqa: E402

srv = subprocess.Popen(["redis-server", "--port", str(a.port), "--save", "", "--appendonly", "no"],
                       stdout=subprocess.DEVNULL)
time.sleep(0.3)
try:
    import ourq_sys  # noqa: E402
    from common import DONE_KEY  # noqa: E402

    r = redis.Redis.from_url(ourq_sys.URL)
    redis.Redis(port=a.port).flushall()
    s = ourq_sys.OurQueueAsync32() if a.use_async else ourq_sys.OurQueueThreads32()
    s.concurrency = a.c
    s.open()
    s.enqueue_many(a.n)
    s.close()
    env = dict(os.environ)
    env.update(s.worker_env())
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    cmd = s.worker_cmd()
    if a.c == 1:
        cmd = [c for c in cmd if not c.startswith("--concurrency")]
    cmd += a.extra.split()
    proc = subprocess.Popen(cmd, cwd=HERE, env=env, start_new_session=True)

    def cpu() -> float:
        with open(f"/proc/{proc.pid}/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")

    def thread_cpu() -> dict[int, float]:
        out = {}
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            try:
                with open(f"/proc/{proc.pid}/task/{tid}/stat") as f:
                    v = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(tid)] = (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
        return out

    t0 = time.perf_counter()
    marks = {}
    spy = None
    while True:
        c = int(r.get(DONE_KEY) or 0)
        now = time.perf_counter() - t0
        if c >= 0.1 * a.n and "a" not in marks:
            marks["a"] = (now, c, cpu())
            threads_a = thread_cpu() if a.per_thread else {}
            if a.pyspy:
                pyspy = os.environ.get("PY_SPY", "py-spy")
                spy = subprocess.Popen([pyspy, "record", "--pid", str(proc.pid), "-o", a.pyspy, "-f", "raw",
                                        *a.pyspy_args.split()],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if c >= 0.9 * a.n and "b" not in marks:
            marks["b"] = (now, c, cpu())
            threads_b = thread_cpu() if a.per_thread else {}
        if c >= a.n or now > 60:
            break
        time.sleep(0.005)
    if "b" not in marks:
        print("stalled at", c, "of", a.n)
        os.killpg(proc.pid, 9)
        raise SystemExit(1)
    (ta, ca, ua), (tb, cb, ub) = marks["a"], marks["b"]
    rate = (cb - ca) / (tb - ta)
    us = (ub - ua) / (cb - ca) * 1e6
    print(f"c={a.c} async={a.use_async} n={a.n}: steady {rate:,.0f}/s, cpu {us:.0f} us/job, "
          f"cpu use {(ub - ua) / (tb - ta) * 100:.0f}%  total {now:.1f}s")
    if a.per_thread:
        import re
        dump = subprocess.run([os.environ.get("PY_SPY", "py-spy"), "dump", "--pid", str(proc.pid)],
                              capture_output=True, text=True).stdout
        tids: dict[int, str] = {}
        for line in dump.splitlines():
            m = re.match(r'Thread (\S+) \((\w+)\): "(.*?)"', line)
            if m:
                tids[int(m.group(1), 0)] = m.group(3)
        for tid, used in sorted(threads_b.items(), key=lambda kv: -(kv[1] - threads_a.get(kv[0], 0))):
            d = used - threads_a.get(tid, 0)
            if d > 0:
                print(f"  {tids.get(tid, tid)!s:28} {d / (cb - ca) * 1e6:6.0f} us/job")
    proc.terminate()
    proc.wait(20)
    if spy:
        spy.wait(30)
finally:
    srv.terminate()
    srv.wait()
