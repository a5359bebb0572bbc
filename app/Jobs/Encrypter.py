"""Encrypt job data at rest with AES-256-GCM under a key derived from APP_KEY.

Only `data` (the job's attributes) is encrypted; the envelope's metadata (class,
queue, tries) stays readable for the worker and monitoring, and the whole payload
is still signed. Whole-data encryption applies to ShouldBeEncrypted jobs and
queues defined with `encryption_enabled=True`; a SecureJob's `sensitive_fields`
are encrypted one by one. Each ciphertext is bound to its job uuid (and field name)
as associated data, so it cannot be moved into another payload. Workers decrypt
with APP_KEY, then APP_PREVIOUS_KEYS (key rotation).
"""
from __future__ import annotations

import base64
import functools
import json
import os
from typing import TYPE_CHECKING, Any, Sequence

from app.Jobs.Contracts import ShouldBeEncrypted
from app.Queue.errors import InvalidPayloadError

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

TOKEN_PREFIX = "aesgcm1:"
HKDF_INFO = b"queue payload encryption v1"  # separates the encryption key from the signing key
NONCE_BYTES = 12


def derive_key(app_key: bytes) -> bytes:
    """Derive the 32-byte AES key from APP_KEY (HKDF-SHA256), distinct from the HMAC key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(app_key)


class Encrypter:
    """The PayloadCodec's encryption hook: decides what to encrypt, encrypts and decrypts envelopes."""

    def __init__(self, app_key: bytes, previous_keys: Sequence[bytes] = (), manager: QueueManager | None = None) -> None:
        # cryptography (~8 MB resident) is imported on the first encrypt/decrypt, not by every
        # worker: one that never meets an encrypted job does not carry it.
        self._keys = (app_key, *previous_keys)
        self._cipher_list: list[Any] | None = None
        self.manager = manager

    # -- what to encrypt ------------------------------------------------------------------
    def should_encrypt(self, job: Job, queue: str) -> bool:
        """Encrypt ShouldBeEncrypted jobs, jobs on encrypted queues and SecureJobs with sensitive fields."""
        if isinstance(job, ShouldBeEncrypted):  # _whole and _sensitive_fields spelt out: asked on every dispatch
            return True
        definition = self.manager.definitions.get(queue) if self.manager is not None else None
        if definition is not None and definition.encryption_enabled:
            return True
        return isinstance(job, _secure_job()) and bool(list(job.sensitive_fields))  # type: ignore[attr-defined]

    def should_encrypt_class(self, cls: type, queue: str) -> bool | None:
        """Decide for every job of `cls` on `queue` at once (bulk dispatch); None when it depends on the instance."""
        # lazy: Security defines SecureJob, a Job subclass, and defining one loads SQLAlchemy
        # (AfterCommit.install); every worker builds this cipher (tests/drivers/test_worker_imports.py)
        from app.Jobs.Security import SecureJob

        if issubclass(cls, SecureJob):
            return None
        definition = self.manager.definitions.get(queue) if self.manager is not None else None
        return issubclass(cls, ShouldBeEncrypted) or bool(definition and definition.encryption_enabled)

    def _whole(self, job: Job, queue: str) -> bool:
        if isinstance(job, ShouldBeEncrypted):
            return True
        definition = self.manager.definitions.get(queue) if self.manager is not None else None
        return bool(definition and definition.encryption_enabled)

    # -- envelopes ---------------------------------------------------------------------------
    def encrypt_envelope(self, envelope: dict[str, Any], job: Job) -> dict[str, Any]:
        """Replace the data (or its sensitive fields) with ciphertext and mark the envelope encrypted."""
        job_uuid = str(envelope["uuid"])
        data = envelope.get("data") or {}
        if self._whole(job, str(envelope.get("queue", ""))):
            envelope["data"] = self.encrypt(_dumps(data), job_uuid)
            envelope["encrypted"] = True
            return envelope
        fields = [f for f in _sensitive_fields(job) if f in data]
        envelope["data"] = {k: (self.encrypt(_dumps(v), f"{job_uuid}:{k}") if k in fields else v) for k, v in data.items()}
        envelope["encrypted"] = True
        envelope["encryptedFields"] = fields
        return envelope

    def decrypt_envelope(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Restore plain data; raise InvalidPayloadError when no known key opens it."""
        job_uuid = str(envelope.get("uuid", ""))
        fields = envelope.get("encryptedFields")
        data = envelope.get("data")
        if fields is None:
            if not isinstance(data, str):
                raise InvalidPayloadError("payload is marked encrypted but its data is not ciphertext")
            envelope["data"] = json.loads(self.decrypt(data, job_uuid))
        else:
            if not isinstance(data, dict) or not isinstance(fields, list):
                raise InvalidPayloadError("payload is marked encrypted but its encryptedFields are malformed")
            envelope["data"] = {k: (json.loads(self.decrypt(v, f"{job_uuid}:{k}")) if k in fields else v) for k, v in data.items()}
        envelope.pop("encrypted", None)
        envelope.pop("encryptedFields", None)
        return envelope

    # -- primitives ------------------------------------------------------------------------------
    @property
    def _ciphers(self) -> list[Any]:
        """One AES-GCM cipher per key (current first), built on first use."""
        ciphers = self._cipher_list
        if ciphers is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            ciphers = self._cipher_list = [AESGCM(derive_key(k)) for k in self._keys]
        return ciphers

    def encrypt(self, plaintext: bytes, context: str) -> str:
        """Encrypt under the current key; `context` is authenticated but not stored."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[0].encrypt(nonce, plaintext, context.encode("utf-8"))
        return TOKEN_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: Any, context: str) -> bytes:
        """Decrypt with the current key, then each previous key."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise InvalidPayloadError("encrypted job data is malformed (not an AES-GCM token)")
        try:
            raw = base64.b64decode(token[len(TOKEN_PREFIX):], validate=True)
        except ValueError:
            raise InvalidPayloadError("encrypted job data is not valid base64") from None
        from cryptography.exceptions import InvalidTag

        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        for cipher in self._ciphers:
            try:
                return cipher.decrypt(nonce, sealed, context.encode("utf-8"))
            except InvalidTag:
                continue
        raise InvalidPayloadError(
            "cannot decrypt job data with APP_KEY or APP_PREVIOUS_KEYS (encrypted under another key, or corrupted); "
            "add the key it was made with to APP_PREVIOUS_KEYS"
        )


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _sensitive_fields(job: Job) -> list[str]:
    secure = _secure_job()
    return list(job.sensitive_fields) if isinstance(job, secure) else []  # type: ignore[attr-defined]


@functools.cache
def _secure_job() -> type:
    """SecureJob, imported on first use (as in should_encrypt_class) and then kept: asked on every dispatch."""
    # lazy: Security defines SecureJob, a Job subclass, and defining one loads SQLAlchemy
    from app.Jobs.Security import SecureJob

    return SecureJob
