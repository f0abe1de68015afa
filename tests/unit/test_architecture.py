"""The shape of ``src/taskfleet``: imports point down the layers, no cycles, small modules.

The layer order is written once, in ``LAYERS`` below; ``docs/architecture.md``
explains it. The checker reads the source with ``ast`` and imports nothing, so
every import counts: at the top, inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

PACKAGE = "taskfleet"
SRC = Path(__file__).resolve().parents[2] / "src"
MAX_MODULE_LINES = 400

# Top to bottom. A module may import a lower layer, never a higher one, and never
# a sibling (another name of its own layer). Names are what follows ``taskfleet.``;
# ``taskfleet`` alone is the package's ``__init__``.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "server", "mcp", "__main__"),  # the interfaces
    ("taskfleet", "api"),  # the Python API
    ("service",),
    ("engine",),
    ("input",),
    ("kinds", "store"),
    ("limits", "config"),
    ("model",),
    ("errors",),
)
# The first layers are where calls come in: nothing imports them (an interface
# reaches the library through ``service``, not through the Python API) except
# where one entry point starts another.
ENTRY_LAYERS = 2
LAUNCHES: Mapping[tuple[str, str], str] = {
    ("__main__", "cli"): "`python -m taskfleet` runs the command line",
    ("cli", "server"): "`taskfleet serve` starts the app",
    ("taskfleet", "api"): "the package re-exports the Python API",
}
# Inside one top-level package, the same rules over its parts. In ``store``: the
# package's own entry (``open_store``, which imports the backends lazily) over the
# backends, which never import each other, over what they share.
INNER_LAYERS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "store": (
        ("store",),
        ("store.memory", "store.sqlite", "store.postgres"),
        ("store.common",),
        ("store.base",),
    ),
}


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``importer`` (a module) imports ``imported`` at ``line``."""

    importer: str
    line: int
    imported: str


@dataclass(frozen=True)
class Violation:
    """An import against the layer order, with the message a reader needs to fix it."""

    importer: str
    imported: str
    message: str


