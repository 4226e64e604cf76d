"""The import contract of ``docs/architecture.md`` §2, checked on the source, without importing it.

Every module of ``workers``, ``pool_api`` and ``accounting`` is parsed with :mod:`ast`;
its imports become the edges of one graph:

* ``import a.b.c`` imports ``a.b.c``; ``from X import Y`` imports ``X.Y`` where ``X.Y`` is one
  of our modules, else ``X``; relative imports are resolved against the importing package;
* ``importlib.import_module("name")`` and ``__import__("name")`` with a literal name count;
* imports inside functions count (they run, only later); imports under
  ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) do not (they never run).

Each rule of §2 is one test, whose failure names the module and line of every offending
import; :func:`test_checker_reports_every_broken_rule` runs the same checks on a small tree
that breaks each rule, so the contract cannot pass by checking nothing.
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workers", "pool_api", "accounting")

#: Third-party top-level packages ``accounting`` may import (besides the standard library).
ACCOUNTING_THIRD_PARTY = frozenset({"sqlmodel", "sqlalchemy", "psycopg"})
#: The only modules of ``workers`` that may import Ray.
RAY_MODULES = frozenset(
    f"workers.cluster.{name}" for name in ("runtime", "tasks", "dispatch", "scheduler", "backend")
)
#: The only module that may import CuPy.
CUPY_MODULES = frozenset({"workers.gpu.cupy_backend"})
#: Pure math and planning: neither Ray nor CuPy (each entry covers its submodules).
MATH_MODULES = (
    "workers.fields",
    "workers.msm",
    "workers.ntt",
    "workers.codec",
    "workers.params",
    "workers.reference",
    "workers.groth16",
    "workers.cluster.plan",
    "workers.cluster.costs",
    "workers.cluster.verify",
    "workers.cluster.calibration",
)


@dataclass(frozen=True)
class Import:
    """One import statement's effect: ``importer`` (at ``path:line``) imports ``target``."""

    importer: str
    target: str
    path: str
    line: int

    @property
    def top(self) -> str:
        """The top-level package imported (``ray`` for ``ray.util.scheduling_strategies``)."""
        return self.target.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.target}"


@dataclass(frozen=True)
class Graph:
    """Our modules (name → file) and every import they make, ours and foreign."""

    modules: dict[str, Path]
    imports: tuple[Import, ...]

    def internal(self) -> dict[str, set[str]]:
        """Importer → the modules of ours it imports (self-imports dropped)."""
        edges: dict[str, set[str]] = {name: set() for name in self.modules}
        for imp in self.imports:
            if imp.target in self.modules and imp.target != imp.importer:
                edges[imp.importer].add(imp.target)
        return edges


def within(module: str, prefix: str) -> bool:
    """Whether ``module`` is ``prefix`` or one of its submodules."""
    return module == prefix or module.startswith(prefix + ".")


