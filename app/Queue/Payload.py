"""The JSON envelope stored for each job, its HMAC-SHA256 signature and its decoding.

Stored text = the envelope's JSON with `"signature":"<hex>"` appended as its last
member, so the signed bytes are exactly what precedes it and one `json.loads`
still reads the whole thing. The worker checks the signature before it looks
at anything else in the payload.
"""
from __future__ import annotations

import functools
import hmac
import json
from datetime import datetime, timezone
from operator import attrgetter, is_
from typing import TYPE_CHECKING, Any, Callable, Sequence

from app.Queue.DispatchChecks import DEFAULT_MAX_PAYLOAD_BYTES, check_payload_size, check_policy, check_queue_name
from app.Queue.errors import ConfigurationError, InvalidPayloadError, SerializationError
from app.Queue.PayloadWriter import SIG_PREFIX, SIG_SUFFIX_LEN, PayloadWriter
from app.Queue.PayloadWriter import sign as sign  # re-exported: callers sign re-built envelopes with it
from app.Queue.PayloadWriter import dumps as _dumps
from app.Queue.Queueable import Queueable
from app.Queue.Serializer import Serializer, class_path, module_allowed, resolve_class
from app.Queue.Support.time import float_text, now
from app.Queue.Support.uuids import UuidPool, uuid4_strings

if TYPE_CHECKING:
    from app.Jobs.Job import Job

NESTED_CONTEXT = "nested-job:"  # AES-GCM associated data of a nested job's sealed data, with its class path

# Attributes that configure the job and travel in the envelope, not in "data".
CONFIG_ATTRS = (
    "queue", "connection", "max_tries", "timeout", "backoff", "retry_after", "retry_until",
    "max_exceptions", "fail_on_timeout", "priority",
)
RUNTIME_ATTRS = ("job_id", "attempts", "batch_id", "chain_id")
EXCLUDED_ATTRS = frozenset(CONFIG_ATTRS + RUNTIME_ATTRS)

# Values the Serializer passes through unchanged (exact types: an Enum subclass of int or str is tagged).
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})
# Attributes whose values make up the envelope's metadata besides the class, queue and connection.
_HEADER_ATTRS = ("max_tries", "timeout", "backoff", "retry_after", "retry_until", "max_exceptions",
                 "fail_on_timeout", "priority", "tags")
_HEADER_ATTR_SET = frozenset(_HEADER_ATTRS)  # isdisjoint of a set with a dict: ~0.1 us less than of a tuple
_header_values = attrgetter(*_HEADER_ATTRS[:-1])  # all but tags, which is a method unless the job says otherwise
_ENVELOPE_KEYS = frozenset({"uuid", "displayName", "job", "queue", "connection", "maxTries", "maxExceptions", "backoff",
                            "timeout", "retryUntil", "failOnTimeout", "priority", "tags", "createdAt", "data"})
# Ints below this pass the fast path of encode_data; bigger ones go through the Serializer's digit check.
_BIG = 2**63
# Header attribute values a cached header may stand for: immutable, so the same object means the
# same text (a list could change in place; a callable is asked again per job).
_CACHEABLE_VALUES = frozenset({type(None), bool, int, float, str, tuple, datetime})
# Envelope members a restored job gets back as attributes (its policy as dispatched).
_RESTORED_MEMBERS = (("queue", "queue"), ("connection", "connection"), ("max_tries", "maxTries"),
                     ("timeout", "timeout"), ("max_exceptions", "maxExceptions"))
# What json.loads gives that the Serializer's decode would return unchanged.
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
# json.loads's own scanner (what its raw_decode calls), for the signed part of a stored payload
_scan_once = json.decoder.JSONDecoder().scan_once
HEADER_CACHE_MAX = 1024  # (class, queue, connection) headers kept; dynamic queue names must not grow it forever


