"""A throwaway MariaDB server for the test session: started on a free loopback port, stopped by pid.

`mariadb_server` installs a fresh data directory with `mariadb-install-db`, starts `mariadbd`
small and fast (64 MB buffer pool, no binlog, no performance schema), creates a password user,
and at the end of the session stops the server by pid and deletes the data directory.
A missing binary skips the tests with an install hint, except under CI, where it fails.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote_plus

import pytest

from tests.process_guard import die_with_parent, track
from tests.servers_sql import emptied_tables, migrated_database, use_sql_server

INSTALL_HINT = "mariadb-server not installed: apt-get install mariadb-server"
USER, PASSWORD = "queue", "queue-secret"
START_TIMEOUT = 30.0


@dataclass
class MariaDBServer:
    """Where the throwaway server listens and how to log in."""

    host: str
    port: int
    user: str
    password: str
    socket: str
    datadir: Path
    binary: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def restart(self) -> None:
        """Stop the server cleanly and start it again on the same port and data (clients lose their connections)."""
        if self.process is not None:
            _stop(self.process)
        self.process = _start(self.binary, self.datadir.parent, self.port)
        _wait_ready(self.process, self.port, self.datadir.parent / "error.log")

    def connect(self, database: str | None = None, **kwargs: Any) -> Any:
        import pymysql

        kwargs.setdefault("autocommit", True)
        return pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               database=database, **kwargs)

    def fetch_one(self, sql: str) -> tuple[Any, ...] | None:
        """The first row of `sql`, read on a connection of its own (status, processlist and server counters)."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchone()
        finally:
            conn.close()

    def url(self, database: str) -> str:
        return f"mysql+pymysql://{self.user}:{quote_plus(self.password)}@{self.host}:{self.port}/{database}?charset=utf8mb4"

    def env(self, database: str) -> dict[str, str]:
        """DB_* settings that point the app (and worker subprocesses) at `database`."""
        return {"DB_CONNECTION": "mysql", "DB_HOST": self.host, "DB_PORT": str(self.port),
                "DB_DATABASE": database, "DB_USERNAME": self.user, "DB_PASSWORD": self.password}

    def create_database(self, name: str) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        finally:
            conn.close()


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _skip_or_fail(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _install(install_db: str, datadir: Path) -> None:
    # Its own --tmpdir: two installs at once (two test processes) clashed over temporary tables in /tmp.
    tmpdir = datadir.parent / "tmp"
    tmpdir.mkdir(exist_ok=True)
    args = [install_db, "--no-defaults", "--auth-root-authentication-method=normal", f"--datadir={datadir}",
            "--skip-test-db", "--skip-name-resolve", f"--tmpdir={tmpdir}"]
    if os.geteuid() == 0:  # mariadbd refuses to run as root unless told to
        args.append("--user=root")
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed ({done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")


def _start(mariadbd: str, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    args = [
        mariadbd, "--no-defaults", f"--datadir={tmp / 'data'}", f"--socket={tmp / 'mysqld.sock'}",
        f"--port={port}", "--bind-address=127.0.0.1", f"--pid-file={tmp / 'mysqld.pid'}", f"--tmpdir={tmp / 'tmp'}",
        f"--log-error={tmp / 'error.log'}", "--skip-name-resolve", "--skip-log-bin",
        "--performance-schema=OFF", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
        # A throwaway server: no fsync per commit (tests kill workers, and stop the server only cleanly).
        "--innodb-flush-log-at-trx-commit=2", "--max-connections=300",
    ]
    if os.geteuid() == 0:
        args.append("--user=root")
    # A clean shutdown (SIGTERM) when this process dies without stopping it (pytest-timeout's os._exit).
    return track(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                  preexec_fn=die_with_parent(signal.SIGTERM)))


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Ping as root until the server answers; raise with the error log if it dies or hangs."""
    import pymysql

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            pymysql.connect(host="127.0.0.1", port=port, user="root", password="", connect_timeout=1).close()
            return
        except pymysql.err.OperationalError:
            time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"mariadbd did not start on port {port}:\n{tail}")


def _create_user(port: int) -> None:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY %s", (PASSWORD,))
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1'")
    finally:
        conn.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server (a clean InnoDB shutdown), SIGKILL it if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class MariaDBMissing(RuntimeError):
    """mariadbd or mariadb-install-db is not on this machine."""


@contextlib.contextmanager
def running_mariadb() -> Iterator[MariaDBServer]:
    """Install, start and finally stop and delete a private MariaDB (also used by the benchmarks)."""
    mariadbd, install_db = _binary("mariadbd", "mysqld"), _binary("mariadb-install-db", "mysql_install_db")
    if mariadbd is None or install_db is None:
        raise MariaDBMissing(INSTALL_HINT)
    tmp = Path(tempfile.mkdtemp(prefix="queue-mariadb-"))
    server: MariaDBServer | None = None
    try:
        _install(install_db, tmp / "data")
        port = _free_port()
        server = MariaDBServer("127.0.0.1", port, USER, PASSWORD, str(tmp / "mysqld.sock"), tmp / "data", mariadbd,
                               _start(mariadbd, tmp, port))
        _wait_ready(server.process, port, tmp / "error.log")  # type: ignore[arg-type]
        _create_user(port)
        yield server
    finally:
        if server is not None and server.process is not None:
            _stop(server.process)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """Start a private MariaDB for the session; skip (fail under CI) when it is not installed."""
    try:
        with running_mariadb() as server:
            yield server
    except MariaDBMissing as exc:
        _skip_or_fail(str(exc))


@pytest.fixture(scope="session")
def mariadb_database(mariadb_server: MariaDBServer) -> str:
    """A database on the session server, migrated once; tests empty its tables instead of re-migrating."""
    return migrated_database(mariadb_server)


def empty_tables(server: MariaDBServer, database: str) -> None:
    """Delete every row of the emptied tables (DELETE is quicker than TRUNCATE on tiny InnoDB tables)."""
    conn = server.connect(database)
    try:
        with conn.cursor() as cur:
            for table in emptied_tables():
                cur.execute(f"DELETE FROM `{table}`")
    finally:
        conn.close()


def use_mariadb(server: MariaDBServer, database: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point this test's process at the emptied MariaDB database; returns the env for subprocesses."""
    return use_sql_server(server, database, empty_tables, monkeypatch)
