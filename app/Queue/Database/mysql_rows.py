"""Multi-row INSERTs for pymysql that spell each distinct value of a column once.

pymysql's executemany escapes every value of every row through four Python calls (~0.6 us
each) and formats each row with `%`; a bulk's rows repeat most of their values (queue, times,
the pending status's text, an audit entry's class and host), so spelling each distinct value
once per column leaves one escape per row for the value that differs (payload, key, uuid).
Values are spelled by the connection's own `literal`, which follows the server's
NO_BACKSLASH_ESCAPES mode exactly as pymysql's parameters do.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from sqlalchemy.engine import Connection

MAX_STATEMENT = 1_024_000  # bytes per statement, as pymysql's own executemany


class _Spelled(dict[Any, str]):
    """One column's values already spelled, spelling a new one on first sight."""

    def __init__(self, literal: Callable[[Any], str]) -> None:
        super().__init__()
        self._literal = literal

    def __missing__(self, value: Any) -> str:
        spelled = self[value] = self._literal(value)
        return spelled


def applies(conn: Connection) -> bool:
    """Whether `conn` runs on pymysql, whose escaping `insert_rows` replaces."""
    return conn.dialect.driver == "pymysql"


def insert_rows(conn: Connection, head: str, rows: Iterable[Sequence[Any]], unique: Sequence[bool], tail: str = "") -> int:
    """Run `head` + "(...), (...)" + `tail` for `rows` in statements of at most MAX_STATEMENT bytes;
    `unique[i]` marks a column whose values differ from row to row (spelled each time, not kept).
    Returns the rows affected."""
    raw = conn.connection.dbapi_connection
    literal: Callable[[Any], str] = raw.literal  # type: ignore[union-attr]
    encoding = raw.encoding  # type: ignore[union-attr]
    spellers = [literal if differs else _Spelled(literal).__getitem__ for differs in unique]
    start, end = head.encode(encoding), tail.encode(encoding)
    cursor = conn.connection.cursor()
    affected = 0
    try:
        sql = bytearray(start)
        for row in rows:
            try:
                parts = [spell(v) for spell, v in zip(spellers, row)]
            except TypeError:  # an unhashable value (read from an untrusted envelope): spelled as it is
                parts = [literal(v) for v in row]
            text = f"({','.join(parts)})".encode(encoding, "surrogateescape")
            if len(sql) > len(start):
                if len(sql) + len(text) + len(end) + 1 > MAX_STATEMENT:
                    affected += cursor.execute(bytes(sql + end))
                    sql = bytearray(start)
                else:
                    sql += b","
            sql += text
        if len(sql) > len(start):
            affected += cursor.execute(bytes(sql + end))
    finally:
        cursor.close()
    return affected