@functools.lru_cache(maxsize=16)
def _writer_for(key: bytes) -> PayloadWriter:
    """The payload writer of one APP_KEY (current or previous), kept: `verify` checks with its keyed MAC.

    Its copy per payload costs less than the one-shot `hmac.digest` (0.9 vs 1.5 us) and keeps the
    GIL for a payload under 2 KiB, where `hmac.digest` gives it up on every call: with 32 slot
    threads, getting it back cost a job ~0.3 ms of waiting.
    """
    return PayloadWriter(key)


def verify(raw: str, keys: Sequence[bytes]) -> None:
    """Check the signature against the current key and any previous keys."""
    signed_body(raw, keys)


def signed_body(raw: str, keys: Sequence[bytes]) -> str:
    """`verify`, returning the signed text: the envelope without its signature member."""
    if len(raw) < SIG_SUFFIX_LEN or not raw.endswith('"}') or raw[-SIG_SUFFIX_LEN:-66] != SIG_PREFIX:
        raise InvalidPayloadError("payload is not signed (no trailing signature); refusing to run it")
    body = raw[:-SIG_SUFFIX_LEN] + "}"
    given = raw[-66:-2]
    data = body.encode("utf-8")
    for key in keys:
        if hmac.compare_digest(_writer_for(key).mac_of(data), given):
            return body
    raise InvalidPayloadError("payload signature does not match APP_KEY (forged, corrupted, or signed with an unknown key)")


