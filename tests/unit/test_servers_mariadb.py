"""The MariaDB test server helper: a missing binary skips with an install hint, and fails under CI."""
from __future__ import annotations

import pytest

from tests import servers_mariadb


def test_missing_mariadb_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(servers_mariadb, "_binary", lambda *names: None)
    with pytest.raises(servers_mariadb.MariaDBMissing, match="apt-get install mariadb-server"):
        with servers_mariadb.running_mariadb():
            pass


def test_missing_server_skips_locally_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="mariadb-server not installed"):
        servers_mariadb._skip_or_fail(servers_mariadb.INSTALL_HINT)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="mariadb-server not installed"):
        servers_mariadb._skip_or_fail(servers_mariadb.INSTALL_HINT)
