"""The export file format: one JSON object per line, each signed with APP_KEY and chained to the line before.

Line 1 is a header (format, export id, source connection), then one line per job, failed job
or batch, then a trailer with the number of records. Every line carries `sig`, the
HMAC-SHA256 of the previous line's `sig` plus the line's own canonical JSON: an edited,
removed, reordered or foreign line breaks the chain, and a file cut short has no trailer.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator, Sequence

from app.Queue.errors import QueueError
from app.Queue.Support.time import now

FORMAT = "queue-export/1"


class ExportFileError(QueueError):
    """The export file is truncated, tampered with, signed with another key, or not an export."""


def export_key(app_key: bytes) -> bytes:
    """Derive the key export files are signed with, so an export signature is never a payload signature."""
    return hmac.new(app_key, FORMAT.encode("ascii"), hashlib.sha256).digest()


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _mac(key: bytes, previous: str, record: dict[str, Any]) -> str:
    return hmac.new(key, previous.encode("ascii") + b"\n" + _canonical(record), hashlib.sha256).hexdigest()


@dataclass
class SignedWriter:
    """Write records as a signed chain of JSON lines: `open()`, `write()` each record, `close()`."""

    out: IO[str]
    key: bytes
    source: str
    export_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    count: int = 0
    _previous: str = ""

    def _emit(self, record: dict[str, Any]) -> None:
        sig = _mac(self.key, self._previous, record)
        self.out.write(json.dumps({**record, "sig": sig}, separators=(",", ":"), ensure_ascii=False) + "\n")
        self._previous = sig

    def open(self) -> None:
        """Write the header line."""
        self._emit({"type": "header", "format": FORMAT, "export_id": self.export_id, "source": self.source,
                    "created_at": now()})

    def write(self, record: dict[str, Any]) -> None:
        """Write one job, failed-job or batch record."""
        self._emit(record)
        self.count += 1

    def close(self) -> None:
        """Write the trailer that says the file is complete."""
        self._emit({"type": "trailer", "count": self.count})


@dataclass
class VerifiedExport:
    """A whole export file whose every line verified: its header and its records in file order."""

    header: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def export_id(self) -> str:
        return str(self.header["export_id"])

    def of_type(self, kind: str) -> Iterator[dict[str, Any]]:
        return (r for r in self.records if r.get("type") == kind)


def read_verified(lines: Iterable[str], keys: Sequence[bytes], name: str = "export file") -> VerifiedExport:
    """Read and verify every line before anything is imported; raise ExportFileError naming the first bad line."""
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    previous = ""
    key: bytes | None = None
    done = False
    number = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if done:
            raise ExportFileError(f"{name} line {number}: data after the trailer; the file was tampered with")
        record = _parse(text, name, number)
        given = record.pop("sig", None)
        if not isinstance(given, str):
            raise ExportFileError(f"{name} line {number}: unsigned line; refusing the whole file")
        if key is None:  # the first line picks the key (current APP_KEY or a previous one)
            key = next((k for k in keys if hmac.compare_digest(_mac(k, "", record), given)), None)
            if key is None:
                raise ExportFileError(f"{name} line {number}: signature does not verify with APP_KEY "
                                      "(tampered, or exported with another key); nothing imported")
        elif not hmac.compare_digest(_mac(key, previous, record), given):
            raise ExportFileError(f"{name} line {number}: signature does not verify (line edited, removed or "
                                  "reordered); nothing imported")
        previous = given
        if header is None:
            if record.get("type") != "header" or record.get("format") != FORMAT:
                raise ExportFileError(f"{name} line {number}: not a {FORMAT} export header")
            header = record
        elif record.get("type") == "trailer":
            if record.get("count") != len(records):
                raise ExportFileError(f"{name}: trailer says {record.get('count')} records, file has {len(records)}")
            done = True
        else:
            records.append(record)
    if header is None:
        raise ExportFileError(f"{name} is empty; nothing imported")
    if not done:
        raise ExportFileError(f"{name} is truncated after line {number} (no trailer); nothing imported")
    return VerifiedExport(header, records)


def _parse(text: str, name: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except ValueError:
        raise ExportFileError(f"{name} line {number}: not JSON (truncated or corrupted); nothing imported") from None
    if not isinstance(record, dict):
        raise ExportFileError(f"{name} line {number}: not a JSON object; nothing imported")
    return record
