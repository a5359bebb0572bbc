"""The JSON envelope stored for each job, its HMAC-SHA256 signature and its decoding.

Stored text = the envelope's JSON with `"signature":"<hex>"` appended as its last
member, so the signed bytes are exactly what precedes it and one `json.loads`
still reads the whole thing. The worker checks the signature before it looks
at anything else in the payload.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid as uuid_mod
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Sequence

from app.Queue.errors import InvalidPayloadError, SerializationError
from app.Queue.Serializer import Serializer, class_path, resolve_class
from app.Queue.support.time import now

if TYPE_CHECKING:
    from app.Jobs.Job import Job

SIG_PREFIX = ',"signature":"'
SIG_SUFFIX_LEN = len(SIG_PREFIX) + 64 + 2  # prefix + hex digest + '"}'

# Attributes that configure the job and travel in the envelope, not in "data".
CONFIG_ATTRS = (
    "queue", "connection", "max_tries", "timeout", "backoff", "retry_after", "retry_until",
    "max_exceptions", "fail_on_timeout", "priority",
)
RUNTIME_ATTRS = ("job_id", "attempts", "batch_id", "chain_id")
EXCLUDED_ATTRS = frozenset(CONFIG_ATTRS + RUNTIME_ATTRS)


def sign(body: str, key: bytes) -> str:
    """Append the HMAC-SHA256 of `body` as the envelope's last member."""
    digest = hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{body[:-1]}{SIG_PREFIX}{digest}\"}}"


def verify(raw: str, keys: Sequence[bytes]) -> None:
    """Check the signature against the current key and any previous keys."""
    if len(raw) < SIG_SUFFIX_LEN or not raw.endswith('"}') or raw[-SIG_SUFFIX_LEN:-66] != SIG_PREFIX:
        raise InvalidPayloadError("payload is not signed (no trailing signature); refusing to run it")
    body = raw[:-SIG_SUFFIX_LEN] + "}"
    given = raw[-66:-2]
    data = body.encode("utf-8")
    for key in keys:  # hmac.digest: OpenSSL's one-shot HMAC, a third of hmac.new's cost
        if hmac.compare_digest(hmac.digest(key, data, "sha256").hex(), given):
            return
    raise InvalidPayloadError("payload signature does not match APP_KEY (forged, corrupted, or signed with an unknown key)")


def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    raise SerializationError(f"retry_until must be a datetime, got {type(value).__name__}")


def _tags(job: Job) -> list[str]:
    """Read tags from a `tags()` method or a plain `tags` attribute (a job may use the name for data)."""
    tags = job.tags
    if callable(tags):
        tags = tags()
    if isinstance(tags, str):
        return [tags]
    return [str(t) for t in tags or ()]


