"""A throwaway PostgreSQL server for the test session: started on a free loopback port, stopped by pid.

`pgsql_server` runs `initdb` into a temp dir and starts `postgres` on it, tuned for tests
(fsync, synchronous_commit and full_page_writes off: a throwaway cluster that is only ever
stopped cleanly or thrown away). PostgreSQL refuses to run as root, so as root both run as
the `postgres` user (or `nobody`), which owns the temp dir. At the end of the session the
server is stopped by pid and the dir deleted. A missing binary skips the tests with an
install hint, except under CI, where it fails.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
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

INSTALL_HINT = "PostgreSQL not installed: apt-get install postgresql"
USER, PASSWORD = "queue", "queue-secret"
START_TIMEOUT = 30.0


def find_binaries() -> tuple[str, str] | None:
    """Locate initdb and postgres: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if initdb and postgres:
        return initdb, postgres
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if os.access(f"{bindir}/initdb", os.X_OK) and os.access(f"{bindir}/postgres", os.X_OK):
            return f"{bindir}/initdb", f"{bindir}/postgres"
    return None


def _run_as() -> str | None:
    """The unprivileged user the server runs as when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """Where the throwaway server listens and how to log in."""

    host: str
    port: int
    user: str
    password: str
    dir: Path
    binary: str = ""
    run_as: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        args = [self.binary, "-D", str(self.dir / "data"), "-p", str(self.port), "-k", str(self.dir),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=64MB",
                "-c", "logging_collector=off", "-c", "log_min_messages=warning"]
        log = open(self.dir / "server.log", "ab")
        try:
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
            self.process = track(subprocess.Popen(args, stdout=log, stderr=log, user=self.run_as, start_new_session=True,
                                                  preexec_fn=die_with_parent(signal.SIGINT)))
        finally:
            log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                break
            try:
                psycopg.connect(host=self.host, port=self.port, user="postgres", dbname="postgres", connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.05)
        tail = (self.dir / "server.log").read_text(errors="replace")[-2000:] if (self.dir / "server.log").exists() else ""
        raise RuntimeError(f"postgres did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        """SIGINT the postmaster (fast shutdown: clients are disconnected), SIGKILL it if it hangs."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        """Stop the server and start it again on the same port and data (clients lose their connections)."""
        self.stop()
        self.start()

    def connect(self, database: str = "postgres", **kwargs: Any) -> Any:
        import psycopg

        kwargs.setdefault("autocommit", True)
        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=database, **kwargs)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}:{quote_plus(self.password)}@{self.host}:{self.port}/{database}"

    def env(self, database: str) -> dict[str, str]:
        """DB_* settings that point the app (and worker subprocesses) at `database`."""
        return {"DB_CONNECTION": "pgsql", "DB_HOST": self.host, "DB_PORT": str(self.port),
                "DB_DATABASE": database, "DB_USERNAME": self.user, "DB_PASSWORD": self.password}

    def create_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')


class PostgresMissing(RuntimeError):
    """initdb or postgres is not on this machine."""


def _initdb(initdb: str, tmp: Path, run_as: str | None) -> None:
    args = [initdb, "-D", str(tmp / "data"), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C",
            "--no-sync", "--no-instructions"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, user=run_as)
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed ({done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")
    # Password logins over TCP for the app's user, so a wrong password is refused like in production.
    (tmp / "data" / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n")


def _create_user(server: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(host=server.host, port=server.port, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Initialise, start and finally stop and delete a private PostgreSQL (also used by the benchmarks)."""
    found = find_binaries()
    if found is None:
        raise PostgresMissing(INSTALL_HINT)
    initdb, postgres = found
    run_as = _run_as()
    tmp = Path(tempfile.mkdtemp(prefix="queue-pgsql-"))
    server: PostgresServer | None = None
    try:
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(tmp, entry.pw_uid, entry.pw_gid)
        _initdb(initdb, tmp, run_as)
        server = PostgresServer("127.0.0.1", _free_port(), USER, PASSWORD, tmp, postgres, run_as)
        server.start()
        _create_user(server)
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _skip_or_fail(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pgsql_server() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL for the session; skip (fail under CI) when it is not installed."""
    try:
        with running_postgres() as server:
            yield server
    except PostgresMissing as exc:
        _skip_or_fail(str(exc))


@pytest.fixture(scope="session")
def pgsql_database(pgsql_server: PostgresServer) -> str:
    """A database on the session server, migrated once; tests empty its tables instead of re-migrating."""
    return migrated_database(pgsql_server)


def empty_tables(server: PostgresServer, database: str) -> None:
    """Delete every row of the emptied tables (DELETE is quicker than TRUNCATE on tiny tables)."""
    with server.connect(database) as conn:
        for table in emptied_tables():
            conn.execute(f'DELETE FROM "{table}"')


def use_pgsql(server: PostgresServer, database: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point this test's process at the emptied PostgreSQL database; returns the env for subprocesses."""
    return use_sql_server(server, database, empty_tables, monkeypatch)