def find_modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every ``*.py`` file under the packages by dotted name (``pkg/__init__`` → ``pkg``)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _running_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` but the bodies of ``if TYPE_CHECKING:`` (``else`` runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _running_nodes(other)
            continue
        yield child
        yield from _running_nodes(child)


def _literal_import(call: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("x")`` / ``__import__("x")``, if literal."""
    func = call.func
    named = (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    if named and call.args and isinstance(call.args[0], ast.Constant):
        value = call.args[0].value
        if isinstance(value, str) and not value.startswith("."):
            return value
    return None


def module_imports(name: str, path: Path, modules: dict[str, Path], root: Path) -> list[Import]:
    """The imports module ``name`` (file ``path``) makes, resolved as the module docstring says."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    shown = str(path.relative_to(root))
    found: list[Import] = []
    for node in _running_nodes(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        elif isinstance(node, ast.Call):
            literal = _literal_import(node)
            targets = [literal] if literal else []
        for target in dict.fromkeys(targets):
            found.append(Import(name, target, shown, node.lineno))
    return found


def build_graph(root: Path, packages: Iterable[str] = PACKAGES) -> Graph:
    """Parse every module of ``packages`` under ``root`` (nothing is imported)."""
    modules = find_modules(root, packages)
    imports: list[Import] = []
    for name, path in modules.items():
        imports.extend(module_imports(name, path, modules, root))
    return Graph(modules, tuple(imports))


# --- the rules: each returns one line per violation, [] when the rule holds ---------------


def accounting_violations(graph: Graph) -> list[str]:
    """``accounting`` imports only itself, the standard library, sqlmodel/sqlalchemy, psycopg."""
    allowed = set(sys.stdlib_module_names) | ACCOUNTING_THIRD_PARTY | {"accounting", "__future__"}
    return [
        f"{imp} (accounting may import only the standard library, "
        f"{', '.join(sorted(ACCOUNTING_THIRD_PARTY))} and itself)"
        for imp in graph.imports
        if within(imp.importer, "accounting") and imp.top not in allowed
    ]


def workers_violations(graph: Graph) -> list[str]:
    """``workers`` imports neither ``pool_api`` nor ``accounting``."""
    return [
        f"{imp} (workers must not import pool_api or accounting)"
        for imp in graph.imports
        if within(imp.importer, "workers") and imp.top in ("pool_api", "accounting")
    ]


def pool_api_ray_violations(graph: Graph) -> list[str]:
    """``pool_api`` never imports Ray: every Ray call goes through ``workers.cluster``."""
    return [
        f"{imp} (pool_api must reach Ray only through workers.cluster)"
        for imp in graph.imports
        if within(imp.importer, "pool_api") and imp.top == "ray"
    ]


def ray_violations(graph: Graph) -> list[str]:
    """Within ``workers`` only the four Ray modules of ``workers.cluster`` import Ray."""
    return [
        f"{imp} (only {', '.join(sorted(RAY_MODULES))} may import ray)"
        for imp in graph.imports
        if within(imp.importer, "workers") and imp.top == "ray" and imp.importer not in RAY_MODULES
    ]


def cupy_violations(graph: Graph) -> list[str]:
    """Only ``workers.gpu.cupy_backend`` imports CuPy (anywhere in our packages)."""
    return [
        f"{imp} (only workers.gpu.cupy_backend may import cupy)"
        for imp in graph.imports
        if imp.top == "cupy" and imp.importer not in CUPY_MODULES
    ]


def math_violations(graph: Graph) -> list[str]:
    """The math and planning modules import neither Ray nor CuPy."""
    return [
        f"{imp} (a math module imports neither ray nor cupy)"
        for imp in graph.imports
        if imp.top in ("ray", "cupy") and any(within(imp.importer, m) for m in MATH_MODULES)
    ]


def _shortest_path(
    edges: dict[str, set[str]], start: str, goal: str, inside: set[str]
) -> list[str]:
    """The shortest path ``start → … → goal`` through ``inside`` (breadth first, sorted order)."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while (step := previous[path[-1]]) is not None:
                path.append(step)
            return path[::-1]
        for nxt in sorted(edges[node] & inside):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return []


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def import_cycles(graph: Graph) -> list[list[str]]:
    """Import circles among our modules, each as ``[a, b, …, a]``.

    For every import edge ``u → v`` inside a strongly connected component, the cycle it
    closes by the shortest way back from ``v`` to ``u``; rotations of one cycle count once.
    Every module and every edge of every circle appears in at least one reported cycle.
    """
    edges = graph.internal()
    cycles: dict[tuple[str, ...], list[str]] = {}
    for component in strongly_connected(edges):
        for u in sorted(component):
            for v in sorted(edges[u] & component):
                back = _shortest_path(edges, v, u, component)
                ring = [u, *back[:-1]]
                start = ring.index(min(ring))
                key = tuple(ring[start:] + ring[:start])
                cycles.setdefault(key, [*key, key[0]])
    return sorted(cycles.values())


def cycle_violations(graph: Graph) -> list[str]:
    """One line per import circle, each import of it with its file and line."""
    where = {(imp.importer, imp.target): f"{imp.path}:{imp.line}" for imp in graph.imports}
    lines = []
    for cycle in import_cycles(graph):
        steps = ", ".join(f"{a} → {b} ({where[(a, b)]})" for a, b in pairwise(cycle))
        lines.append(f"import circle {' → '.join(cycle)}: {steps}")
    return lines


# --- the contract on this repository ------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> Graph:
    """This repository's import graph (a file that does not parse fails here, named)."""
    return build_graph(ROOT)


def _fail_message(rule: str, violations: list[str]) -> str:
    return f"{rule} (docs/architecture.md §2), {len(violations)} violation(s):\n" + "\n".join(
        violations
    )


def test_the_packages_are_parsed(graph: Graph) -> None:
    """The checker sees the packages (an empty graph would pass every rule)."""
    for package in PACKAGES:
        assert package in graph.modules, f"{package}/__init__.py not found under {ROOT}"
    assert len(graph.modules) > 50 and len(graph.imports) > 300


def test_accounting_imports_nothing_of_ours(graph: Graph) -> None:
    violations = accounting_violations(graph)
    assert not violations, _fail_message("accounting imports nothing of ours", violations)


def test_workers_imports_neither_pool_api_nor_accounting(graph: Graph) -> None:
    violations = workers_violations(graph)
    assert not violations, _fail_message("workers imports no pool_api/accounting", violations)


def test_pool_api_never_imports_ray(graph: Graph) -> None:
    violations = pool_api_ray_violations(graph)
    assert not violations, _fail_message("pool_api never imports ray", violations)


def test_only_the_cluster_runtime_modules_import_ray(graph: Graph) -> None:
    violations = ray_violations(graph)
    assert not violations, _fail_message("ray only in workers.cluster's Ray modules", violations)


def test_only_the_cupy_backend_imports_cupy(graph: Graph) -> None:
    violations = cupy_violations(graph)
    assert not violations, _fail_message("cupy only in workers.gpu.cupy_backend", violations)


def test_math_modules_import_neither_ray_nor_cupy(graph: Graph) -> None:
    violations = math_violations(graph)
    assert not violations, _fail_message("math modules without ray or cupy", violations)


def test_no_import_circles(graph: Graph) -> None:
    violations = cycle_violations(graph)
    assert not violations, _fail_message("no import circle between our modules", violations)


# --- the checker on a tree that breaks every rule -------------------------------------------

BROKEN_TREE = {
    "accounting/__init__.py": "from accounting import ledger\n",
    "accounting/ledger.py": "import json\nimport sqlmodel\nimport numpy\n",
    "accounting/models.py": "def f():\n    from pool_api import settings\n",
    "workers/__init__.py": "",
    "workers/params.py": "",
    "workers/api.py": "from accounting.ledger import x\n",
    "workers/msm/__init__.py": "",
    "workers/msm/a.py": "from . import b\nimport cupy\n",
    "workers/msm/b.py": "def f():\n    from .a import g\n",
    "workers/msm/c.py": "from typing import TYPE_CHECKING\n"
    "if TYPE_CHECKING:\n    import ray\n    from workers.msm import a\n"
    "else:\n    from ..params import P\n",
    "workers/cluster/__init__.py": "",
    "workers/cluster/plan.py": "import ray.util\n",
    "workers/cluster/tasks.py": "import ray\nimport workers.cluster.costs\n",
    "workers/cluster/costs.py": "from workers.cluster import tasks\n",
    "workers/gpu/__init__.py": "",
    "workers/gpu/cupy_backend.py": "def f():\n    import cupy\n",
    "workers/gpu/driver.py": "import importlib\nimportlib.import_module('cupy')\n",
    "pool_api/__init__.py": "",
    "pool_api/settings.py": "from ray.util import x\n",
    "pool_api/runner/__init__.py": "",
    "pool_api/runner/loop.py": "from pool_api.runner import groth16\n",
    "pool_api/runner/groth16.py": "def run():\n    from .loop import JobRunner\n",
}


def test_checker_reports_every_broken_rule(tmp_path: Path) -> None:
    for relative, source in BROKEN_TREE.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(source)
    graph = build_graph(tmp_path)

    def offenders(violations: list[str]) -> set[str]:
        return {line.split(": ", 1)[1].split(" (")[0] for line in violations}

    assert offenders(accounting_violations(graph)) == {
        "accounting.ledger imports numpy",
        "accounting.models imports pool_api.settings",
    }
    assert offenders(workers_violations(graph)) == {"workers.api imports accounting.ledger"}
    assert offenders(pool_api_ray_violations(graph)) == {"pool_api.settings imports ray.util"}
    assert offenders(ray_violations(graph)) == {"workers.cluster.plan imports ray.util"}
    assert offenders(cupy_violations(graph)) == {
        "workers.msm.a imports cupy",
        "workers.gpu.driver imports cupy",
    }
    assert offenders(math_violations(graph)) == {
        "workers.msm.a imports cupy",
        "workers.cluster.plan imports ray.util",
    }
    assert import_cycles(graph) == [
        ["pool_api.runner.groth16", "pool_api.runner.loop", "pool_api.runner.groth16"],
        ["workers.cluster.costs", "workers.cluster.tasks", "workers.cluster.costs"],
        ["workers.msm.a", "workers.msm.b", "workers.msm.a"],
    ]
    # Lines are reported: the circle through a function-level relative import.
    assert any("workers/msm/b.py:2" in line for line in cycle_violations(graph))
    # The TYPE_CHECKING block is skipped, its else branch is not.
    c_imports = {imp.target for imp in graph.imports if imp.importer == "workers.msm.c"}
    assert c_imports == {"typing", "workers.params"}


def test_cycles_are_reported_in_order_through_longer_circles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"b"}, "e": {"a"}}
    modules = {name: Path(name) for name in edges}
    imports = tuple(Import(u, v, u, 1) for u, vs in edges.items() for v in vs)
    assert import_cycles(Graph(modules, imports)) == [["a", "b", "c", "a"], ["b", "c", "d", "b"]]
