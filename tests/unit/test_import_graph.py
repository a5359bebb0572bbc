"""The import graph of app/: no circle of more than two modules, and no function-local import of a
project module unless it is a deliberate lazy load, marked `# lazy: <why>` at the import.

Function-local imports hide circles from the module-level measure, so the circle they would close
(unmarked and marked alike) is measured too.
"""
from __future__ import annotations

from pathlib import Path

from tools.import_graph import import_graph, statements, strongly_connected, with_local

# A function-local import of a project module must say why it is lazy (`# lazy: ...` at the import).
LOCAL_IMPORT_CEILING = 0
# No circle even when the function-local imports are counted.
HIDDEN_CYCLE_CEILING = 2


def _plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_app_has_no_import_cycle_of_more_than_two_modules() -> None:
    graph, _ = import_graph()
    cycles = [cycle for cycle in strongly_connected(graph) if len(cycle) > 2]
    assert cycles == [], f"import cycles among module-level imports: {cycles}"


def test_every_function_local_project_import_is_a_marked_lazy_load() -> None:
    _, local = import_graph()
    unmarked = statements(local, deliberate=False)
    assert len(unmarked) <= LOCAL_IMPORT_CEILING, sorted(unmarked)


def test_no_circle_hides_behind_function_local_imports() -> None:
    graph, local = import_graph()
    hidden = strongly_connected(with_local(graph, local))
    assert max((len(cycle) for cycle in hidden), default=0) <= HIDDEN_CYCLE_CEILING, hidden


def test_a_planted_three_module_cycle_is_found(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "app/__init__.py": "",
        "app/a.py": "from app.b import x\n",
        "app/b.py": "from app import c\nx = 1\n",
        "app/c.py": "import app.a\n",
        "app/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.a import x\n",
        "app/e.py": "def f():\n    from app.d import y\n",
        "app/f.py": "def f():\n    # lazy: an optional dependency\n    from app.e import f\n",
    })
    graph, local = import_graph(tmp_path)
    assert strongly_connected(graph) == [["app.a", "app.b", "app.c"]]
    assert "app.a" not in graph["app.d"]  # TYPE_CHECKING imports never run
    assert [(item.module, item.target, item.deliberate) for item in local] == [("app.e", "app.d", False),
                                                                                ("app.f", "app.e", True)]


def test_a_circle_closed_by_an_unmarked_local_import_is_measured(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "app/__init__.py": "",
        "app/a.py": "import app.b\n",
        "app/b.py": "import app.c\n",
        "app/c.py": "def f():\n    import app.a\n",
        "app/d.py": "import app.e\n",
        "app/e.py": "def f():\n    import app.d  # lazy: the composition root\n",
    })
    graph, local = import_graph(tmp_path)
    assert strongly_connected(graph) == []
    assert strongly_connected(with_local(graph, local)) == [["app.a", "app.b", "app.c"]]


def test_a_package_reexporting_its_submodules_is_not_a_cycle(tmp_path: Path) -> None:
    _plant(tmp_path, {
        "app/__init__.py": "",
        "app/pkg/__init__.py": "from app.pkg.one import One\n",
        "app/pkg/one.py": "from app.pkg.two import Two\nclass One: ...\n",
        "app/pkg/two.py": "class Two: ...\n",
        "app/user.py": "from app.pkg.one import One\n",
    })
    graph, _ = import_graph(tmp_path)
    assert strongly_connected(graph) == []
    assert "app.pkg" in graph["app.user"]  # importing a submodule runs its package first
