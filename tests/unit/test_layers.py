"""The walls of the design: the library never imports the gateway or the consumers, those two never import
each other, nothing in the product imports the load test, and the pure modules reach no I/O library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "checkin"
IO_LIBRARIES = ("aiohttp", "asyncpg", "redis", "websockets", "hiredis")
# The command line starts every part, so it alone may import them all (lazily, inside its commands).
ENTRY_POINTS = ("checkin.cli", "checkin.__main__")
# Domain rules and formats: they take data and return data.
PURE = ("checkin.rules", "checkin.hours", "checkin.hours_model", "checkin.hours_summary", "checkin.cards",
        "checkin.record_rules", "checkin.exports", "checkin.honors", "checkin.certificates", "checkin.event_plan",
        "checkin.roster_csv")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth of the file (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_part_imports_only_what_its_layer_may(module: str) -> None:
    imports = MODULES[module]
    assert not any(_inside(i, "loadtest") or _inside(i, "tests") for i in imports), module
    if _inside(module, "checkin.gateway"):
        assert not any(_inside(i, "checkin.consumers") for i in imports), module
    elif _inside(module, "checkin.consumers"):
        assert not any(_inside(i, "checkin.gateway") for i in imports), module
    elif module not in ENTRY_POINTS:
        assert not any(_inside(i, "checkin.gateway") or _inside(i, "checkin.consumers") for i in imports), module


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_reach_no_io_library(module: str) -> None:
    seen, todo = set(), [module]
    while todo:  # follow the product's own imports transitively
        name = todo.pop()
        if name in seen or name not in MODULES:
            continue
        seen.add(name)
        for imported in MODULES[name]:
            assert not any(_inside(imported, lib) for lib in IO_LIBRARIES), f"{module} reaches {imported} via {name}"
            todo.append(imported)
    assert module in seen  # the module exists: a renamed one must be renamed here too
