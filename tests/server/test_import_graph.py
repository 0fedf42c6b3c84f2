"""The import graph of ``authserver`` has no cycles (issue 13): a function-level import, a ``TYPE_CHECKING``
import or an injected callable that exists only to dodge a cycle means the layering is wrong.

The graph is read from the source (an AST walk), so imports inside functions and under ``TYPE_CHECKING``
count like any other. ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg``; relative imports are resolved. A package's ``__init__`` that Python runs on the way to a submodule
is no edge: it runs first and completes before the submodule, so only a name taken from it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import authserver

PACKAGE = Path(authserver.__file__).resolve().parent


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module under ``root``, by its dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its source.

    Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` on the way: those count too, except the
    importer's own packages, which Python has finished starting (or is running) before the importer runs.
    """
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, path.name == "__init__.py", node.level, node.module)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.add(candidate if candidate in known else base)
    parts = name.split(".")
    own_packages = {".".join(parts[:i]) for i in range(1, len(parts) + (path.name == "__init__.py"))}
    edges = {target for target in targets if target in known}
    for target in targets:
        steps = target.split(".")
        edges.update(".".join(steps[:i]) for i in range(1, len(steps)))
    return {edge for edge in edges if edge in known and edge != name and (edge in targets or edge not in own_packages)}


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    found = modules(root)
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return "  " + ", ".join(component) + "\n    " + "\n    ".join(edges)


def test_the_authserver_package_has_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles (each a set of modules importing one another):\n" + "\n".join(
        _describe(c, graph) for c in found
    )


def test_the_graph_sees_function_level_relative_and_from_package_imports(tmp_path):
    """The walk itself: an import inside a function, a relative import and ``from pkg import module``
    each make an edge, so a cycle hidden behind any of them is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("def make():\n    from pkg.d import made\n")
    (pkg / "sub" / "__init__.py").write_text("from pkg.e import y\n")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import c\n")
    (pkg / "c.py").write_text("from .a import x\n")
    (pkg / "d.py").write_text("from pkg import make\n")
    (pkg / "e.py").write_text("import pkg.sub.b\n")
    graph = import_graph(pkg)
    assert graph == {
        "pkg": {"pkg.d"},
        "pkg.sub": {"pkg.e"},
        "pkg.a": {"pkg.sub", "pkg.sub.b"},
        "pkg.sub.b": {"pkg.c"},
        "pkg.c": {"pkg.a"},
        "pkg.d": {"pkg"},
        "pkg.e": {"pkg.sub", "pkg.sub.b"},
    }
    # e imports sub.b, which runs sub/__init__, which imports e: a cycle through a package's __init__.
    assert cycles(graph) == [["pkg", "pkg.d"], ["pkg.a", "pkg.c", "pkg.e", "pkg.sub", "pkg.sub.b"]]
