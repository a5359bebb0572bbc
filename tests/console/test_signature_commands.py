"""Custom commands the Laravel way: `signature` + `handle()` in routes/console.py, beside cleo's name/options form."""
from __future__ import annotations

import sys

import pytest
from cleo.testers.application_tester import ApplicationTester

from app.Console import kernel
from app.Console.Command import Command
from app.Console.Signature import parse_signature
from app.Queue.errors import ConfigurationError
from tests.fixtures import seed004_routes
from tests.fixtures.jobs import NoopJob


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> ApplicationTester:
    """artisan with the seed-style module standing in for routes/console.py."""
    monkeypatch.setitem(sys.modules, "routes.console", seed004_routes)
    application = kernel.application()
    application.auto_exits(False)
    return ApplicationTester(application)


def test_seed_004_example_runs(app: ApplicationTester):
    NoopJob().dispatch()
    assert app.execute("queue:stats-seed") == 0
    assert app.io.fetch_output().splitlines() == ["Queue: default", "Pending: 1", "Processing: 0", "Failed: 0"]


def test_arguments_options_shortcuts_and_arrays(app: ApplicationTester):
    assert app.execute("report:send alice bob carol -Q mail --force --tag=a --tag=b") == 0
    assert app.io.fetch_output().strip() == "user=alice cc=bob,carol queue=mail force=True tags=a,b"
    assert app.execute("report:send zoe") == 0
    assert app.io.fetch_output().strip() == "user=zoe cc= queue=default force=False tags="


def test_handle_gets_one_line_errors(app: ApplicationTester):
    assert app.execute("report:send bad") == 1
    assert app.io.fetch_error().strip() == "no such user: bad"


def test_help_shows_descriptions(app: ApplicationTester):
    app.execute("help report:send")
    text = app.io.fetch_output()
    assert "Who gets it" in text and "Where" in text and "--force" in text


def test_cleo_name_and_options_form_still_works(monkeypatch: pytest.MonkeyPatch):
    import routes.console as real

    application = kernel.application()
    assert application.has("inspire") and application.find("inspire") is not None
    assert real.InspireCommand.name == "inspire"


def test_signature_grammar():
    name, arguments, options = parse_signature("mail:send {user} {when=now} {--queue=} {--id=*} {--force}")
    assert name == "mail:send"
    assert [(a.name, a.is_required(), a.default) for a in arguments] == [("user", True, None), ("when", False, "now")]
    assert [(o.name, o.is_flag(), o.is_list(), o.default) for o in options] == [
        ("queue", False, False, None), ("id", False, True, []), ("force", True, False, False)]


@pytest.mark.parametrize("bad", ["{user}", "mail:send {user", "mail:send {9x}", "mail:send stray {user}"])
def test_bad_signature_is_one_clear_error(bad: str):
    with pytest.raises(ConfigurationError, match="signature"):
        type("Bad", (Command,), {"signature": bad})


def test_bad_signature_in_routes_is_one_line_from_artisan(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys):
    (tmp_path / "routes_bad.py").write_text(
        "from app.Console.Command import Command\n"
        "class Broken(Command):\n    signature = '{oops}'\n    def handle(self):\n        return 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "routes.console", raising=False)
    real_import = kernel.importlib.import_module
    monkeypatch.setattr(kernel.importlib, "import_module",
                        lambda name, *a: real_import("routes_bad") if name == "routes.console" else real_import(name, *a))
    monkeypatch.setattr(sys, "argv", ["artisan", "list"])
    assert kernel.main() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "signature" in err[0]
