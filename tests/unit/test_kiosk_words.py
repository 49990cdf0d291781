"""Every code a page can show has words in zh-TW and in English in that page's text table.

Each page keeps one table (`TEXT = {"zh-TW": {...}, en: {...}}`) for the shared `t()` and `label()`
(kiosk/shared/i18n.js), and `label()` shows a key it does not find as the key itself: a verdict, reason,
warning, anomaly kind or gate mode missing from a table reaches a person as a raw code. The tables are read
from the pages' own files and evaluated by node, as the browser would. Node is required: a machine without
it fails here rather than skipping the check.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from checkin.events.plan_edit import policy_defaults, setting_choices
from checkin.vocabulary import Anomaly, GateMode, Reason, Verdict, Warning

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"
LANGS = ("zh-TW", "en")

# page -> (the file holding its table, where each kind of code it can show is labelled: a group of the table,
# or "" for the table's top level). The dashboard and the card show none of these codes.
PAGES: dict[str, tuple[str, dict[type[StrEnum], str]]] = {
    "gate": ("gate/text.js", {Verdict: "", Reason: "reasons", Warning: "reasons"}),
    "office": ("office/office.js", {Verdict: "verdicts", Reason: "reasons", Warning: "warnings", Anomaly: "kinds"}),
    "coordinator": ("coordinator/coordinator.js",
                    {Verdict: "verdicts", Reason: "reasons", Warning: "warnings", GateMode: "modes"}),
    "dashboard": ("dashboard/dashboard.js", {Reason: "reasons"}),
    "card": ("card/card.js", {}),
    "console": ("console/index.js", {}),
    "console-event": ("console/event.js", {GateMode: "modes"}),
    "console-roster": ("console/roster.js", {}),
    "console-cards": ("console/cards.js", {}),
    "console-devices": ("console/devices.js", {}),
    "console-notes": ("console/notes.js", {}),
    "team": ("team/team.js", {Verdict: "verdicts", Reason: "reasons"}),
}
# The console's folder holds several pages: each names its own HTML and scripts (with the console's shared ones),
# and the shared modules' words, merged into the page's table at run time, are merged here the same way.
CONSOLE_SHARED = ("console/console.js", "console/nav.js")
PAGE_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "console": ("console/index.html", ("console/index.js", *CONSOLE_SHARED)),
    "console-event": ("console/event.html", ("console/event.js", *CONSOLE_SHARED)),
    "console-notes": ("console/notes.html", ("console/notes.js", *CONSOLE_SHARED)),
} | {f"console-{name}": (f"console/{name}.html", (f"console/{name}.js", "console/setup.js", "console/nav.js"))
     for name in ("roster", "cards", "devices")}  # the setup pages share setup.js, whose words each page holds
MERGED: dict[str, tuple[tuple[str, str], ...]] = {
    page: (("console/console.js", "COMMON"), ("console/nav.js", "NAV_TEXT")) for page in ("console", "console-event", "console-notes")
} | {f"console-{name}": (("console/nav.js", "NAV_TEXT"),) for name in ("roster", "cards", "devices")}
TABLE_START = re.compile(r"\bconst TEXT = (?=\{)")


def object_literal(source: str, start: int) -> str:
    """The `{...}` beginning at `start`, braces inside strings and comments skipped."""
    depth, i, quote = 0, start, ""
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif source.startswith("//", i):
            i = source.index("\n", i)
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return source[start:i + 1]
        i += 1
    raise AssertionError("unbalanced braces in the text table")


def literal(file: str, start: re.Pattern[str]) -> str:
    source = (KIOSK / file).read_text(encoding="utf-8")
    found = list(start.finditer(source))
    assert len(found) == 1, f"{file}: expected one `{start.pattern}{{...}}`, found {len(found)}"
    return object_literal(source, found[0].end())


def table_source(page: str) -> str:
    """The page's table as node evaluates it: its own, over the shared ones merged into it."""
    own = literal(PAGES[page][0], TABLE_START)
    shared = [literal(file, re.compile(rf"\bconst {name} = (?=\{{)")) for file, name in MERGED.get(page, ())]
    if not shared:
        return own
    parts = ", ".join(f"({t})" for t in (*shared, own))
    return (f"(() => {{ const parts = [{parts}]; const out = {{}}; for (const lang of {json.dumps(list(LANGS))})"
            " out[lang] = Object.assign({}, ...parts.map((p) => p[lang])); return out; })()")


def page_files(page: str) -> tuple[Path, list[Path]]:
    """The page's HTML and the scripts that ask its table for words."""
    if page in PAGE_FILES:
        html, scripts = PAGE_FILES[page]
        return KIOSK / html, [KIOSK / s for s in scripts]
    folder = KIOSK / Path(PAGES[page][0]).parent
    return folder / "index.html", sorted(folder.glob("*.js"))


