"""Sign a batch's options (callbacks, chain continuation, queue, allowance) with APP_KEY, and check them before use.

job_batches.options is plain JSON in the database: without a signature, anyone who can write
that row could make the worker that finishes the batch dispatch a job with data of their
choosing. The HMAC covers every member except `fired` (bookkeeping the repository rewrites)
and is bound to the batch id, so options cannot be copied from one batch to another.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Sequence

from app.Queue.errors import InvalidPayloadError

SIGNATURE = "sig"
UNSIGNED = frozenset({SIGNATURE, "fired"})
_DOMAIN = b"job_batches.options\x00"


def _message(batch_id: str, options: dict[str, Any]) -> bytes:
    signed = {k: v for k, v in options.items() if k not in UNSIGNED}
    canonical = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return _DOMAIN + batch_id.encode("utf-8") + b"\x00" + canonical.encode("ascii")


def sign_options(key: bytes, batch_id: str, options: dict[str, Any]) -> dict[str, Any]:
    """Return `options` with their signature added under "sig"."""
    digest = hmac.new(key, _message(batch_id, options), hashlib.sha256).hexdigest()
    return {**options, SIGNATURE: digest}


def verified_options(batch_id: str, options: Any, keys: Sequence[bytes]) -> dict[str, Any]:
    """Return the options when their signature matches APP_KEY (or a previous key); raise otherwise."""
    if not isinstance(options, dict):
        raise InvalidPayloadError(f"batch {batch_id}: options are not an object")
    given = options.get(SIGNATURE)
    if not isinstance(given, str):
        raise InvalidPayloadError(f"batch {batch_id}: options are not signed; refusing to run its callbacks")
    try:
        message = _message(str(batch_id), options)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidPayloadError(f"batch {batch_id}: options cannot be read: {type(exc).__name__}") from None
    for key in keys:
        if hmac.compare_digest(hmac.new(key, message, hashlib.sha256).hexdigest(), given):
            return options
    raise InvalidPayloadError(f"batch {batch_id}: options signature does not match APP_KEY (altered in the store); "
                              "refusing to run its callbacks")
