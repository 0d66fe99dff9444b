"""The shape of the code: no import cycles, dependencies that point one way, the harness kept apart,
and a top level of only the shared basics. Read from the source (the AST), not by importing it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "companion"

LAYERS: dict[str, int] = {
    # the shared basics: they import nothing above them
    "events": 0, "errors": 0, "paths": 0, "textnorm": 0, "native_libs": 0, "config": 0, "terminal": 0,
    # kinds of I/O, and the pure understanding of a person's words
    "audio": 1, "speech": 1, "voice": 1, "store": 1, "understand": 1,
    # the pieces of a spoken exchange every capability uses
    "conversation": 2,
    # the capabilities a person uses
    "reflect": 3, "notice": 3, "review": 3, "practice": 3,
    # the ways in: commands, the hands-free listener, the checks of everything
    "doctor": 4, "listen": 4, "assistants": 4, "cli": 5, "__main__": 6, "__init__": 0,
}  # fmt: skip
"""Each top-level module or folder of companion/ and its layer: a module may import its own layer
or a lower one, never a higher one."""
HARNESS = "harness"
MAX_TOP_LEVEL = 10
MAX_LINES = 420  # "about 400"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (companion.store.database ...)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that `path` imports anywhere in it (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:  # `from companion.store import Store` -> companion.store
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(path, name, known) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def room(module: str) -> str:
    """The top-level module or folder a module lives in."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_there_are_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_dependencies_point_one_way():
    wrong = []
    for module, targets in graph().items():
        if room(module) == HARNESS:
            continue
        for target in targets:
            if room(target) == HARNESS:
                wrong.append(f"{module} imports the test harness {target}")
            elif room(module) not in LAYERS or room(target) not in LAYERS:
                wrong.append(f"{module} or {target} has no layer in tests/test_layout.py")
            elif LAYERS[room(target)] > LAYERS[room(module)]:
                wrong.append(f"{module} (layer {LAYERS[room(module)]}) imports {target} (layer {LAYERS[room(target)]})")
    assert wrong == []


def test_the_top_level_holds_only_the_shared_basics():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top


def test_no_module_is_much_longer_than_a_reader_can_hold():
    long = []
    for name, path in modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        docstring = ast.get_docstring(ast.parse("\n".join(lines))) or ""
        if len(lines) > MAX_LINES and "longer than" not in docstring:  # a long module says why
            long.append(f"{name}: {len(lines)} lines")
    assert long == []


def test_the_code_speaks_of_the_product_not_of_its_history():
    import re

    pattern = re.compile(r"\bissues? #?\d+\b", re.IGNORECASE)
    roots = [PACKAGE, PACKAGE.parent / "scripts", PACKAGE.parent / "tests", PACKAGE.parent / "docs"]
    found = [f"{path}: {m.group(0)}" for root in roots for path in sorted(root.rglob("*"))
             if path.suffix in (".py", ".md", ".toml", ".sh") and path.is_file()
             for m in pattern.finditer(path.read_text(encoding="utf-8"))
             if path.name != "test_layout.py"]
    assert found == []


def _optional(error: ImportError) -> bool:
    """The import needs a package outside Companion: an extra that is not installed (wyoming, say)."""
    return isinstance(error, ModuleNotFoundError) and not (error.name or "companion").startswith("companion")


def test_every_name_imported_from_the_package_exists():
    """Imports inside functions run only when called: check each one names something real."""
    import importlib

    missing = []
    roots = [PACKAGE, PACKAGE.parent / "scripts", PACKAGE.parent / "tests"]
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("companion"):
                try:
                    module = importlib.import_module(node.module)
                except ModuleNotFoundError as e:
                    if _optional(e):
                        continue
                    raise
                for alias in node.names:
                    if not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError as e:
                            if not _optional(e):
                                missing.append(f"{path.name}: from {node.module} import {alias.name}")
    assert missing == []
