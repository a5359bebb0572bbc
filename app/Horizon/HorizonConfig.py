"""Read and check config/horizon.py: the supervisors of APP_ENV, each as a frozen SupervisorOptions.

Bad input is a ConfigurationError whose one line names the setting: an unknown key, a wrong
type, `min_processes` above `max_processes`, or an unknown connection or queue name.
"""
from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from app.Horizon.Balancer import Limits
from app.Queue.errors import ConfigurationError

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

TOP_LEVEL_KEYS = {"defaults", "environments", "waits", "trim", "metrics", "memory_limit", "fast_termination", "heartbeat"}
BALANCES = ("false", "simple", "auto")
STRATEGIES = ("time", "size")
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

# key -> (type, default, minimum); `connection`, `queue`, `balance`, `auto_scaling_strategy` are checked apart
NUMBER_KEYS: dict[str, tuple[type, float, float]] = {
    "min_processes": (int, 1, 0),
    "max_processes": (int, 1, 1),
    "balance_max_shift": (int, 1, 1),
    "balance_cooldown": (float, 3, 0),
    "tries": (int, 3, 0),
    "timeout": (float, 60, 0),
    "memory": (int, 128, 0),
    "concurrency": (int, 1, 1),
    "max_jobs": (int, 0, 0),
    "max_time": (float, 0, 0),
    "nice": (int, 0, 0),
    "sleep": (float, 3, 0),
}
SUPERVISOR_KEYS = {"connection", "queue", "balance", "auto_scaling_strategy", "backoff", *NUMBER_KEYS}


@dataclass(frozen=True, slots=True)
class SupervisorOptions:
    """One supervisor block: where its workers work and how many there may be."""

    name: str
    connection: str
    queues: tuple[str, ...]
    balance: str = "auto"
    strategy: str = "time"
    min_processes: int = 1
    max_processes: int = 1
    balance_max_shift: int = 1
    balance_cooldown: float = 3.0
    tries: int = 3
    timeout: float = 60
    memory: int = 128
    concurrency: int = 1
    max_jobs: int = 0
    max_time: float = 0
    nice: int = 0
    sleep: float = 3
    backoff: str = "0"

    @property
    def limits(self) -> Limits:
        """The scaling limits the balancer works with."""
        return Limits(self.min_processes, self.max_processes, self.balance_max_shift, self.balance_cooldown, self.strategy)

    def worker_arguments(self, queues: tuple[str, ...]) -> list[str]:
        """`queue:work` arguments for a worker of this supervisor on `queues`."""
        args = [self.connection, f"--queue={','.join(queues)}", f"--name={self.name}", f"--tries={self.tries}",
                f"--timeout={self.timeout:g}", f"--memory={self.memory}", f"--sleep={self.sleep:g}",
                f"--backoff={self.backoff}", f"--max-jobs={self.max_jobs}", f"--max-time={self.max_time:g}", "--quiet"]
        if self.concurrency > 1:  # 1 is queue:work's default
            args.append(f"--concurrency={self.concurrency}")
        return args


@dataclass(frozen=True, slots=True)
class HorizonConfig:
    """The whole configuration for one environment."""

    environment: str
    supervisors: tuple[SupervisorOptions, ...]
    waits: Mapping[str, float] = field(default_factory=dict)
    trim: Mapping[str, float] = field(default_factory=dict)
    snapshots_kept: int = 24
    memory_limit: int = 128
    fast_termination: bool = False
    heartbeat: float = 2.0


def raw_settings() -> Mapping[str, Any]:
    """The configuration dict: HORIZON_CONFIG (a .json file or module:attribute) or config/horizon.py."""
    from config.env import env

    source = (env("HORIZON_CONFIG") or "").strip()
    if not source:
        from config.horizon import settings

        return settings()
    if source.endswith(".json"):
        try:
            loaded = json.loads(Path(source).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"HORIZON_CONFIG: cannot read {source}: {exc}") from None
    else:
        module, _, attr = source.partition(":")
        try:
            loaded = getattr(importlib.import_module(module), attr or "settings")
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(f"HORIZON_CONFIG: cannot load {source!r}: {exc}") from None
        loaded = loaded() if callable(loaded) else loaded
    if not isinstance(loaded, Mapping):
        raise ConfigurationError(f"HORIZON_CONFIG: {source!r} must give a dict")
    return loaded


