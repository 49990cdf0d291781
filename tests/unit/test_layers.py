"""The walls of the design (docs/architecture.md), checked on the source, with no exemptions:

- `checkin.cli` is the composition root and may import anything;
- the gateway and the consumers never import each other, and nothing else imports either;
- nothing in the product imports `loadtest` or `tests`, and `loadtest` does not import `tests`;
- the pure packages reach no I/O library, even through another module;
- no import cycles among the product's modules.

Imports are read with `ast` at any depth of a file (functions and TYPE_CHECKING blocks included),
relative imports are resolved, and `importlib.import_module("...")` / `find_spec("...")` strings count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = ("aiohttp", "asyncpg", "redis", "websockets", "hiredis")
# Domain rules and formats: they take data and return data. A package name covers all its modules.
PURE = ("checkin.vocabulary", "checkin.scan.rules", "checkin.cards.format", "checkin.cards.fit", "checkin.hours", "checkin.roster.csv",
        "checkin.roster.assign_csv",
        "checkin.events.plan", "checkin.events.plan_edit", "checkin.events.notes", "checkin.live.view", "checkin.live.snapshot",
        "checkin.live.day_counts", "checkin.access.signin_rules", "checkin.gateway.api_error", "checkin.gateway.decoding",
        "checkin.gateway.scan_request")
_DYNAMIC = {"import_module", "find_spec", "__import__"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every module name a file imports, as written (a name may end in an attribute)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                head = ".".join(parts[: len(parts) - node.level + 1])
                base = ".".join(p for p in (head, node.module or "") if p)
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _DYNAMIC and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


SOURCES = {_module_name(p): p for top in ("checkin", "loadtest", "tests") for p in (ROOT / top).rglob("*.py")}
IMPORTS = {name: _imports(path, name) for name, path in SOURCES.items()}


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _resolve(name: str) -> str | None:
    """The project module an imported name is (or is an attribute of); None for other libraries."""
    while name and name not in SOURCES:
        name = name.rpartition(".")[0]
    return name or None


PRODUCT = sorted(name for name in SOURCES if _inside(name, "checkin"))
GRAPH = {m: {r for i in IMPORTS[m] if (r := _resolve(i)) and r != m and not _inside(m, r)} for m in PRODUCT}


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_each_part_imports_only_what_its_layer_may(module: str) -> None:
    imports = IMPORTS[module]
    if _inside(module, "tests"):
        return  # tests may import everything
    assert not any(_inside(i, "tests") for i in imports), f"{module} imports the tests"
    if _inside(module, "loadtest") or _inside(module, "checkin.cli"):
        return
    assert not any(_inside(i, "loadtest") for i in imports), f"{module} imports the load test"
    if not _inside(module, "checkin.gateway"):
        assert not any(_inside(i, "checkin.gateway") for i in imports), f"{module} imports the gateway"
    if not _inside(module, "checkin.consumers"):
        assert not any(_inside(i, "checkin.consumers") for i in imports), f"{module} imports the consumers"


def _pure_modules() -> list[str]:
    found = [m for m in PRODUCT if any(_inside(m, p) for p in PURE)]
    assert {p for p in PURE if any(_inside(m, p) for m in found)} == set(PURE), "a pure package was renamed"
    return found


@pytest.mark.parametrize("module", _pure_modules())
def test_pure_modules_reach_no_io_library(module: str) -> None:
    seen, todo = set(), [module]
    while todo:  # follow the product's own imports transitively
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in IMPORTS[name]:
            assert not any(_inside(imported, lib) for lib in IO_LIBRARIES), f"{module} reaches {imported} via {name}"
        todo.extend(GRAPH[name])


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_no_gateway_handler_module_imports_another() -> None:
    """Handlers share what they need through the gateway's own helpers (auth, requests, errors, links ...)."""
    handlers = {i for i in IMPORTS["checkin.gateway.routes"] if i.startswith("checkin.gateway.") and i in SOURCES}
    assert len(handlers) >= 8, handlers  # every route group is imported by routes.py
    for module in handlers:
        others = {r for i in IMPORTS[module] if (r := _resolve(i)) in handlers and r != module}
        assert others == set(), f"{module} imports the handler module(s) {others}"


def test_the_reader_sees_relative_and_dynamic_imports(tmp_path: Path) -> None:
    """The checks above are only as good as the import reader: it must see every form."""
    source = tmp_path / "mod.py"
    source.write_text("from . import sibling\nfrom ..other import thing\nimport importlib\n"
                      "importlib.import_module('checkin.gateway.app')\n", encoding="utf-8")
    found = _imports(source, "checkin.pkg.mod")
    assert {"checkin.pkg.sibling", "checkin.other.thing", "checkin.gateway.app"} <= found