@pytest.fixture(scope="module")
def tables() -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is needed to read the pages' text tables"
    # Each table is a plain literal: evaluated on its own, it needs nothing else of its page.
    script = "process.stdout.write(JSON.stringify({" + ",".join(
        f"{json.dumps(page)}: ({table_source(page)})" for page in PAGES) + "}));"
    done = subprocess.run([node, "-"], input=script, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def group(table: dict[str, Any], lang: str, name: str) -> dict[str, Any]:
    words = table[lang] if not name else table[lang].get(name, {})
    assert isinstance(words, dict)
    return words


@pytest.mark.parametrize("page", [p for p, (_, shows) in PAGES.items() if shows])
@pytest.mark.parametrize("lang", LANGS)
def test_every_code_a_page_can_show_has_words(tables: dict[str, Any], page: str, lang: str) -> None:
    missing = []
    for vocabulary, name in PAGES[page][1].items():
        words = group(tables[page], lang, name)
        for code in vocabulary:
            text = words.get(code.value)
            if not isinstance(text, str) or not text.strip() or text == code.value:
                missing.append(f"{vocabulary.__name__}.{code.name} in {name or 'the top level'}")
    assert missing == []


@pytest.mark.parametrize("page", list(PAGES))
def test_both_languages_have_the_same_keys(tables: dict[str, Any], page: str) -> None:
    def keys(words: dict[str, Any], prefix: str = "") -> set[str]:
        found = set()
        for k, v in words.items():
            found |= keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
        return found

    zh, en = (keys(tables[page][lang]) for lang in LANGS)
    assert sorted(zh - en) == [] and sorted(en - zh) == []


LABEL_CALL = re.compile(r"""\blabel\(\s*["'](\w+)["']""")


@pytest.mark.parametrize("page", list(PAGES))
def test_every_group_a_page_labels_from_is_in_its_table(tables: dict[str, Any], page: str) -> None:
    used = {name for path in page_files(page)[1] for name in LABEL_CALL.findall(path.read_text(encoding="utf-8"))}
    assert sorted(name for name in used if not isinstance(tables[page]["zh-TW"].get(name), dict)) == []


# A word a page asks for by key: data-i18n="key" (or -placeholder) in its HTML, t("key") in its scripts.
STATIC_KEY = re.compile(r'data-i18n(?:-placeholder)?="(\w+)"')
T_CALL = re.compile(r"""(?<![\w.])t\(\s*["'](\w+)["']""")


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("lang", LANGS)
def test_every_word_a_page_asks_for_is_text(tables: dict[str, Any], page: str, lang: str) -> None:
    # A group (an object) where a word is wanted shows as "[object Object]".
    html, scripts = page_files(page)
    wanted = set(STATIC_KEY.findall(html.read_text(encoding="utf-8")))
    for path in scripts:
        wanted |= set(T_CALL.findall(path.read_text(encoding="utf-8")))
    assert sorted(k for k in wanted if not isinstance(tables[page][lang].get(k), str)) == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_event_page_explains_every_policy_setting(tables: dict[str, Any], lang: str) -> None:
    """Each setting a plan may make has its explanation on the console's event page, and each word a setting may
    take has its label: a setting added to the plan shows up untranslated nowhere."""
    words = tables["console-event"][lang]
    defaults = policy_defaults()
    settings = (set(defaults) - {"hours"}) | set(defaults["hours"])
    assert sorted(k for k in settings if not str(words["settings"].get(k, "")).strip()) == []
    choices = {c for allowed in setting_choices().values() for c in allowed} | {"true", "false"}
    assert sorted(c for c in choices if not str(words["choices"].get(c, "")).strip()) == []


def test_the_tables_are_read_at_all(tables: dict[str, Any]) -> None:
    # Guards the tests above against a reader that finds empty tables.
    assert tables["office"]["zh-TW"]["kinds"]["missing_checkout"] == "漏簽退"
    assert tables["gate"]["en"]["reasons"]["revoked"] == "This card has been revoked"
    assert tables["console-event"]["en"]["navEvents"] == "Events"  # merged from nav.js, as the page merges it
    assert LABEL_CALL.findall('label("verdicts", s.verdict)') == ["verdicts"]
    assert T_CALL.findall('t("title"); t(state); x.t("no")') == ["title"]
    assert STATIC_KEY.findall('<th data-i18n="flags">') == ["flags"]
    assert object_literal('{a: "}", b: {c: 1}} // }', 0) == '{a: "}", b: {c: 1}}'
