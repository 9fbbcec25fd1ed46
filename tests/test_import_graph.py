"""Which module imports which in core/ and tui/: no cycles, and core never reaches the app.

Read from the source with ``ast``, every import counted: at the top, under TYPE_CHECKING and
inside functions alike, since each is a dependency a reader has to keep in mind.
``python -m tests.test_import_graph`` prints the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"mlp_tui.core": ROOT / "core", "mlp_tui.tui": ROOT / "tui"}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that ``name`` imports (a package's ``__init__`` included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)  # a submodule
    return {t for t in targets if t in known and t != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_checker_finds_a_cycle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_relative_imports_and_the_package_inits():
    edges = graph()
    assert "mlp_tui.core.config" in edges["mlp_tui.core.trainer"]
    assert "mlp_tui.core.trainer" in edges["mlp_tui.core.cli"]  # imported inside a function
    assert "mlp_tui.core" in edges["mlp_tui.core.checkpoint"]  # ``from . import __version__``


def test_no_module_imports_itself_through_others():
    assert cycles(graph()) == []


def test_the_engine_never_imports_the_app():
    for name, targets in graph().items():
        if name.startswith("mlp_tui.core"):
            assert not [t for t in targets if t.startswith("mlp_tui.tui")], name


if __name__ == "__main__":
    for name, targets in graph().items():
        short = sorted(t.removeprefix("mlp_tui.") for t in targets)
        print(f"{name.removeprefix('mlp_tui.')}: {', '.join(short) or '-'}")
