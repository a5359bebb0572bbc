"""queue:failed:show <id>: one failed job in full — its data (encrypted parts masked) and every attempt's exception."""
from __future__ import annotations

import json
from typing import Any

from cleo.helpers import argument

from app.Console.Command import Command, UsageError
from app.Console.Commands.QueueFailed import failed_at_text
from app.Console.Support.untrusted import plain
from app.Queue.AttemptHistory import split
from app.Queue.QueueManager import manager
from app.Queue.Support.failed_filter import payload_fields

MASK = "***encrypted***"


def masked_data(envelope: dict[str, Any]) -> Any:
    """The job's data as stored, with encrypted data or fields replaced by a mask (never decrypted here)."""
    data = envelope.get("data")
    if not envelope.get("encrypted"):
        return data
    fields = envelope.get("encryptedFields")
    if not isinstance(fields, list) or not isinstance(data, dict):
        return MASK  # the whole data is one ciphertext
    return {k: (MASK if k in fields else v) for k, v in data.items()}


class QueueFailedShowCommand(Command):
    name = "queue:failed:show"
    description = "Show one failed job: its data (encrypted fields masked) and each attempt's exception and trace"
    arguments = [argument("id", "The failed job's uuid (or its numeric id from queue:failed)")]

    def run_command(self) -> int:
        ident = str(self.argument("id")).strip()
        record = manager().failed.find(ident)
        if record is None:
            raise UsageError(f"no failed job with id {ident!r}; `python artisan queue:failed` lists them")
        envelope = payload_fields(record.payload)
        cls = envelope.get("displayName") or "?"
        path = envelope.get("job") or "?"
        self.line(f"<info>Failed job</info> {plain(record.id)} <comment>{plain(record.uuid)}</comment>")
        for label, value in (("Job", f"{cls} ({path})"), ("Connection", record.connection), ("Queue", record.queue),
                             ("Failed at", f"{failed_at_text(record.failed_at)} UTC")):
            self.line(f"  {label:<11} {plain(value)}")
        self.line("")
        self.line("<info>Data</info>")
        data = json.dumps(masked_data(envelope), indent=2, ensure_ascii=False, default=str)
        for text in data.splitlines():
            self.line(f"  {plain(text)}")
        parts = split(record.exception)
        earlier = [n for n, _ in parts if n is not None]
        final = f"Attempt {max(earlier) + 1} (final)" if earlier else "Final attempt"
        for attempt, text in parts:
            self.line("")
            self.line(f"<error>{final if attempt is None else f'Attempt {attempt}'}</error>")
            for line in text.splitlines():
                self.line(f"  {plain(line)}")
        return 0
