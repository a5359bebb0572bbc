"""What the dashboard may show of a job's data: never ciphertext opened, never a sensitive field.

Stored payloads are read as JSON without verifying or decrypting them: an encrypted job's data
(or each of its encrypted fields) is replaced by a marker. A worker's finished job (whose
envelope the worker has already decrypted) is redacted by the same rules the encrypter used.
"""
from __future__ import annotations

import functools
import json
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Mapping

from app.Queue.Support.compact_json import compact_encoder

if TYPE_CHECKING:
    from app.Jobs.Contracts import ShouldBeEncrypted
    from app.Jobs.Job import Job
    from app.Jobs.Security import SecureJob
    from app.Queue.QueueDefinition import QueueDefinition

ENCRYPTED = "[encrypted]"
SENSITIVE = "[sensitive]"
MAX_DATA_CHARS = 16_384


def parse_stored(raw: str | bytes | None) -> dict[str, Any]:
    """Read a stored payload's envelope as untrusted JSON (no signature check, no decryption); {} when unreadable."""
    if raw is None:
        return {}
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
    try:
        envelope = json.loads(text)
    except ValueError:
        return {}
    return envelope if isinstance(envelope, dict) else {}


def displayable_data(envelope: Mapping[str, Any]) -> Any:
    """The data of a stored (possibly encrypted) envelope, with ciphertext replaced by a marker."""
    data = envelope.get("data")
    if not envelope.get("encrypted"):
        return data
    fields = envelope.get("encryptedFields")
    if not isinstance(fields, list) or not isinstance(data, dict):
        return ENCRYPTED
    return {k: (ENCRYPTED if k in fields else v) for k, v in data.items()}


@functools.cache
def _job_types() -> tuple[type[ShouldBeEncrypted], type[SecureJob]]:
    """ShouldBeEncrypted and SecureJob, imported once (an import statement per job costs microseconds)."""
    # lazy: Security defines SecureJob, a Job subclass, whose definition loads SQLAlchemy
    # (AfterCommit.install); a Redis worker's completed-job recorder redacts without it
    from app.Jobs.Contracts import ShouldBeEncrypted
    from app.Jobs.Security import SecureJob

    return ShouldBeEncrypted, SecureJob


def finished_job_data(job: Job | None, envelope: Mapping[str, Any], definitions: Mapping[str, QueueDefinition]) -> Any:
    """The data of a job a worker has run (decrypted envelope), redacted as the encrypter would have hidden it."""
    encrypted_class, secure_class = _job_types()
    data = envelope.get("data")
    if job is None:
        return displayable_data(envelope)
    if isinstance(job, encrypted_class):
        return ENCRYPTED
    if definitions:
        definition = definitions.get(str(envelope.get("queue", "")))
        if definition is not None and definition.encryption_enabled:
            return ENCRYPTED
    if isinstance(job, secure_class) and isinstance(data, dict):
        hidden = set(job.sensitive_fields)
        return {k: (SENSITIVE if k in hidden else v) for k, v in data.items()}
    return data


# json.dumps(separators=(",", ":"), ensure_ascii=False, default=str) with the C encoder made once: json.dumps
# builds it anew on every call (~0.7 of its 1.2 us for a small dict), and a worker encodes one job's data
# per completed job. The data was read from JSON, so it is acyclic.
_encode = compact_encoder(default=str)


def data_json(data: Any) -> str:
    """Serialise data read from an envelope (acyclic JSON values) for storage, cut to MAX_DATA_CHARS
    so one huge job cannot bloat the table."""
    text = _encode(data)
    if len(text) > MAX_DATA_CHARS:
        return json.dumps({"truncated": True, "preview": text[:MAX_DATA_CHARS]})
    return text


def tag_list(envelope: Mapping[str, Any]) -> list[str]:
    """The envelope's tags as strings (untrusted: anything else is dropped)."""
    tags = envelope.get("tags")
    if not tags or not isinstance(tags, list):
        return []
    return [str(t)[:191] for t in tags if isinstance(t, (str, int, float))]


def tags_json(envelope: Mapping[str, Any]) -> str:
    """`json.dumps(tag_list(envelope), ensure_ascii=False)` byte for byte, without json.dumps making an encoder
    per call (1.6 us for two tags, now 0.4): the tags are strings, spelt by the encoder's own function."""
    tags = envelope.get("tags")
    if not tags:
        return "[]"
    return f"[{', '.join(map(encode_basestring, tag_list(envelope)))}]"
