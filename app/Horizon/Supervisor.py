"""One supervisor block of config/horizon.py: its process pools and their balancing."""
from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable, Mapping

from app.Horizon.Balancer import ALL_QUEUES, QueueLoad, balance
from app.Horizon.HorizonConfig import SupervisorOptions
from app.Horizon.ProcessPool import ProcessPool
from app.Horizon.WorkerProcess import WorkerProcess

log = logging.getLogger("horizon")

LoadReader = Callable[[str, tuple[str, ...]], Mapping[str, QueueLoad]]


class Supervisor:
    """Keeps a supervisor's pools at the sizes its balance mode asks for."""

    def __init__(self, options: SupervisorOptions, spawn: Callable[[SupervisorOptions, tuple[str, ...]], WorkerProcess],
                 read_loads: LoadReader) -> None:
        self.options = options
        self.read_loads = read_loads
        keys = [ALL_QUEUES] if options.balance == "false" else list(options.queues)
        self.pools = {
            key: ProcessPool(options.name, options.queues if key == ALL_QUEUES else (key,),
                             lambda queues: spawn(options, queues), options.timeout)
            for key in keys
        }
        self.last_scaled = -math.inf   # the last autoscaling step (evaluated every cooldown)
        self.last_changed = -math.inf  # the last step that changed a pool
        self.started = False

    def tick(self) -> None:
        """Balance (at most once per cooldown), then heal every pool."""
        if not self.started:
            self.started = True
            self._apply(balance(self.options.balance, list(self.options.queues), {}, {}, self.options.limits, math.inf))
            self.last_scaled = time.monotonic()
        elif self.options.balance == "auto" and not self.paused:
            self._autoscale()
        for pool in self.pools.values():
            pool.monitor()

    def _autoscale(self) -> None:
        since = time.monotonic() - self.last_scaled
        if since < self.options.balance_cooldown:
            return
        self.last_scaled = time.monotonic()
        loads = self.read_loads(self.options.connection, self.options.queues)
        if not loads:
            return
        current = {key: pool.count() for key, pool in self.pools.items()}
        wanted = balance("auto", list(self.options.queues), loads, current, self.options.limits, since)
        if wanted != current:
            log.info("%s scaling %s (work: %s; %.2fs since the last change)", self.options.name,
                     ", ".join(f"{q} {current[q]}->{wanted[q]}" for q in wanted if wanted[q] != current[q]),
                     ", ".join(f"{q}={load.pending}" for q, load in loads.items()), self.last_scaled - self.last_changed)
            self.last_changed = self.last_scaled
        self._apply(wanted)

    def _apply(self, sizes: Mapping[str, int]) -> None:
        for key, size in sizes.items():
            self.pools[key].scale(size)

    @property
    def paused(self) -> bool:
        return any(pool.paused for pool in self.pools.values())

    def pause(self) -> None:
        for pool in self.pools.values():
            pool.pause()

    def resume(self) -> None:
        for pool in self.pools.values():
            pool.resume()

    def terminate(self) -> None:
        for pool in self.pools.values():
            pool.terminate()

    def alive(self) -> int:
        """Worker processes still running, stopping ones included."""
        return sum(pool.alive() for pool in self.pools.values())

    def record(self) -> dict[str, Any]:
        """What horizon:list and the dashboard show of this supervisor."""
        o = self.options
        return {
            "name": o.name, "connection": o.connection, "queues": list(o.queues), "balance": o.balance,
            "min_processes": o.min_processes, "max_processes": o.max_processes,
            "processes": {key: pool.count() for key, pool in self.pools.items()},
            "pids": {key: pool.pids() for key, pool in self.pools.items()},
        }
