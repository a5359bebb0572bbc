"""Encode jobs that wait inside another payload (chain steps, Job callbacks) with their per-instance settings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.Queue.Payload import CONFIG_ATTRS

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.Payload import PayloadCodec


def encode_step(job: Job, codec: PayloadCodec) -> dict[str, Any]:
    """Encode the job's class and data, plus settings given per instance (queue, tries, backoff...)."""
    encoded = codec.encode_job(job)
    config = {name: codec.serializer.encode(value, f"{type(job).__name__}.{name}")
              for name, value in vars(job).items() if name in CONFIG_ATTRS and not callable(value)}
    if config:
        encoded["config"] = config
    return encoded


def decode_step(encoded: dict[str, Any], codec: PayloadCodec) -> Job:
    """Rebuild a job made by `encode_step` (class resolved from the allowed modules only)."""
    job = codec.decode_job(encoded)
    for name, value in (encoded.get("config") or {}).items():
        if name in CONFIG_ATTRS:
            job.__dict__[name] = codec.serializer.decode(value)
    return job
