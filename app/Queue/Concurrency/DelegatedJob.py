"""What a wrapped ReservedJob reads from the job it wraps: the base of OwnedJob and SlotJob."""
from __future__ import annotations

from typing import Any


class DelegatedJob:
    """The ReservedJob reads and the lease renewal of `inner`; subclasses decide where acks and releases go."""

    __slots__ = ("inner",)

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def payload(self) -> Any:
        return self.inner.payload

    @property
    def attempts(self) -> int:
        return int(self.inner.attempts)

    @property
    def queue(self) -> str:
        return str(self.inner.queue)

    @property
    def connection_name(self) -> str:
        return str(self.inner.connection_name)

    @property
    def retry_after(self) -> float:
        return float(self.inner.retry_after)

    def renew(self) -> bool:
        """Extend the lease now (called by the lease keeper's thread)."""
        return bool(self.inner.renew())
