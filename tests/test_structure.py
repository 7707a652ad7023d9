"""The layering of CONTRIBUTING.md and docs/style.md, read from the sources: no import cycles; each package
imports only the layers below it (mapper < hwgen < sim < sws); mapper's subpackages are layered too
(common < config < sources < sectioning < plan < schedule < prepare < analog < cost), `mapper.common` imports no other
project module and every layer may import it; outside mapper, the mapper is used through its public API
(`mapper` or `mapper.<subpackage>`), never through a module of a subpackage; a command module never
imports another command module; no mapper module is longer than 400 lines; importing the CLI or a layer
imports no heavy library."""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("mapper", "hwgen", "sim", "sws")
#: What each package may import from the project (besides itself).
ALLOWED = {"mapper": set(), "hwgen": {"mapper"}, "sim": {"mapper", "hwgen"}, "sws": {"mapper", "hwgen", "sim"}}
#: mapper's subpackages, lowest first: each may import only those before it.
MAPPER_LAYERS = ("common", "config", "sources", "sectioning", "plan", "schedule", "prepare", "analog", "cost")
MAX_MAPPER_LINES = 400


def _modules(packages=PACKAGES) -> dict[str, str]:
    out = {}
    for pkg in packages:
        for folder, _, files in os.walk(os.path.join(ROOT, pkg)):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(folder, f), ROOT)[:-3].replace(os.sep, ".")
                    out[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(folder, f)
    return out


MODULES = _modules()


def _is_type_checking(node) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _import_nodes(tree):
    """Import statements anywhere in the module (inside functions too), except under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: str, modules, *, exact: bool = False) -> set[str]:
    """Project modules that `name` imports anywhere in its source. `exact`: the module paths as written
    (a name imported from a package stays the package), else resolved to the deepest known module."""
    tree = ast.parse(open(path).read(), path)
    is_pkg = path.endswith("__init__.py")
    found = set()
    for node in _import_nodes(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parent = parts if is_pkg else parts[:-1]
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            targets = [base] if exact else [base] + [f"{base}.{a.name}" for a in node.names]
            if exact and not node.module:   # from . import module
                targets = [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in modules and not exact:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


GRAPH = {name: _imports(name, path, MODULES) for name, path in MODULES.items()}


def _mapper_layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "mapper" and len(parts) > 1 and parts[1] in MAPPER_LAYERS else None


def test_the_import_graph_is_read_from_the_sources():
    # The checks below see what they must: a known edge of each kind.
    assert "mapper.config" in GRAPH["mapper.sectioning.mapping"]
    assert "mapper.plan" in GRAPH["hwgen.params"]
    assert "sim.check" in GRAPH["sws.commands.sim"]
    assert "mapper.common" in GRAPH["mapper.config.hardware"]
    # and an import under `if TYPE_CHECKING:` is no edge
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mapper import x\nimport sim\n")
    assert [type(n).__name__ for n in _import_nodes(tree)] == ["Import", "ImportFrom"]


def test_there_is_no_import_cycle():
    # Package __init__ files re-export their modules: an edge into a package's own __init__ is no cycle.
    def own_init(m, t):
        return t in MODULES and MODULES[t].endswith("__init__.py") and m.startswith(t + ".")
    graph = {m: {t for t in deps if not own_init(m, t)} for m, deps in GRAPH.items()}
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


def test_mapper_subpackages_import_only_the_layers_below_them():
    bad = []
    for m, deps in GRAPH.items():
        mine = _mapper_layer(m)
        if mine is None:
            continue
        allowed = set(MAPPER_LAYERS[:MAPPER_LAYERS.index(mine) + 1])
        bad += [f"{m} imports {t}" for t in deps if t.split(".")[0] in PACKAGES and t != "mapper"
                and (t.split(".")[0] != "mapper" or _mapper_layer(t) not in allowed)]
    assert not bad, sorted(bad)


def test_mapper_common_imports_no_other_project_module():
    bad = sorted(f"{m} imports {t}" for m, deps in GRAPH.items() if _mapper_layer(m) == "common"
                 for t in deps if not t.startswith("mapper.common"))
    assert not bad, bad


def test_outside_mapper_the_mapper_is_used_through_its_public_api():
    outside = {**{m: p for m, p in MODULES.items() if not m.startswith("mapper")},
               **_modules(("benchmarks",))}
    known = {**MODULES, **{m: p for m, p in _modules(("benchmarks",)).items()}}
    bad = sorted(f"{m} imports {t}" for m, p in outside.items() for t in _imports(m, p, known, exact=True)
                 if t.startswith("mapper.") and t.count(".") > 1)
    assert not bad, bad


def test_a_command_module_never_imports_another_command_module():
    commands = {m for m in GRAPH if m.startswith("sws.commands.") and m != "sws.commands.common"}
    bad = sorted(f"{m} imports {t}" for m in commands for t in GRAPH[m] if t in commands)
    assert not bad, bad


def test_no_mapper_module_is_longer_than_the_limit():
    long = sorted(f"{m}: {n} lines" for m, p in MODULES.items() if m.startswith("mapper")
                  for n in [sum(1 for _ in open(p))] if n > MAX_MAPPER_LINES)
    assert not long, long


def test_configuration_fields_are_read_through_their_part():
    from mapper import ArrayConfig
    cfg = ArrayConfig(rows=64)
    assert cfg.hw.rows == 64 and cfg.mapping.ordering == "sorted" and cfg.energy.law == "isaac"
    assert not hasattr(ArrayConfig, "__getattr__")
    with pytest.raises(AttributeError):
        cfg.rows


#: Libraries that take a noticeable time to import (onnx about a second, through its ml_dtypes; jax, torch,
#: matplotlib, dask, hypothesis, Amaranth), each imported where it is used: a command that does not need
#: one (`sws --help`, `sws map` of an .npy) does not wait for it.
HEAVY = ("onnx", "onnxruntime", "jax", "torch", "aihwkit", "matplotlib", "dask", "hypothesis", "amaranth",
         "safetensors", "cocotb")


def test_the_cli_and_every_layer_import_no_heavy_library():
    import subprocess
    import sys
    probe = ("import sys, sws.cli, mapper, hwgen, sim\n"
             f"print(' '.join(h for h in {HEAVY!r} if h in sys.modules))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [], f"imported at start: {out.stdout.strip()}"
