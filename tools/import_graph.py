"""Measure the project's import graph: cycles among module-level imports and function-local imports.

Why: issue 11 asks for no import circle of more than two files between the packages and no
function-local import of a project module except a deliberate lazy load of an optional
dependency. This module reads the source with `ast` (nothing is imported or executed) so it
can run in a test and from the command line: `python -m tools.import_graph`.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app",)


# A function-local import kept on purpose carries this marker in a comment on its line or the
# line above, followed by the reason: an optional dependency loaded lazily (SQLAlchemy kept out of
# an idle Redis worker), or the composition root that imports every feature.
LAZY_MARKER = "lazy:"


@dataclass(frozen=True, slots=True)
class LocalImport:
    """One import of a project module made inside a function body."""

    module: str
    line: int
    target: str
    deliberate: bool = False


def module_name(path: Path, root: Path = ROOT) -> str:
    """Return the dotted module name of a source file under the root."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path = ROOT) -> dict[str, Path]:
    """Map every project module name to its file."""
    files: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            files[module_name(path, root)] = path
    return files


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """Return the project module an imported name lives in (the longest known prefix)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(node: ast.Import | ast.ImportFrom, current: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    """Return the project modules one import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = current.split(".")
            if not is_package:
                anchor = anchor[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        # `from pkg import mod` loads pkg.mod when it is a module, else a name from pkg.
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = {_resolve(name, modules) for name in names}
    return sorted(target for target in found if target and target != current)


def _is_type_checking(test: ast.expr) -> bool:
    """Tell whether an `if` tests TYPE_CHECKING (imports there never run)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _marked(lines: list[str], lineno: int) -> bool:
    """Tell whether the import at `lineno` (1-based) is marked lazy: on its line, or above its group of imports."""
    if lineno <= len(lines) and "#" in lines[lineno - 1] and LAZY_MARKER in lines[lineno - 1].split("#", 1)[1]:
        return True
    index = lineno - 2
    # the comment block right above, read through the imports of the same group
    while index >= 0 and lines[index].lstrip().startswith(("#", "from ", "import ")):
        line = lines[index]
        if "#" in line and LAZY_MARKER in line.split("#", 1)[1]:
            return True
        index -= 1
    return False


def _walk(module: str, tree: ast.Module, is_package: bool, modules: dict[str, Path],
          lines: list[str] | None = None) -> tuple[set[str], list[LocalImport]]:
    """Split a module's imports into the module-level edges and the function-local ones."""
    edges: set[str] = set()
    local: list[LocalImport] = []
    lines = lines or []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(ast.Module(body=[other], type_ignores=[]), in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in _targets(child, module, is_package, modules):
                    if in_function:
                        local.append(LocalImport(module, child.lineno, target, _marked(lines, child.lineno)))
                    else:
                        edges.add(target)
                continue
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, nested)

    visit(tree, False)
    return edges, local


def import_graph(root: Path = ROOT) -> tuple[dict[str, set[str]], list[LocalImport]]:
    """Return the module-level import edges of every project module and its function-local imports."""
    modules = source_files(root)
    graph: dict[str, set[str]] = {}
    local: list[LocalImport] = []
    for name, path in modules.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, str(path))
        edges, found = _walk(name, tree, path.name == "__init__.py", modules, text.splitlines())
        # Importing a.b.c runs a/__init__ and a/b/__init__ first: those are edges too, except
        # the packages the importer sits in (they are already loading: a package __init__ that
        # re-exports its own submodules is not a circle).
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        for target in list(edges):
            parts = target.split(".")
            edges.update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules)
        edges -= own
        graph[name] = edges
        local.extend(found)
    return graph, local


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components, key=len, reverse=True)


def with_local(graph: dict[str, set[str]], local: list[LocalImport]) -> dict[str, set[str]]:
    """Return the graph with the unmarked function-local imports added as edges (the circle they hide)."""
    full = {name: set(edges) for name, edges in graph.items()}
    for item in local:
        if not item.deliberate:
            full[item.module].add(item.target)
    return full


def statements(local: list[LocalImport], deliberate: bool) -> set[tuple[str, int]]:
    """The (module, line) of each function-local import statement, marked ones or unmarked ones."""
    return {(item.module, item.line) for item in local if item.deliberate == deliberate}


def main() -> int:
    """Print the cycles and the function-local project imports; exit 0."""
    graph, local = import_graph()
    cycles = strongly_connected(graph)
    hidden = strongly_connected(with_local(graph, local))
    print(f"with function-local imports counted: largest cycle {len(hidden[0]) if hidden else 0} modules")
    if "-v" in sys.argv:
        for cycle in hidden:
            print("  hidden cycle:", " ".join(cycle))
    print(f"modules: {len(graph)}  edges: {sum(map(len, graph.values()))}")
    print(f"largest import cycle: {len(cycles[0]) if cycles else 0} modules; cycles: {[len(c) for c in cycles]}")
    for cycle in cycles:
        print("  cycle:", " ".join(cycle))
    print(f"function-local project imports: {len(statements(local, False))} statements unmarked, "
          f"{len(statements(local, True))} marked '# {LAZY_MARKER} <why>'")
    if "-v" in sys.argv:
        for item in local:
            print(f"  {item.module}:{item.line} -> {item.target}{'  (marked lazy)' if item.deliberate else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