def load(qm: QueueManager, environment: str | None = None) -> HorizonConfig:
    """Read, merge and check the configuration of `environment` (default APP_ENV)."""
    from config.app import app_env

    env_name = environment or app_env()
    raw = raw_settings()
    unknown = sorted(set(raw) - TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigurationError(f"horizon config: unknown key {unknown[0]!r}; known: {', '.join(sorted(TOP_LEVEL_KEYS))}")
    blocks = merged_supervisors(raw, env_name)
    if not blocks:
        raise ConfigurationError(f"horizon config: no supervisor for environment {env_name!r} (add it under 'environments' or 'defaults')")
    supervisors = tuple(supervisor_options(name, block, qm) for name, block in blocks.items())
    return HorizonConfig(
        environment=env_name, supervisors=supervisors,
        waits=_number_map(raw.get("waits", {}), "waits"), trim=_number_map(raw.get("trim", {}), "trim"),
        snapshots_kept=snapshots_kept(raw.get("metrics", {})),
        memory_limit=int(_number(raw.get("memory_limit", 128), "memory_limit", int, 0)),
        fast_termination=_bool(raw.get("fast_termination", False), "fast_termination"),
        heartbeat=max(0.05, float(_number(raw.get("heartbeat", 2.0), "heartbeat", float, 0.05))),
    )


def merged_supervisors(raw: Mapping[str, Any], environment: str) -> dict[str, dict[str, Any]]:
    """`environments[environment]` merged over `defaults`, key by key, per supervisor."""
    defaults = _mapping(raw.get("defaults", {}), "defaults")
    environments = _mapping(raw.get("environments", {}), "environments")
    chosen = _mapping(environments.get(environment, {}), f"environments.{environment}")
    names = list(chosen) if chosen else list(defaults)
    merged: dict[str, dict[str, Any]] = {}
    for name in names:
        base = _mapping(defaults.get(name, {}), f"defaults.{name}")
        merged[name] = {**base, **_mapping(chosen.get(name, {}), f"environments.{environment}.{name}")}
    return merged


def supervisor_options(name: str, block: Mapping[str, Any], qm: QueueManager) -> SupervisorOptions:
    """Check one supervisor block and turn it into SupervisorOptions."""
    where = f"horizon config: supervisor {name!r}"
    unknown = sorted(set(block) - SUPERVISOR_KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(SUPERVISOR_KEYS))}")
    connection = str(block.get("connection") or qm.default_connection)
    if connection not in qm.config["connections"] or connection == "sync":
        raise ConfigurationError(f"{where}: unknown connection {connection!r}; "
                                 f"configured: {', '.join(sorted(c for c in qm.config['connections'] if c != 'sync'))}")
    queues = _queues(block.get("queue", ["default"]), where, connection, qm)
    balance = str(block.get("balance", "auto")).lower()
    if balance not in BALANCES:
        raise ConfigurationError(f"{where}: balance must be one of false, simple, auto; got {block.get('balance')!r}")
    strategy = str(block.get("auto_scaling_strategy", "time"))
    if strategy not in STRATEGIES:
        raise ConfigurationError(f"{where}: auto_scaling_strategy must be time or size; got {strategy!r}")
    numbers = {key: _number(block.get(key, default), f"{name}.{key}", kind, minimum)
               for key, (kind, default, minimum) in NUMBER_KEYS.items()}
    if numbers["min_processes"] > numbers["max_processes"]:
        raise ConfigurationError(f"{where}: min_processes ({numbers['min_processes']}) is above max_processes ({numbers['max_processes']})")
    if balance == "auto" and numbers["min_processes"] * len(queues) > numbers["max_processes"]:
        raise ConfigurationError(f"{where}: min_processes is per queue: {numbers['min_processes']} x {len(queues)} queues "
                                 f"is above max_processes ({numbers['max_processes']})")
    return SupervisorOptions(name=name, connection=connection, queues=queues, balance=balance, strategy=strategy,
                             backoff=_backoff(block.get("backoff", 0), where), **numbers)  # type: ignore[arg-type]


def _queues(raw: Any, where: str, connection: str, qm: QueueManager) -> tuple[str, ...]:
    names = [q.strip() for q in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(names, (list, tuple)) or not names:
        raise ConfigurationError(f"{where}: queue must be a non-empty list of queue names")
    for queue in names:
        if not isinstance(queue, str) or not QUEUE_NAME.match(queue):
            raise ConfigurationError(f"{where}: unknown queue name {queue!r} in queue (letters, digits, _ . - only)")
        definition = qm.definitions.get(queue)
        if definition is not None and definition.connection and definition.connection != connection:
            raise ConfigurationError(f"{where}: queue {queue!r} is defined on connection {definition.connection!r} "
                                     f"(define_queue), not {connection!r}")
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{where}: queue lists a queue twice")
    return tuple(names)


def _backoff(raw: Any, where: str) -> str:
    values = raw if isinstance(raw, (list, tuple)) else [raw]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ConfigurationError(f"{where}: backoff must be whole seconds or a list of them; got {raw!r}")
    return ",".join(str(v) for v in values)


def _number(raw: Any, key: str, kind: type, minimum: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (kind is int and not float(raw).is_integer()):
        raise ConfigurationError(f"horizon config: {key} must be {'a whole number' if kind is int else 'a number'}; got {raw!r}")
    if raw < minimum:
        raise ConfigurationError(f"horizon config: {key} must be at least {minimum:g}; got {raw!r}")
    return kind(raw)  # type: ignore[no-any-return]


def _bool(raw: Any, key: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigurationError(f"horizon config: {key} must be true or false; got {raw!r}")
    return raw


def _mapping(raw: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"horizon config: {key} must be a dict; got {type(raw).__name__}")
    return raw


def _number_map(raw: Any, key: str) -> dict[str, float]:
    return {str(k): float(_number(v, f"{key}.{k}", float, 0)) for k, v in _mapping(raw, key).items()}


def snapshots_kept(raw: Any) -> int:
    metrics = _mapping(raw, "metrics")
    unknown = sorted(set(metrics) - {"trim_snapshots"})
    if unknown:
        raise ConfigurationError(f"horizon config: unknown key metrics.{unknown[0]}; known: metrics.trim_snapshots")
    trim = _number_map(metrics.get("trim_snapshots", {}), "metrics.trim_snapshots")
    return max(1, int(max(trim.values(), default=24)))
