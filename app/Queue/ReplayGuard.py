"""Drop a record that replays a payload which already completed, instead of running it again.

Attempts live outside the signature (the store counts them), so a signed payload copied back
into the store is indistinguishable from a fresh one by its bytes alone. What tells them apart
is history: when a job completes, the worker notes the payload's signature in the job's status
record (`status:<uuid>`, kept QUEUE_STATUS_TTL). A record whose uuid completed with that same
signature is a replay (or a redelivery after a crash between completion and ack) and is deleted
unrun. A job dispatched again under the same uuid has a new createdAt, hence a new signature,
and runs. Cost: one status read per job (the write rides on the completion status already sent).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from app.Queue.events import JobProcessed
from app.Queue.Payload import SIG_SUFFIX_LEN

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.worker")

DONE_FIELD = "done_sig"


def payload_signature(raw: Any) -> str | None:
    """The hex HMAC at the end of a verified payload."""
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).decode("utf-8", "replace")
    return raw[-66:-2] if isinstance(raw, str) and len(raw) >= SIG_SUFFIX_LEN else None


def is_replay(manager: QueueManager, job: Job, raw: Any) -> bool:
    """True when this exact payload already completed; remembers its signature on the job otherwise."""
    signature = payload_signature(raw)
    job._payload_signature = signature  # type: ignore[attr-defined]
    if not signature or not job.job_id or not manager.statuses.enabled:
        return False
    record = manager.statuses.raw(job.job_id)
    return isinstance(record, dict) and record.get("state") == "completed" and record.get(DONE_FIELD) == signature


def on_processed(manager: QueueManager, event: JobProcessed) -> None:
    """Note the completed payload's signature beside the job's completed status."""
    signature = getattr(event.job, "_payload_signature", None)
    if signature and event.job.job_id:
        manager.statuses.annotate(event.job.job_id, **{DONE_FIELD: signature})


def register(manager: QueueManager) -> None:
    """Wire the completion listener into `manager`."""
    manager.events.listen(JobProcessed, lambda event: on_processed(manager, event))