def _envelope_of(text: str, body: str) -> Any:
    """json.loads(text) without its signature member, read from the signed `body` when that is a non-empty
    JSON object on its own (what the writer makes): the signature is not scanned, and json.loads's two
    whitespace regex matches and Python frames are skipped (~10k instructions a job under valgrind).
    Anything else goes to json.loads(text), for its value or its error."""
    try:
        envelope, end = _scan_once(body, 0)
    except (StopIteration, ValueError, RecursionError):
        envelope, end = None, -1
    if end != len(body) or type(envelope) is not dict or not envelope:
        envelope = json.loads(text)
    return envelope


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
        self.key = key
        self.keys = (key, *previous_keys)
        self.writer = PayloadWriter(key)
        self.allowed = tuple(allowed_modules)
        self.encrypter = encrypter
        self._job_base = Queueable
        self._allowed_classes: set[type] = set()
        self._classes: dict[str, type] = {}  # class paths a payload named that resolved (allowed, a job class)
        self.max_payload_bytes = DEFAULT_MAX_PAYLOAD_BYTES  # QUEUE_MAX_PAYLOAD_BYTES, set by the QueueManager
        self.serializer = Serializer(self.allowed, Queueable, self.encode_job, self.decode_job)
        self.uuids = UuidPool()
        # (class, queue, connection) -> (the header attribute values it was made from, header text)
        self._headers: dict[tuple[type, str, str], tuple[tuple[Any, ...], str]] = {}

    def check_allowed(self, cls: type) -> None:
        """Refuse at dispatch a job class no worker would load: its module must be in QUEUE_ALLOWED_JOB_MODULES."""
        if cls in self._allowed_classes:
            return
        if not module_allowed(cls.__module__, self.allowed):
            top = cls.__module__.split(".")[0]
            fix = (f"add {top + '.'!r} to QUEUE_ALLOWED_JOB_MODULES" if top != "__main__" else
                   "move it into an importable module and allow that module in QUEUE_ALLOWED_JOB_MODULES")
            raise ConfigurationError(
                f"{cls.__module__}.{cls.__qualname__} cannot be queued: module {cls.__module__!r} is outside "
                f"QUEUE_ALLOWED_JOB_MODULES ({','.join(self.allowed) or 'empty'}), so workers would refuse it; {fix}")
        self._allowed_classes.add(cls)

    # -- create ---------------------------------------------------------------------
    def encode_job(self, job: Job) -> dict[str, Any]:
        """Encode a job that travels inside another payload (chain step, Job callback, job attribute).

        Its data is sealed (AES-GCM under APP_KEY) when the job would be encrypted on its own
        (ShouldBeEncrypted, sensitive fields, an encrypted queue): nesting must not put it in plaintext.
        """
        self.check_allowed(type(job))
        path = class_path(type(job))
        encoded: dict[str, Any] = {"job": path, "data": self.encode_data(job)}
        encrypter = self.encrypter
        if encrypter is not None and encrypter.should_encrypt(job, str(job.queue or "")):
            encoded["data"] = encrypter.encrypt(_dumps(encoded["data"]).encode("utf-8"), NESTED_CONTEXT + path)
            encoded["sealed"] = True
        return encoded

    def encode_data(self, job: Job) -> dict[str, Any]:
        """Encode a job's public attributes; plain scalars and finite floats skip the Serializer's type switch."""
        data: dict[str, Any] = {}
        for name, value in vars(job).items():
            if name.startswith("_") or name in EXCLUDED_ATTRS:
                continue
            if type(value) in _PLAIN_TYPES and (type(value) is not str or value.isascii()) and (type(value) is not int or -_BIG < value < _BIG):
                data[name] = value
            elif type(value) is float and value - value == 0.0:  # finite (NaN and infinities are tagged): as it is
                data[name] = value
            else:
                data[name] = self.serializer.encode(value, f"{type(job).__name__}.{name}")
        return data

    def decode_job(self, encoded: dict[str, Any]) -> Job:
        """Rebuild a job instance from `encode_job` output without calling its __init__."""
        return self._new_job(encoded.get("job", ""), encoded.get("data") or {}, encoded.get("sealed"))

    def _new_job(self, path: str, data: Any, sealed: Any) -> Job:
        cls = self._classes.get(path)
        if cls is None:
            cls = resolve_class(path, self.allowed, self._job_base)
            self._classes[path] = cls  # only classes that resolved: a refused path raises every time
        job = cls.__new__(cls)
        job._init_runtime()
        if sealed:
            if self.encrypter is None:
                raise InvalidPayloadError(f"nested job {path!r} is encrypted and no encrypter is configured")
            try:
                data = json.loads(self.encrypter.decrypt(data, NESTED_CONTEXT + path))
            except ValueError as exc:
                raise InvalidPayloadError(f"nested job {path!r} does not decrypt to JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidPayloadError("payload data must be an object")
        decode = self.serializer.decode  # which returns a plain JSON scalar as it is: not called for those
        job.__dict__.update({k: v if type(v) in _JSON_SCALARS else decode(v) for k, v in data.items()})
        return job

    def create(self, job: Job, queue: str, connection: str, extra: dict[str, Any] | None = None,
               created_at: float | None = None) -> tuple[str, str]:
        """Build the signed payload for `job`, created at `created_at` (default: now); returns (uuid, payload text).

        Written by PayloadWriter like every bulk payload; built as a dict first only when it is
        encrypted or `extra` replaces an envelope member.
        """
        if type(job) not in self._allowed_classes:  # check_allowed's own first test, without the call
            self.check_allowed(type(job))
        job_uuid = job.job_id
        if job_uuid:
            uuid_json = _dumps(job_uuid)
        else:
            job_uuid = self.uuids.take()
            uuid_json = f'"{job_uuid}"'
        created, data = now() if created_at is None else created_at, self.encode_data(job)
        encrypt = self.encrypter is not None and self.encrypter.should_encrypt(job, queue)
        if encrypt or (extra and not _ENVELOPE_KEYS.isdisjoint(extra)):
            envelope = self.envelope(job, job_uuid, queue, connection, created, data)
            if extra:
                envelope.update(extra)
            if encrypt:
                envelope = self.encrypter.encrypt_envelope(envelope, job)  # type: ignore[union-attr]
            payload = self.writer.sign_body(_dumps(envelope))
        else:
            created_json = float_text(created) if type(created) is float else _dumps(created)  # json's float spelling is repr's
            header = self._cached_header(job, queue, connection)
            payload = self.writer.sign(self.writer.core(uuid_json, header, created_json, data, extra))
        if len(payload) * 4 > self.max_payload_bytes:  # check_payload_size's first test: at most 4 bytes a character
            check_payload_size(payload, self.max_payload_bytes, job, queue)
        return job_uuid, payload

    def _cached_header(self, job: Job, queue: str, connection: str) -> str:
        """`header()`, kept per (class, queue, connection) while the job's header attributes are the very
        objects it was made from (class attributes, or small ints set in __init__): the checks and the
        JSON of the metadata are then done once per class, not per dispatch."""
        cls = type(job)
        values = _header_values(job)
        key = (cls, queue, connection)
        cached = self._headers.get(key)
        if cached is not None and all(map(is_, cached[0], values)):
            return cached[1]
        header = self.header(job, queue, connection)
        if (cls.tags is Queueable.tags and "tags" not in job.__dict__
                and all(type(v) in _CACHEABLE_VALUES for v in values)):
            if len(self._headers) >= HEADER_CACHE_MAX:
                self._headers.clear()
            self._headers[key] = (values, header)
        return header

    @classmethod
    def header(cls, job: Job, queue: str, connection: str) -> str:
        """The envelope members displayName..tags serialised, as PayloadWriter.core places them."""
        envelope = cls.envelope(job, "", queue, connection, 0.0, {})
        del envelope["uuid"], envelope["createdAt"], envelope["data"]
        return _dumps(envelope)[1:-1]

    @staticmethod
    def envelope(job: Job, job_uuid: str, queue: str, connection: str, created_at: float, data: dict[str, Any]) -> dict[str, Any]:
        """Lay out the envelope's members in their fixed order (the signed bytes depend on it)."""
        retry_until = job.retry_until
        if callable(retry_until):
            retry_until = retry_until()
        backoff = job.backoff if job.backoff is not None else job.retry_after
        check_queue_name(queue)
        check_policy(job)
        if callable(backoff):
            backoff = None  # a backoff() method is asked on the worker, per attempt (RetryPolicy.resolve)
        return {
            "uuid": job_uuid,
            "displayName": type(job).__name__,
            "job": class_path(type(job)),
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
            "createdAt": created_at,
            "data": data,
        }

    def bulk_builder(self, size: int) -> BulkPayloads:
        """Start building the payloads of one bulk dispatch of about `size` jobs."""
        return BulkPayloads(self, size)

    # -- read -----------------------------------------------------------------------
    def parse(self, raw: str | bytes) -> dict[str, Any]:
        """Verify and decode a stored payload into its envelope (data still encoded)."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
        body = signed_body(text, self.keys)
        try:
            envelope = _envelope_of(text, body)
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
        get = envelope.get
        job = self._new_job(envelope["job"], get("data") or {}, None)
        job.job_id = get("uuid")
        if get("batchId"):  # batches and chains (app/Jobs/Batch.py, Chain.py) ride in the envelope
            job.batch_id, job._batch_member = envelope["batchId"], get("batchMember")
        chain = get("chain")
        if isinstance(chain, dict):
            job.chain_id = chain.get("id")
        attrs = job.__dict__
        for attr, key in _RESTORED_MEMBERS:
            value = get(key)
            if value is not None:
                attrs[attr] = value
        return job

    def sign_envelope(self, envelope: dict[str, Any]) -> str:
        """Sign an envelope again after the framework changed it (e.g. retry from failed_jobs)."""
        return self.writer.sign_body(_dumps(envelope))


class BulkPayloads:
    """Build many payloads byte for byte as `PayloadCodec.create` would, doing per-class work once.

    For a job whose metadata comes from its class alone (no per-instance policy, no
    `tags()` or `retry_until()` method, not encrypted) the envelope text between its uuid
    and its createdAt is the same for every job of that class, queue and connection: it
    is serialised once. Per job remain the uuid (from one urandom call), the data, and the
    HMAC. Every other job goes through `create`. One createdAt stands for the whole bulk.
    """

    def __init__(self, codec: PayloadCodec, size: int) -> None:
        self.codec = codec
        self.created = now()
        self._created_json = _dumps(self.created)
        self._size = max(size, 1)
        self._uuids = iter(uuid4_strings(self._size))
        self._writer = codec.writer
        self._headers: dict[tuple[type, str, str], str | None] = {}
        self._static: dict[type, bool] = {}

    def create(self, job: Job, queue: str, connection: str, extra: dict[str, Any] | None = None) -> tuple[str, str]:
        """Build the signed payload for `job`; returns (uuid, payload text)."""
        self.codec.check_allowed(type(job))
        job_uuid, text, signed = self.draft(job, queue, connection, extra)
        return job_uuid, text if signed else self.sign(text)

    def draft(self, job: Job, queue: str, connection: str, extra: dict[str, Any] | None = None) -> tuple[str, str, bool]:
        """Do the part of `create` that reads the job and can fail; returns (uuid, text, signed).

        The caller has checked the job's class (`PayloadCodec.check_allowed`; bulk dispatch does
        it once per class). Unsigned text goes through `sign` later: a bulk encodes every job
        before it stores any, then signs while the store works on the chunks already sent.
        """
        header: str | None = None
        if _HEADER_ATTR_SET.isdisjoint(job.__dict__) and (not extra or _ENVELOPE_KEYS.isdisjoint(extra)):
            # Only a job without per-instance policy may fill the cache: its header is the class's.
            key = (type(job), queue, connection)
            header = self._headers.get(key, "")
            if header == "":
                header = self._headers[key] = self._header(job, queue, connection)
        if header is None:
            return *self.codec.create(job, queue, connection, extra), True
        if job.job_id:  # a unique lock's owner token already names it
            job_uuid, uuid_json = job.job_id, _dumps(job.job_id)
        else:
            job_uuid = next(self._uuids, "") or self._refill()
            uuid_json = f'"{job_uuid}"'
        data = self.codec.encode_data(job)
        core = self._writer.core(uuid_json, header, self._created_json, data, extra)
        check_payload_size(core, self.codec.max_payload_bytes - SIG_SUFFIX_LEN, job, queue)
        return job_uuid, core, False

    def sign(self, core: str) -> str:
        """Close and sign a `draft` text (PayloadWriter.sign, as for a single dispatch)."""
        return self._writer.sign(core)

    def _refill(self) -> str:
        """Draw more uuids when the bulk holds more jobs than announced."""
        self._uuids = iter(uuid4_strings(self._size))
        return next(self._uuids)

    def _header(self, job: Job, queue: str, connection: str) -> str | None:
        """The serialised members displayName..tags shared by the class on this queue; None if per job."""
        cls = type(job)
        if not self._class_is_static(cls):
            return None
        encrypter = self.codec.encrypter
        if encrypter is not None and encrypter.should_encrypt_class(cls, queue) is not False:
            return None
        return PayloadCodec.header(job, queue, connection)

    def _class_is_static(self, cls: type) -> bool:
        """True when no metadata attribute of `cls` is computed (a method, property or other descriptor)."""
        static = self._static.get(cls)
        if static is None:
            static = self._static[cls] = all(
                (name == "tags" and getattr(cls, name) is Queueable.tags) or not hasattr(type(getattr(cls, name)), "__get__")
                for name in _HEADER_ATTRS
            )
        return static


def peek_uuid(raw: str | bytes) -> str | None:
    """Read the uuid from an unverified payload for bookkeeping (never to run anything)."""
    try:
        data = json.loads(raw)
        value = data.get("uuid") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None
    except Exception:  # RecursionError from deep nesting, bad bytes...: garbage claims nothing
        return None


EnvelopeHook = Callable[[dict[str, Any]], None]
