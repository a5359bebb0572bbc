"""Errors the queue raises; each message says what is wrong and how to fix it."""
from __future__ import annotations


class QueueError(Exception):
    """Base class of the framework's errors; the console prints them as one line."""


class ConfigurationError(QueueError):
    """Bad or missing configuration (APP_KEY, DB_*, REDIS_*, unknown connection)."""


class ConnectionUnavailableError(QueueError):
    """A queue or database server cannot be reached."""


class MissingTablesError(QueueError):
    """The database has not been migrated."""

    def __init__(self, detail: str = "") -> None:
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"queue tables are missing{suffix}; run `python artisan migrate`")


class SerializationError(QueueError):
    """A job attribute cannot be stored as JSON."""


class InvalidPayloadError(QueueError):
    """A stored payload cannot be trusted or decoded (bad JSON, bad signature, class not allowed)."""


class JobTimeoutError(QueueError):
    """Raised inside a job that ran past its timeout."""


class MaxAttemptsExceededError(QueueError):
    """A job was attempted too many times or past its retry_until."""


class QueueFullError(QueueError):
    """A push would take a queue past its `max_jobs` limit."""


class AuthorizationError(QueueError):
    """The worker lacks a permission the job requires."""
