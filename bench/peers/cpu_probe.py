"""One ourq worker on the peers harness's jobs: steady jobs/s and the worker's CPU per job.

Judging a change by jobs/s alone is hopeless on a shared 2-core machine; the worker process's
CPU seconds per job (from /proc/<pid>/stat, between 10 % and 90 % of the jobs) is steadier.
It also gives the worker's voluntary context switches per job (`vcsw/job`: each is a thread
that blocked -- on I/O, a lock, or the GIL -- and had to be woken again).
Run `bench/peers/run.sh` once first (it copies the harness to storage/bench-peers), then e.g.:

    storage/bench-peers/.venv/bin/python bench/peers/cpu_probe.py --port 6392 --c 32 --n 10000
    ... --c 500 --async --n 20000        # async def handle jobs
    ... --c 1 --io-ms 0                  # no-op jobs, one at a time
    ... --pyspy /tmp/c32.raw             # also `py-spy record --idle --threads` for 4 s (raw stacks)
    ... --pyspy /tmp/a.raw --pyspy-args '--threads --nonblocking -r 200 -d 6'   # (PY_SPY=<path> if not on PATH)
    ... --gaps                           # how long a slot thread is between two of its jobs (def handle only)
    ... --peer dramatiq_sys:DramatiqThreads32   # a peer row's worker instead (CPU and vcsw of its process group)

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
ap.add_argument("--per-thread", action="store_true", help="also the CPU us/job and vcsw/job of each thread (names from py-spy dump)")
ap.add_argument("--gaps", action="store_true", help="also the time from the end of a job to the start of the next one on the "
                "same slot thread (OURQ_JOB_SPANS, see ourq_sys.JobSpans)")
ap.add_argument("--peer", default="", help="module:Class of a peer row in the harness (e.g. huey_sys:HueyThreads32) to run instead")
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

    redis.Redis(port=a.port).flushall()
    if a.peer:
        import importlib

        import common  # noqa: E402

        module, _, name = a.peer.partition(":")
        s = getattr(importlib.import_module(module), name)()
        r = redis.Redis.from_url(common.url_for(s.db))
    else:
        r = redis.Redis.from_url(ourq_sys.URL)
        s = ourq_sys.OurQueueAsync32() if a.use_async else ourq_sys.OurQueueThreads32()
        s.concurrency = a.c
    s.open()
    s.enqueue_many(a.n)
    s.close()
    env = dict(os.environ)
    env.update(s.worker_env() or {})
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    spans_file = f"/tmp/cpu_probe_spans_{os.getpid()}.json"
    if a.gaps:
        env["OURQ_JOB_SPANS"] = spans_file
    cmd = s.worker_cmd()
    if a.c == 1:
        cmd = [c for c in cmd if not c.startswith("--concurrency")]
    cmd += a.extra.split()
    proc = subprocess.Popen(cmd, cwd=HERE, env=env, start_new_session=True)

    def group() -> list[int]:
        """The worker's processes: its process group (a peer's supervisor and its children too)."""
        pids = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[2]) == proc.pid:
                            pids.append(int(p))
                except OSError:
                    continue
        return pids

    def task_stats(pid: int) -> dict[int, tuple[float, int]]:
        """CPU seconds and voluntary context switches of each thread of `pid`."""
        out = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    v = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    vcsw = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
            except (OSError, StopIteration):
                continue
            out[int(tid)] = ((int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK"), vcsw)
        return out

    def cpu() -> tuple[float, int]:
        """CPU seconds and voluntary context switches of the whole worker, so far (threads alive now)."""
        used, switches = 0.0, 0
        for pid in group():
            try:
                for t, v in task_stats(pid).values():
                    used, switches = used + t, switches + v
            except OSError:
                continue
        return used, switches

    def thread_cpu() -> dict[int, tuple[float, int]]:
        return task_stats(proc.pid)

    t0 = time.perf_counter()
    marks = {}
    spy = None
    while True:
        c = int(r.get(DONE_KEY) or 0)
        now = time.perf_counter() - t0
        if c >= 0.1 * a.n and "a" not in marks:
            marks["a"] = (now, c, cpu(), time.perf_counter())
            threads_a = thread_cpu() if a.per_thread else {}
            if a.pyspy:
                pyspy = os.environ.get("PY_SPY", "py-spy")
                spy = subprocess.Popen([pyspy, "record", "--pid", str(proc.pid), "-o", a.pyspy, "-f", "raw",
                                        *a.pyspy_args.split()],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if c >= 0.9 * a.n and "b" not in marks:
            marks["b"] = (now, c, cpu(), time.perf_counter())
            threads_b = thread_cpu() if a.per_thread else {}
        if c >= a.n or now > 60:
            break
        time.sleep(0.005)
    if "b" not in marks:
        print("stalled at", c, "of", a.n)
        os.killpg(proc.pid, 9)
        raise SystemExit(1)
    (ta, ca, (ua, va), pa), (tb, cb, (ub, vb), pb) = marks["a"], marks["b"]
    rate = (cb - ca) / (tb - ta)
    us = (ub - ua) / (cb - ca) * 1e6
    print(f"{a.peer or f'c={a.c} async={a.use_async}'} n={a.n}: steady {rate:,.0f}/s, cpu {us:.0f} us/job, "
          f"cpu use {(ub - ua) / (tb - ta) * 100:.0f}%, vcsw {(vb - va) / (cb - ca):.2f}/job  total {now:.1f}s")
    if a.per_thread:
        import re
        dump = subprocess.run([os.environ.get("PY_SPY", "py-spy"), "dump", "--pid", str(proc.pid)],
                              capture_output=True, text=True).stdout
        tids: dict[int, str] = {}
        for line in dump.splitlines():
            m = re.match(r'Thread (\S+) \((\w+)\): "(.*?)"', line)
            if m:
                tids[int(m.group(1), 0)] = m.group(3)
        rows: dict[str, list[float]] = {}  # per thread name without its number: CPU, switches
        for tid, (used, switches) in threads_b.items():
            used_a, switches_a = threads_a.get(tid, (0.0, 0))
            row = rows.setdefault(re.sub(r"-\d+$", "", str(tids.get(tid, tid))), [0.0, 0.0])
            row[0] += used - used_a
            row[1] += switches - switches_a
        for name, (used, switches) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
            if used > 0 or switches > 0:
                print(f"  {name:28} {used / (cb - ca) * 1e6:6.0f} us/job  {switches / (cb - ca):5.2f} vcsw/job")
    if a.peer:
        os.killpg(proc.pid, 15)
    else:
        proc.terminate()
    proc.wait(20)
    if a.gaps:
        import json

        try:
            with open(spans_file) as f:
                per_thread = json.load(f)
            os.unlink(spans_file)
        except OSError:
            per_thread = []
        gaps = sorted(nxt[0] - prev[1] for spans in per_thread for prev, nxt in zip(spans, spans[1:])
                      if pa <= prev[1] <= pb)  # steady state: a job ending between 10 % and 90 %
        if gaps:
            print(f"  between a slot's jobs: mean {sum(gaps) / len(gaps) * 1e3:.3f} ms, median "
                  f"{gaps[len(gaps) // 2] * 1e3:.3f}, p90 {gaps[len(gaps) * 9 // 10] * 1e3:.3f} ({len(gaps)} gaps)")
        else:
            print("  between a slot's jobs: no spans recorded (--gaps needs `def handle` jobs of this project)")
    if spy:
        spy.wait(30)
finally:
    srv.terminate()
    srv.wait()
