"""What MySQL/MariaDB must offer the queue, checked with clear errors instead of raw driver errors.

- Character set: payloads are UTF-8 text (emoji, any script), so the tables must be utf8mb4.
  `migrate` refuses a database whose default or whose queue tables are not, saying how to convert.
- Packet size: one payload is sent in one packet; a payload over the server's
  max_allowed_packet makes the server drop the connection ("MySQL server has gone away").
  `migrate` warns when max_allowed_packet is below QUEUE_MAX_PAYLOAD_BYTES, and a push of a
  payload over it is refused before it is sent.
- Raw errors that still reach the driver (1366 wrong character set, 1406 too long for a
  column, 1153 packet too big) become one line without the SQL parameters, which hold the payload.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection, Engine

from app.Queue.errors import ConfigurationError, QueueError

PACKET_OVERHEAD = 64 * 1024   # the INSERT statement and the row's other columns, generously
CHECK_ABOVE = PACKET_OVERHEAD  # payloads shorter than this (characters) never need the server's limit


class PayloadTooLargeError(QueueError):
    """A payload the store cannot take (over max_allowed_packet or QUEUE_MAX_PAYLOAD_BYTES)."""


def is_mysql(engine: Engine) -> bool:
    return engine.dialect.name in ("mysql", "mariadb")


def charset_problem(conn: Connection, tables: Iterable[str]) -> str | None:
    """Say what is not utf8mb4 (the database default, or existing queue tables) and how to convert it."""
    database = conn.exec_driver_sql("SELECT DATABASE()").scalar()
    default = conn.exec_driver_sql(
        "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()").scalar()
    names = list(tables)
    marks = ", ".join(["%s"] * len(names))
    rows = conn.exec_driver_sql(
        f"SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        f"AND TABLE_NAME IN ({marks})", tuple(names)).all()
    wrong = sorted(str(name) for name, collation in rows if not str(collation or "").startswith("utf8mb4"))
    if wrong:
        fix = "; ".join(f"ALTER TABLE `{t}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" for t in wrong[:2])
        more = f" (and the same for {', '.join(wrong[2:])})" if len(wrong) > 2 else ""
        return (f"tables {', '.join(wrong)} of database {database!r} are not utf8mb4, so payloads with emoji or many "
                f"scripts fail; convert them: {fix}{more}")
    if str(default or "").lower() != "utf8mb4" and len(rows) < len(names):
        return (f"database {database!r} uses character set {default}, so the queue tables would not hold emoji or many "
                f"scripts; run ALTER DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, then migrate again")
    return None


def max_allowed_packet(conn: Connection) -> int:
    """The server's max_allowed_packet in bytes."""
    return int(conn.exec_driver_sql("SELECT @@max_allowed_packet").scalar() or 0)


def packet_problem(conn: Connection, max_payload: int) -> str | None:
    """Say when the server would drop payloads that QUEUE_MAX_PAYLOAD_BYTES still allows."""
    limit = max_allowed_packet(conn)
    if limit and limit < max_payload + PACKET_OVERHEAD:
        return (f"the server's max_allowed_packet ({limit} bytes) is below QUEUE_MAX_PAYLOAD_BYTES ({max_payload}) plus "
                f"{PACKET_OVERHEAD} bytes of statement; raise max_allowed_packet (e.g. SET GLOBAL max_allowed_packet="
                f"{max(16 * 1024 * 1024, max_payload + PACKET_OVERHEAD)}) or lower QUEUE_MAX_PAYLOAD_BYTES")
    return None


class PacketLimit:
    """Refuse, before sending, a payload the MySQL/MariaDB server would drop the connection over."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._mysql = is_mysql(engine)
        self._limit: int | None = None
        self._lock = threading.Lock()

    def check(self, payloads: Iterable[str]) -> None:
        """Raise PayloadTooLargeError for the first payload over max_allowed_packet (less the statement)."""
        if not self._mysql:
            return
        for payload in payloads:
            if len(payload) > CHECK_ABOVE:
                self._check_one(payload)

    def _check_one(self, payload: str) -> None:
        size = len(payload.encode("utf-8", "surrogatepass"))
        limit = self._server_limit()
        if size + PACKET_OVERHEAD > limit:
            raise PayloadTooLargeError(
                f"a payload of {size} bytes does not fit the server's max_allowed_packet ({limit} bytes, less "
                f"{PACKET_OVERHEAD} for the statement); raise max_allowed_packet or lower QUEUE_MAX_PAYLOAD_BYTES")

    def _server_limit(self) -> int:
        with self._lock:
            if self._limit is None:
                with self.engine.connect() as conn:
                    self._limit = max_allowed_packet(conn)
            return self._limit


# MySQL error code -> what to tell the user (the raw message quotes the payload).
_RAW_ERRORS = {
    1366: ("the database refused text it cannot store (MySQL error 1366): the queue tables are not utf8mb4; "
           "run `python artisan migrate`, which checks the character set and says how to convert it"),
    1406: ("a value is longer than its column (MySQL error 1406), e.g. a queue or connection name over 191 characters"),
    1153: ("a payload is larger than the server's max_allowed_packet (MySQL error 1153); raise max_allowed_packet "
           "or lower QUEUE_MAX_PAYLOAD_BYTES"),
}


def storage_error(exc: BaseException) -> QueueError | None:
    """Turn a raw MySQL error about the data itself into a one-line error without the payload, or None."""
    args: Any = getattr(getattr(exc, "orig", None), "args", ())
    code = args[0] if args else None
    message = _RAW_ERRORS.get(code) if isinstance(code, int) else None
    if message is None:
        return None
    return ConfigurationError(message) if code == 1366 else PayloadTooLargeError(message)