class PayloadCodec:
    """Create, verify and decode payloads under one APP_KEY (plus previous keys for rotation)."""

    def __init__(
        self,
        key: bytes,
        allowed_modules: Sequence[str],
        previous_keys: Sequence[bytes] = (),
        encrypter: Any | None = None,
    ) -> None:
        from app.Jobs.Job import Job

        self.key = key
        self.keys = (key, *previous_keys)
        self.allowed = tuple(allowed_modules)
        self.encrypter = encrypter
        self._job_base = Job
        self.serializer = Serializer(self.allowed, Job, self.encode_job, self.decode_job)

    # -- create ---------------------------------------------------------------------
    def encode_job(self, job: Job) -> dict[str, Any]:
        """Encode a job's class and public data (used for top-level and nested jobs)."""
        data: dict[str, Any] = {}
        for name, value in vars(job).items():
            if name.startswith("_") or name in EXCLUDED_ATTRS:
                continue
            data[name] = self.serializer.encode(value, f"{type(job).__name__}.{name}")
        return {"job": class_path(type(job)), "data": data}

    def decode_job(self, encoded: dict[str, Any]) -> Job:
        """Rebuild a job instance from `encode_job` output without calling its __init__."""
        cls = resolve_class(encoded.get("job", ""), self.allowed, self._job_base)
        job = cls.__new__(cls)
        job._init_runtime()
        data = encoded.get("data") or {}
        if not isinstance(data, dict):
            raise InvalidPayloadError("payload data must be an object")
        job.__dict__.update({k: self.serializer.decode(v) for k, v in data.items()})
        return job

    def create(self, job: Job, queue: str, connection: str, extra: dict[str, Any] | None = None) -> tuple[str, str]:
        """Build the signed payload for `job`; returns (uuid, payload text)."""
        job_uuid = job.job_id or str(uuid_mod.uuid4())
        encoded = self.encode_job(job)
        retry_until = job.retry_until
        if callable(retry_until):
            retry_until = retry_until()
        backoff = job.backoff if job.backoff is not None else job.retry_after
        envelope: dict[str, Any] = {
            "uuid": job_uuid,
            "displayName": type(job).__name__,
            "job": encoded["job"],
            "queue": queue,
            "connection": connection,
            "maxTries": job.max_tries,
            "maxExceptions": job.max_exceptions,
            "backoff": list(backoff) if isinstance(backoff, (list, tuple)) else backoff,
            "timeout": job.timeout,
            "retryUntil": _timestamp(retry_until),
            "failOnTimeout": bool(job.fail_on_timeout),
            "priority": int(job.priority or 0),
            "tags": _tags(job),
            "createdAt": now(),
            "data": encoded["data"],
        }
        if extra:
            envelope.update(extra)
        if self.encrypter is not None and self.encrypter.should_encrypt(job, queue):
            envelope = self.encrypter.encrypt_envelope(envelope, job)
        return job_uuid, sign(json.dumps(envelope, separators=(",", ":"), ensure_ascii=False), self.key)

    # -- read -----------------------------------------------------------------------
    def parse(self, raw: str | bytes) -> dict[str, Any]:
        """Verify and decode a stored payload into its envelope (data still encoded)."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
        verify(text, self.keys)
        try:
            envelope = json.loads(text)
        except ValueError as exc:
            raise InvalidPayloadError(f"payload is not valid JSON: {exc}") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("job"), str):
            raise InvalidPayloadError("payload has no job class")
        envelope.pop("signature", None)
        if self.encrypter is not None and envelope.get("encrypted"):
            envelope = self.encrypter.decrypt_envelope(envelope)
        return envelope

    def restore(self, envelope: dict[str, Any]) -> Job:
        """Rebuild the job instance from a verified envelope."""
        job = self.decode_job({"job": envelope["job"], "data": envelope.get("data")})
        job.job_id = envelope.get("uuid")
        if envelope.get("batchId"):  # batches and chains (app/Jobs/Batch.py, Chain.py) ride in the envelope
            job.batch_id, job._batch_member = envelope["batchId"], envelope.get("batchMember")
        if isinstance(envelope.get("chain"), dict):
            job.chain_id = envelope["chain"].get("id")
        for attr, key in (("queue", "queue"), ("connection", "connection"), ("max_tries", "maxTries"),
                          ("timeout", "timeout"), ("max_exceptions", "maxExceptions")):
            if envelope.get(key) is not None:
                job.__dict__[attr] = envelope[key]
        return job

    def sign_envelope(self, envelope: dict[str, Any]) -> str:
        """Sign an envelope again after the framework changed it (e.g. retry from failed_jobs)."""
        return sign(json.dumps(envelope, separators=(",", ":"), ensure_ascii=False), self.key)


def peek_uuid(raw: str | bytes) -> str | None:
    """Read the uuid from an unverified payload for bookkeeping (never to run anything)."""
    try:
        data = json.loads(raw)
        value = data.get("uuid") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None
    except (ValueError, TypeError):
        return None


EnvelopeHook = Callable[[dict[str, Any]], None]
