"""The layers keep their shape: who may import whom, who may touch the ledger's table, names.

docs/architecture.md draws the layers; these tests fail when a change crosses them,
naming the module, the line and the rule, so the fix is obvious.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT

# The layers above domain work; every other package or module of app/ (the executor,
# pipelines, engine, supply chain, provenance, reproduction, velocity, CDEvents, forges,
# notifications, and the small shared modules such as config and resources) is domain
# work or plumbing below them, so a new package is covered without being listed.
UPPER = ("app.api", "app.web", "app.cli", "app.services", "app.queries", "app.server", "app.deps")


def lower_modules() -> tuple[str, ...]:
    """The top-level packages and modules of app/ below the application layer and read side."""
    names = {
        f"app.{path.stem if path.is_file() else path.name}"
        for path in (ROOT / "app").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }
    return tuple(sorted(names - set(UPPER) - {"app.projections"}))


DOMAIN = lower_modules()
ADAPTERS = ("app.api", "app.web", "app.cli")
HTTP = ("fastapi", "starlette", "sse_starlette", "uvicorn", "jinja2")

# (importer prefix, forbidden prefixes, why): the rules of docs/architecture.md.
RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("events", ("app",), "the ledger knows nothing of the application"),
    ("events", (*HTTP, "docker"), "the ledger knows nothing of HTTP or Docker"),
    ("app.projections", ("app.queries", "app.services", *ADAPTERS, *DOMAIN),
     "folds depend on events only"),
    ("app.queries", ("app.services", "app.executor", "app.server", *ADAPTERS),
     "the read side answers questions and never acts"),
    ("app.queries", HTTP, "the read side knows nothing of HTTP"),
    ("app.services", (*ADAPTERS, "app.server"), "commands are called by adapters, not the reverse"),
    ("app.services", HTTP, "commands know nothing of HTTP"),
    ("app.api", ("app.web", "app.cli", "app.server"), "adapters are siblings"),
    ("app.web", ("app.api", "app.cli", "app.server"), "adapters are siblings"),
    ("app.cli", ("app.api", "app.web"), "adapters are siblings (serve goes through app.server)"),
    *(
        (domain, ("app.services", "app.queries", "app.server", *ADAPTERS),
         "domain work is called by the application layer and knows nothing above it")
        for domain in DOMAIN
    ),
)  # fmt: skip

# Public names that several modules define on purpose, each for its own kind of thing.
SHARED_NAMES = {
    # Every CLI command module adds its commands to the Typer app through register(app).
    "register",
}


@dataclass(frozen=True)
class Import:
    """One import statement: where it is and the module it names."""

    path: Path
    line: int
    module: str
    importer: str


def module_name(path: Path) -> str:
    """The dotted module name of a file under ROOT."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(*packages: str) -> list[Path]:
    """Every .py file of the given top-level packages."""
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def imports_of(path: Path) -> list[Import]:
    """Every import in `path`, at any depth (function-level imports count too)."""
    importer = module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name, importer) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(Import(path, node.lineno, node.module, importer))
            found += [
                Import(path, node.lineno, f"{node.module}.{alias.name}", importer)
                for alias in node.names
            ]
    return found


def within(module: str, prefix: str) -> bool:
    """True if `module` is `prefix` or inside it."""
    return module == prefix or module.startswith(prefix + ".")


def test_every_import_follows_the_layer_rules() -> None:
    broken = []
    for path in python_files("app", "events"):
        for found in imports_of(path):
            for importer, forbidden, why in RULES:
                if not within(found.importer, importer):
                    continue
                for prefix in forbidden:
                    if within(found.module, prefix) and not within(found.module, importer):
                        where = f"{found.path.relative_to(ROOT)}:{found.line}"
                        broken.append(f"{where} imports {found.module}: {why}")
    assert not sorted(set(broken)), "\n".join(sorted(set(broken)))


def test_the_rules_catch_a_crossing() -> None:
    """The checker itself: an import that crosses a layer is reported."""
    crossing = Import(Path("app/queries/x.py"), 1, "app.api.params", "app.queries.x")
    rule = next(r for r in RULES if r[0] == "app.queries" and "app.api" in r[1])
    assert within(crossing.importer, rule[0]) and within(crossing.module, "app.api")


# SQL keywords are written in capitals here; prose ("read from events") is not.
EVENTS_TABLE_SQL = re.compile(r"\b(FROM|JOIN|INTO|UPDATE|TRUNCATE)\s+events\b(?![_.])")


def test_nothing_outside_events_writes_sql_against_the_events_table() -> None:
    offenders = []
    for path in python_files("app"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if EVENTS_TABLE_SQL.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "read the ledger through EventStore methods:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "line",
    [
        '"SELECT position FROM events WHERE stream = %s"',
        'f"SELECT 1 FROM events e JOIN x"',
        '"INSERT INTO events (stream) VALUES (%s)"',
    ],
)
def test_the_sql_check_recognises_reads_and_writes_of_events(line: str) -> None:
    assert EVENTS_TABLE_SQL.search(line)


def test_projection_tables_are_read_only_by_queries_and_projections() -> None:
    allowed = ("app/queries/", "app/projections/")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in python_files("app")
        if not str(path.relative_to(ROOT)).startswith(allowed)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "current_tables(" in line or "fold_as_of(" in line
    ]
    assert not offenders, "projection tables are read in app/queries only:\n" + "\n".join(offenders)


def public_definitions() -> dict[str, list[str]]:
    """Public top-level class and function name → the modules of app/ that define it."""
    defined: dict[str, list[str]] = defaultdict(list)
    for path in python_files("app"):
        for node in ast.parse(path.read_text(), str(path)).body:
            definition = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
            if isinstance(node, definition) and not node.name.startswith("_"):
                defined[node.name].append(module_name(path))
    return defined


def test_no_two_public_classes_or_functions_in_app_share_a_name() -> None:
    shared = {
        name: modules
        for name, modules in public_definitions().items()
        if len(modules) > 1 and name not in SHARED_NAMES
    }
    assert not shared, "\n".join(f"{name}: {', '.join(m)}" for name, m in sorted(shared.items()))


def test_every_allowed_shared_name_is_still_shared() -> None:
    """An exception that no longer applies is removed, not kept around."""
    defined = public_definitions()
    assert all(len(defined.get(name, [])) > 1 for name in SHARED_NAMES)
