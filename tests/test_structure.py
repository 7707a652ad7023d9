"""The layering of docs/design.md and STYLE: no import cycles, and each package imports only the layers
below it (mapper < hwgen < sim < sws); a command module never imports another command module."""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("mapper", "hwgen", "sim", "sws")
#: What each package may import from the project (besides itself).
ALLOWED = {"mapper": set(), "hwgen": {"mapper"}, "sim": {"mapper", "hwgen"}, "sws": {"mapper", "hwgen", "sim"}}


def _modules() -> dict[str, str]:
    out = {}
    for pkg in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, pkg)):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(folder, f), ROOT)[:-3].replace(os.sep, ".")
                    out[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(folder, f)
    return out


def _imports(name: str, path: str, modules) -> set[str]:
    """Project modules that `name` imports anywhere in its source (also inside functions)."""
    tree = ast.parse(open(path).read(), path)
    is_pkg = path.endswith("__init__.py")
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parent = parts if is_pkg else parts[:-1]
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def test_the_import_graph_is_read_from_the_sources():
    # The check below sees what it must: a known edge of each kind.
    assert "mapper.config" in GRAPH["mapper.mapping"]
    assert "mapper.plan" in GRAPH["hwgen.params"]
    assert "sim.check" in GRAPH["sws.commands.sim"]


def test_there_is_no_import_cycle():
    # Package __init__ files re-export their modules: an edge into a package's own __init__ is no cycle.
    graph = {m: {t for t in deps if not (t in PACKAGES and m.startswith(t + "."))} for m, deps in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(pkg):
    bad = sorted(f"{m} imports {t}" for m, deps in GRAPH.items() if m.split(".")[0] == pkg
                 for t in deps if t.split(".")[0] not in ALLOWED[pkg] | {pkg})
    assert not bad, bad


def test_a_command_module_never_imports_another_command_module():
    commands = {m for m in GRAPH if m.startswith("sws.commands.") and m != "sws.commands.common"}
    bad = sorted(f"{m} imports {t}" for m in commands for t in GRAPH[m] if t in commands)
    assert not bad, bad
