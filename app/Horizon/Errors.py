"""Map exceptions to one-line answers: 400 bad input, 404 unknown id, 503 store down, 500 otherwise (logged, never shown)."""
from __future__ import annotations

import logging

from app.Horizon.Paging import BadRequest, NotFound
from app.Queue.errors import QueueError

log = logging.getLogger("queue.dashboard")


def store_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean the store (database, Redis) cannot answer."""
    import redis
    from sqlalchemy.exc import SQLAlchemyError

    return (QueueError, redis.RedisError, SQLAlchemyError, OSError)


def classify(exc: BaseException) -> tuple[int, str]:
    """(HTTP status, one-line message) for an exception raised while answering a request."""
    if isinstance(exc, BadRequest):
        return 400, str(exc)
    if isinstance(exc, NotFound):
        return 404, str(exc)
    if isinstance(exc, store_errors()):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return 503, f"The queue store is unavailable: {first}"
    log.exception("dashboard request failed")
    return 500, "Internal error; see the dashboard's log."
