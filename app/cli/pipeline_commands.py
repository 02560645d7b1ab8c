"""Pipeline file commands: `shiplog pipeline schema` and `shiplog pipeline check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.pipeline import DEFAULT_SOURCE, dependencies, load_pipeline, pipeline_schema


def register(app: typer.Typer) -> None:
    """Add the `pipeline` command group to `app`."""
    pipeline_app = typer.Typer(help="The .shiplog.yml pipeline file.", no_args_is_help=True)
    pipeline_app.command("schema")(pipeline_schema_command)
    pipeline_app.command("check")(pipeline_check)
    app.add_typer(pipeline_app, name="pipeline")


def pipeline_schema_command() -> None:
    """Print the JSON Schema (draft 2020-12) of .shiplog.yml."""
    typer.echo(json.dumps(pipeline_schema(), indent=2))


def pipeline_check(
    path: Annotated[Path, typer.Argument(help="The pipeline file.")] = Path(DEFAULT_SOURCE),
) -> None:
    """Check a pipeline file and print its steps with what each waits for."""
    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist or is not a file", param_hint="PATH")
    pipeline = load_pipeline(path)
    typer.echo(f"{path}: pipeline {pipeline.name!r} is valid")
    for name, waits_for in dependencies(pipeline).items():
        after = ", ".join(sorted(waits_for)) if waits_for else "nothing"
        typer.echo(f"  {name} (after {after})")
