"""pymysql multi-row INSERTs that spell each repeated value once store exactly what executemany would."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from app.Audit.AuditEntry import AuditEntry
from app.Audit.DatabaseAuditStore import DatabaseAuditStore
from app.Queue.contracts import PushItem
from app.Queue.Database import mysql_rows
from app.Queue.Drivers.DatabaseQueue import DatabaseQueue
from app.Queue.QueueManager import QueueManager

WORKER = "test-worker"
ODD = ["it's", 'say "hi"', "back\\slash \\' \\\\", "100% %s %(x)s", "ünïcødé ✓ 🎉", "", "NULL", "\x00nul\n\r\t\x1a", "x" * 3000]


@pytest.fixture(params=["default mode", "NO_BACKSLASH_ESCAPES"])
def driver(maria: QueueManager, request: pytest.FixtureRequest) -> DatabaseQueue:
    d = maria.connection("database")
    assert isinstance(d, DatabaseQueue) and d.engine.dialect.driver == "pymysql"
    if request.param != "default mode":  # the server's mode changes how quotes must be escaped
        from sqlalchemy import event

        event.listen(d.engine, "connect", lambda dbapi, _: dbapi.cursor().execute(
            "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"))
        d.engine.dispose()
        with d.engine.connect() as conn:
            assert "NO_BACKSLASH_ESCAPES" in conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
    return d


def test_bulk_rows_come_back_byte_for_byte_with_their_priority_and_delay(driver: DatabaseQueue):
    driver.bulk([PushItem(f'{{"p":{i},"s":"{odd}"}}' if i % 2 else odd, "rows", 60 if i == 3 else 0, i % 3)
                 for i, odd in enumerate(ODD)])
    sizes = driver.sizes("rows")
    assert (sizes.pending, sizes.delayed) == (len(ODD) - 1, 1)
    popped = []
    while (job := driver.pop("rows", WORKER)) is not None:
        popped.append(job.payload)
    expected = [f'{{"p":{i},"s":"{odd}"}}' if i % 2 else odd for i, odd in enumerate(ODD) if i != 3]
    assert sorted(popped) == sorted(expected)


def test_rows_are_split_into_statements_under_the_size_cap(driver: DatabaseQueue, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(mysql_rows, "MAX_STATEMENT", 2000)
    executed: list[int] = []
    with driver.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMPORARY TABLE spelled (a VARCHAR(64), b TEXT, c INT)")
        real = conn.connection.cursor

        def counting_cursor():  # type: ignore[no-untyped-def]
            cur = real()
            execute = cur.execute
            cur.execute = lambda sql, *a: (executed.append(len(sql)), execute(sql, *a))[1]
            return cur

        monkeypatch.setattr(conn.connection, "cursor", counting_cursor)
        rows = [("same", f"{ODD[i % len(ODD)][:200]}-{i}", i % 2) for i in range(60)]
        assert mysql_rows.insert_rows(conn, "INSERT INTO spelled (a, b, c) VALUES ", rows, (False, True, False)) == 60
        monkeypatch.undo()
        stored = conn.execute(text("SELECT a, b, c FROM spelled")).all()
    assert len(executed) > 1 and max(executed) <= 2000
    assert sorted(map(tuple, stored)) == sorted(rows)


def test_audit_entries_with_untrusted_values_are_stored_as_executemany_would(maria: QueueManager):
    store = DatabaseAuditStore(maria.engine())
    store.prune(4e9)
    entries = [AuditEntry("dispatched", f"id-{i}", ODD[i][:191], "q'ueue", "database", None if i % 2 else "t\\n", None,
                          1_800_000_000.5, "host", "actor") for i in range(len(ODD))]
    store.append_many(entries)
    assert store.query(limit=0) == entries


def test_put_all_writes_and_overwrites_one_value_under_many_keys(maria: QueueManager):
    from app.Queue.Cache.DatabaseStore import DatabaseStore

    store = DatabaseStore(maria.engine(), prefix="rows:")
    store.put("k1", {"old": True}, 60)
    keys = [f"k{i}" for i in range(300)] + ["it's", "back\\slash"]
    store.put_all(keys, {"state": "pending", "s": ODD[:8]}, 60)
    assert store.many(keys) == {k: {"state": "pending", "s": ODD[:8]} for k in keys}