def find_modules(src: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``src`` by dotted name; a package by its own name."""
    modules = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known_prefix(name: str, modules: Mapping[str, Path]) -> str | None:
    # `import a.b.c` and `from a.b import c` (c not a module) both depend on the
    # longest part of the dotted name that is a module of the tree.
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _from_base(importer: str, node: ast.ImportFrom, modules: Mapping[str, Path]) -> str:
    if not node.level:
        return node.module or ""
    # A relative import starts from the importer's package (itself, if it is one).
    parts = importer.split(".")
    if modules[importer].name != "__init__.py":
        parts.pop()
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def imports_of(importer: str, modules: Mapping[str, Path]) -> Iterator[Import]:
    """The imports of one module that land inside the tree, resolved to modules."""
    tree = ast.parse(modules[importer].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(importer, node, modules)
            # `from taskfleet.x import y` depends on the module taskfleet.x.y when
            # there is one, else on what taskfleet.x defines.
            names = [base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            imported = _known_prefix(name, modules)
            if imported is not None and imported != importer:
                yield Import(importer, node.lineno, imported)


def import_graph(src: Path, package: str = PACKAGE) -> list[Import]:
    """Every import inside the tree of ``package``, in module order."""
    modules = find_modules(src, package)
    return [found for name in modules for found in imports_of(name, modules)]


def _unit(module: str, names: tuple[str, ...]) -> str | None:
    # The longest name of the order that is the module or one of its packages.
    for name in sorted(names, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return None


def _placed(
    module: str, layers: tuple[tuple[str, ...], ...], owner: str | None = None
) -> tuple[int, str] | None:
    # ``owner``: the package whose inner order ``layers`` is; its own name there
    # stands for its ``__init__`` alone, so a new module of it must be placed.
    unit = _unit(module, tuple(name for layer in layers for name in layer))
    if unit is None or (unit == owner and module != owner):
        return None
    return next(index for index, layer in enumerate(layers) if unit in layer), unit


def _short(module: str, package: str) -> str:
    return package if module == package else module.removeprefix(package + ".")


def _check(
    imp: Import,
    layers: tuple[tuple[str, ...], ...],
    package: str,
    entry_layers: int,
    owner: str | None = None,
) -> Violation | None:
    """The violation of one import against one layer order (``None``: it is allowed)."""
    importer, imported = _short(imp.importer, package), _short(imp.imported, package)
    where = f"{imp.importer}:{imp.line} imports {imp.imported}"
    place_a, place_b = _placed(importer, layers, owner), _placed(imported, layers, owner)
    for module, place in ((importer, place_a), (imported, place_b)):
        if place is None:
            return Violation(imp.importer, imp.imported, f"{where}: {module} is in no layer")
    assert place_a is not None and place_b is not None
    (layer_a, unit_a), (layer_b, unit_b) = place_a, place_b
    if unit_a == unit_b:
        inner = None if owner is not None else INNER_LAYERS.get(unit_a)
        return None if inner is None else _check(imp, inner, package, 0, owner=unit_a)
    if (unit_a, unit_b) in LAUNCHES:
        return None
    if layer_b < entry_layers:
        why = "nothing imports an entry point (an interface or the Python API)"
    elif layer_b < layer_a:
        why = "an upward import"
    elif layer_b == layer_a:
        why = "a sideways import between siblings"
    else:
        return None
    of = f" inside {owner}" if owner else ""
    return Violation(
        imp.importer,
        imp.imported,
        f"{where}: {why}: {unit_a} (layer {layer_a + 1}{of}: {', '.join(layers[layer_a])}) -> "
        f"{unit_b} (layer {layer_b + 1}{of}: {', '.join(layers[layer_b])})",
    )


def layer_violations(imports: list[Import], package: str = PACKAGE) -> list[Violation]:
    """Every import that goes up the layers, sideways between siblings, or into an entry point."""
    found = (_check(imp, LAYERS, package, ENTRY_LAYERS) for imp in imports)
    return [violation for violation in found if violation is not None]


def _strong_components(graph: Mapping[str, set[str]]) -> list[list[str]]:
    # Tarjan's algorithm: the groups of modules that all reach each other.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            components.append(sorted([*component, node]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _cycle_through(start: str, graph: Mapping[str, set[str]], members: set[str]) -> list[str]:
    # Breadth first inside the component: a shortest way from start back to start.
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in no cycle")


def import_cycles(imports: list[Import]) -> list[str]:
    """One line per group of modules that import each other: a cycle, each step with its line."""
    graph: dict[str, set[str]] = {}
    line_of: dict[tuple[str, str], int] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set()).add(imp.imported)
        line_of.setdefault((imp.importer, imp.imported), imp.line)
    reports = []
    for component in _strong_components(graph):
        if len(component) > 1:
            cycle = _cycle_through(component[0], graph, set(component))
            steps = [f"{a}:{line_of[a, b]}" for a, b in pairwise(cycle)]
            reports.append(" -> ".join([*steps, cycle[-1]]))
    return reports


def test_imports_point_down_the_layers() -> None:
    violations = layer_violations(import_graph(SRC))
    assert not violations, "\n".join(violation.message for violation in violations)


def test_no_import_cycles() -> None:
    cycles = import_cycles(import_graph(SRC))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_over_400_lines() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in find_modules(SRC).items()
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split by concept): {too_long}"


def _unplaced(module: str) -> bool:
    place = _placed(module, LAYERS)
    if place is None:
        return True
    inner = INNER_LAYERS.get(place[1])
    return inner is not None and _placed(module, inner, owner=place[1]) is None


def test_every_module_is_in_the_layer_order() -> None:
    unplaced = [name for name in find_modules(SRC) if _unplaced(_short(name, PACKAGE))]
    assert not unplaced, f"add these to LAYERS or INNER_LAYERS: {unplaced}"


def _write_package(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


SYNTHETIC = {
    "taskfleet/__init__.py": "from taskfleet.api import run\n",
    "taskfleet/api.py": "from taskfleet import service\n",
    "taskfleet/service/__init__.py": "from taskfleet.engine import runner\n",
    "taskfleet/engine/__init__.py": "from taskfleet.engine import runner, validation\n",
    "taskfleet/engine/runner.py": "from taskfleet.engine.validation import validate\n",
    "taskfleet/engine/validation.py": """\
        def validate():
            from taskfleet.engine.runner import Runner
        """,
    "taskfleet/model.py": "import taskfleet.engine.runner\n",
    "taskfleet/errors.py": "",
    "taskfleet/kinds/__init__.py": """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from taskfleet.store.base import Store
        """,
    "taskfleet/store/__init__.py": """\
        def open_store():
            from taskfleet.store.sqlite import SqliteStore
        """,
    "taskfleet/store/base.py": "from taskfleet.errors import StoreError\n",
    "taskfleet/store/cache.py": "from taskfleet.store import open_store\n",
    "taskfleet/store/sqlite/__init__.py": "from ..memory import MemoryStore\n",
    "taskfleet/store/memory/__init__.py": "from taskfleet.store.base import Store\n",
    "taskfleet/server/models.py": "from taskfleet.api import make_options\n",
}


def test_checker_reports_upward_sideways_and_entry_point_imports(tmp_path: Path) -> None:
    _write_package(tmp_path, SYNTHETIC)
    violations = layer_violations(import_graph(tmp_path))
    assert {(v.importer, v.imported) for v in violations} == {
        ("taskfleet.model", "taskfleet.engine.runner"),
        ("taskfleet.kinds", "taskfleet.store.base"),
        ("taskfleet.store.sqlite", "taskfleet.store.memory"),
        ("taskfleet.server.models", "taskfleet.api"),
        ("taskfleet.store.cache", "taskfleet.store"),
    }
    upward = next(v for v in violations if v.importer == "taskfleet.model")
    assert upward.message == (
        "taskfleet.model:1 imports taskfleet.engine.runner: an upward import: "
        "model (layer 8: model) -> engine (layer 4: engine)"
    )


def test_checker_reports_cycles_but_not_a_package_reexporting_its_modules(
    tmp_path: Path,
) -> None:
    _write_package(tmp_path, SYNTHETIC)
    assert import_cycles(import_graph(tmp_path)) == [
        "taskfleet.engine.runner:1 -> taskfleet.engine.validation:2 -> taskfleet.engine.runner"
    ]


def test_checker_reports_a_module_importing_its_package_that_imports_it(
    tmp_path: Path,
) -> None:
    _write_package(
        tmp_path,
        {
            "taskfleet/kinds/__init__.py": "from taskfleet.kinds.shell import ShellKind\n",
            "taskfleet/kinds/shell.py": "from taskfleet.kinds import registry\n",
        },
    )
    assert import_cycles(import_graph(tmp_path)) == [
        "taskfleet.kinds:1 -> taskfleet.kinds.shell:1 -> taskfleet.kinds"
    ]
