"""docs/events.md and docs/cli.md are generated from the code; these fail when they drift apart."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import BaseModel
from typer.core import TyperCommand, TyperGroup

from app.cli import app
from app.cli.docs import HEADER, cli_markdown, command_sections, drifted, split_sections
from events.catalogue import Metadata
from events.docs import METADATA_FIELDS, catalogue_markdown, field_description, nested_models
from events.vocabulary import CATALOGUE
from tests.paths import PROJECT_ROOT


def _documented_models() -> list[type[BaseModel]]:
    """Every model whose fields docs/events.md lists: the events and the records they nest."""
    return [*CATALOGUE, *nested_models(CATALOGUE)]


def test_events_doc_matches_the_catalogue() -> None:
    on_disk = (PROJECT_ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert on_disk == catalogue_markdown(CATALOGUE), (
        "docs/events.md is stale: run `make docs` (shiplog events catalogue --markdown)"
    )


def test_every_event_type_documents_itself() -> None:
    for cls in CATALOGUE:
        assert cls.doc(), cls.type_name
        assert cls.categories, cls.type_name
        assert all(field.annotation is not None for field in cls.model_fields.values())


def test_nested_records_are_found() -> None:
    names = {model.__name__ for model in nested_models(CATALOGUE)}
    assert {"BaseImage", "Commit", "Finding"} <= names


def test_every_field_has_a_one_line_description() -> None:
    missing = []
    for model in _documented_models():
        for name, field in model.model_fields.items():
            description = (field.description or "").strip()
            if not description or "\n" in description:
                missing.append(f"{model.__name__}.{name}")
    assert not missing, (
        "give each of these fields a one-line `Field(description=...)` saying what it "
        f"holds, then run `make docs`: {', '.join(missing)}"
    )


def test_every_metadata_field_has_a_description() -> None:
    for name in Metadata.model_fields:
        description = field_description(Metadata, name)
        assert description, f"Metadata.{name}: add it to METADATA_FIELDS in events/docs.py"
        assert "\n" not in description, f"Metadata.{name}: keep its description to one line"
    stale = set(METADATA_FIELDS) - set(Metadata.model_fields)
    assert not stale, f"METADATA_FIELDS describes fields Metadata no longer has: {stale}"


def test_every_fields_table_has_a_meaning_column() -> None:
    markdown = catalogue_markdown(CATALOGUE)
    headers = [line for line in markdown.splitlines() if line.startswith("| field |")]
    tables = 1 + sum(1 for model in _documented_models() if model.model_fields)
    assert len(headers) == tables
    assert set(headers) == {"| field | type | required | meaning |"}
    for line in markdown.splitlines():
        if line.startswith("| `"):
            assert not line.endswith("|  |"), f"a field without a meaning: {line}"


def test_cli_doc_matches_the_commands() -> None:
    on_disk = (PROJECT_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    stale = drifted(on_disk)
    assert not stale, (
        "docs/cli.md is stale for these commands: run `make docs` "
        f"(python -m app.cli.docs > docs/cli.md): {', '.join(stale)}"
    )


def test_the_cli_doc_splits_back_into_its_sections() -> None:
    assert split_sections(cli_markdown()) == {"": HEADER, **command_sections(app)}


def test_a_changed_or_removed_command_is_named() -> None:
    def tool(
        name: Annotated[str, typer.Argument(help="Whom to greet.")],
        loud: Annotated[bool, typer.Option(help="Shout.")] = False,
    ) -> None:
        """Greet someone."""

    def check() -> None:
        """Check the greeting."""

    cli = typer.Typer(help="A tool.")
    group = typer.Typer(help="Greetings.")
    group.command("hello")(tool)
    group.command("check")(check)
    cli.add_typer(group, name="greet")
    cli.command("version")(check)
    written = cli_markdown(cli)
    assert drifted(written, cli) == []

    tool.__doc__ = "Greet someone warmly."
    group.registered_commands.pop(1)
    assert drifted(written, cli) == ["shiplog greet", "shiplog greet hello", "shiplog greet check"]


def test_every_command_argument_and_option_says_what_it_does() -> None:
    missing: list[str] = []

    def visit(command: object, path: str) -> None:
        if not getattr(command, "help", None):
            missing.append(path)
        if isinstance(command, TyperGroup):
            for name, child in command.commands.items():
                visit(child, f"{path} {name}")
        elif isinstance(command, TyperCommand):
            missing.extend(
                f"{path} {p.name}" for p in command.params if not getattr(p, "help", None)
            )

    visit(typer.main.get_group(app), "shiplog")
    assert not missing, f"give these a help text, then run `make docs`: {', '.join(missing)}"
