"""Spell audit entries as the Redis stream stores them: compact JSON of `AuditEntry.as_dict()`.

A dispatching process writes one entry per job, and only the uuid and the time differ from one
entry to the next of the same class, queue and host: the rest is encoded once and reused. The
text is exactly `json.JSONEncoder(separators=(",", ":")).encode(entry.as_dict())`.
"""
from __future__ import annotations

import json
import math
from json.encoder import encode_basestring_ascii
from operator import itemgetter
from typing import Any, Sequence

from app.Audit.AuditEntry import AuditEntry

encode = json.JSONEncoder(separators=(",", ":")).encode
PARTS_MAX = 1024  # repeated parts kept; beyond, the cache starts again (entries naming many queues or tenants)

_Parts = tuple[str, str, str]
_repeated = itemgetter(0, 2, 3, 4, 5, 6, 8, 9, 10)  # every member but job_id (1) and at (7)


class AuditJson:
    """Encode entries, keeping the JSON of what repeats: event, class, queue, connection, tenant, attempt, host, actor, detail."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: dict[tuple[Any, ...], _Parts] = {}

    def encode(self, entry: AuditEntry) -> str:
        """The entry's JSON text."""
        job_id, at = entry.job_id, entry.at
        if (job_id is not None and type(job_id) is not str) or type(at) is not float or not math.isfinite(at):
            return encode(entry.as_dict())
        try:
            parts = self._parts.get(_repeated(entry))
        except TypeError:  # an unhashable value read from an (untrusted) envelope
            return encode(entry.as_dict())
        if parts is None:
            parts = self._remember(entry)
        head, middle, tail = parts
        return f'{head}{"null" if job_id is None else encode_basestring_ascii(job_id)}{middle}{at!r}{tail}'

    def encode_many(self, entries: Sequence[AuditEntry]) -> list[str]:
        """`encode` of each entry; an entry that repeats the previous one's members reuses its parts, and one
        that repeats its time too (a bulk dispatch's) its time text: single dispatches' entries differ in time only."""
        out: list[str] = []
        last: tuple[Any, ...] | None = None
        last_at: Any = None
        head = middle = tail = at_text = ""
        for entry in entries:
            job_id, at = entry[1], entry[7]
            if type(job_id) is not str or type(at) is not float:
                out.append(self.encode(entry))
                continue
            if at is not last_at:
                if not math.isfinite(at):
                    out.append(self.encode(entry))
                    continue
                last_at, at_text = at, repr(at)
            repeated = _repeated(entry)
            if repeated != last:
                try:
                    head, middle, tail = self._parts.get(repeated) or self._remember(entry)
                except TypeError:  # an unhashable value read from an (untrusted) envelope: head..tail stay last's
                    out.append(self.encode(entry))
                    continue
                last = repeated
            out.append(f"{head}{encode_basestring_ascii(job_id)}{middle}{at_text}{tail}")
        return out

    def _remember(self, entry: AuditEntry) -> _Parts:
        """Encode the members around job_id and at once for entries like this one."""
        d = entry.as_dict()
        head = encode({"event": d["event"]})[:-1] + ',"job_id":'
        middle = "," + encode({k: d[k] for k in ("job_class", "queue", "connection", "tenant", "attempt")})[1:-1] + ',"at":'
        tail = "," + encode({k: d[k] for k in ("host", "actor", "detail")})[1:]
        if len(self._parts) >= PARTS_MAX:
            self._parts.clear()
        parts = self._parts[_repeated(entry)] = (head, middle, tail)
        return parts
