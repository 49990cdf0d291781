"""The browser pages' layout: every file a page or worker names exists, and no page keeps its own copy
of what kiosk/shared/ provides (a fetch wrapper, element helpers, a t())."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"
PAGES = ["gate", "dashboard", "office", "coordinator", "card", "console"]
SHARED = KIOSK / "shared"
WORKERS = [KIOSK / "sw.js", KIOSK / "card-sw.js"]

HTML_REF = re.compile(r'(?:src|href)="([^"#:]+)"')
JS_IMPORT = re.compile(r'''(?:\bfrom\s+|\bimport\s*\(\s*|\bexport\s*\{[^}]*\}\s*from\s+)["'](\.{1,2}/[^"']+)["']''')
WORKER_REF = re.compile(r'"((?:gate|card|shared|vendor)/[^"]*)"')


def page_scripts() -> list[Path]:
    return sorted(p for p in KIOSK.rglob("*.js") if "vendor" not in p.parts)


def refs(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        return HTML_REF.findall(text)
    if path in WORKERS:
        return WORKER_REF.findall(text) + re.findall(r'importScripts\("([^"]+)"\)', text)
    return JS_IMPORT.findall(text)


@pytest.mark.parametrize("path", [KIOSK / p / "index.html" for p in PAGES] + [KIOSK / "console" / "event.html"]
                         + page_scripts(),
                         ids=lambda p: str(p.relative_to(KIOSK)))
def test_every_named_file_exists(path: Path) -> None:
    base = KIOSK if path in WORKERS else path.parent
    missing = [ref for ref in refs(path) if not (base / ref).resolve().exists()]
    assert missing == []


def test_the_files_are_checked_at_all() -> None:
    # Guards the test above against patterns that match nothing.
    assert "main.js" in refs(KIOSK / "gate" / "index.html")
    assert "../shared/api.js" in refs(KIOSK / "gate" / "api.js")
    assert "gate/main.js" in refs(KIOSK / "sw.js")
    assert "shared/sw-cache.js" in refs(KIOSK / "card-sw.js")


def test_the_gate_worker_caches_every_gate_module() -> None:
    listed = set(refs(KIOSK / "sw.js"))
    gate = {f"gate/{p.name}" for p in (KIOSK / "gate").iterdir()} - {"gate/index.html"}
    shared = {f"shared/{m}" for m in ("api.js", "dom.js", "i18n.js")}
    assert gate | shared <= listed


# What only kiosk/shared/ may hold: a second one in a page is a copy.
HELPERS = {
    "a fetch wrapper": re.compile(r"\bfetch\("),
    "an element helper": re.compile(r"function el\(|getElementById|createElementNS"),
    "a t()": re.compile(r"(?:const|let|function)\s+t\b"),
    "the login storage": re.compile(r"localStorage\.\w+\([^)]*token"),
}


@pytest.mark.parametrize("path", [p for p in page_scripts() if SHARED not in p.parents and p not in WORKERS],
                         ids=lambda p: str(p.relative_to(KIOSK)))
def test_no_page_copies_a_shared_helper(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert [name for name, pattern in HELPERS.items() if pattern.search(text)] == []
