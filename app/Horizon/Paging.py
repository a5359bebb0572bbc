"""Page numbers and filters of the dashboard's lists, parsed once and validated (bad input -> BadRequest)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 100_000
MAX_FILTER_CHARS = 191


class BadRequest(ValueError):
    """A query parameter is invalid (the API answers 400 with this message)."""


class NotFound(LookupError):
    """The id names nothing (the API answers 404 with this message)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What a job list is narrowed to: class name, tag, job id (uuid), queue and tenant; empty strings mean any."""

    job: str = ""
    tag: str = ""
    id: str = ""
    queue: str = ""
    tenant: str = ""

    @property
    def any(self) -> bool:
        return bool(self.job or self.tag or self.id or self.queue or self.tenant)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A 1-based page of `per_page` items."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    filters: Filters = field(default_factory=Filters)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results and how many there are in all."""

    items: list[dict[str, Any]]
    page: int
    per_page: int
    total: int
    capped: bool = False  # there are more than `total` (counting stopped there, to stay fast on huge tables)

    def to_dict(self) -> dict[str, Any]:
        pages = max(1, -(-self.total // self.per_page))
        return {"items": self.items, "page": self.page, "per_page": self.per_page, "total": self.total, "pages": pages,
                "capped": self.capped}


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number between {low} and {high}, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def _text(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if len(value) > MAX_FILTER_CHARS:
        raise BadRequest(f"{name} is too long (at most {MAX_FILTER_CHARS} characters)")
    return value


def page_request(params: Mapping[str, str]) -> PageRequest:
    """Read `page`, `per_page`, `job`, `tag`, `id`, `queue`, `tenant` from query parameters."""
    return PageRequest(
        page=_int(params, "page", 1, 1, MAX_PAGE),
        per_page=_int(params, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
        filters=Filters(job=_text(params, "job"), tag=_text(params, "tag"), id=_text(params, "id"), queue=_text(params, "queue"),
                        tenant=_text(params, "tenant")),
    )


def tenant_filter(params: Mapping[str, str]) -> str | None:
    """The `tenant` query parameter (None when absent or empty), validated like the other filters."""
    return _text(params, "tenant") or None


def tenant_needle(tenant: str) -> str:
    """A LIKE pattern for payloads whose envelope names `tenant` (`"tenant":"<id>"`, wildcards escaped)."""
    import json

    return '%"tenant":' + like_escape(json.dumps(tenant, ensure_ascii=False)) + '%'


def like_escape(text: str) -> str:
    """Escape LIKE wildcards (used with escape='\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
