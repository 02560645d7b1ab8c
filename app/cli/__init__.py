"""The `shiplog` command line: one Typer application assembled from small command modules."""

from __future__ import annotations

import sys

import typer

from app.cli import db, demo, event_commands, ledger, pipeline_commands
from app.pipeline import PipelineError
from events.errors import LedgerError

app = typer.Typer(
    name="shiplog",
    help="Container delivery pipelines, recorded as an immutable, tamper-evident ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db.register(app)
event_commands.register(app)
ledger.register(app)
demo.register(app)
pipeline_commands.register(app)


def main() -> None:
    """Entry point of the `shiplog` console script; user mistakes end as one clear line."""
    try:
        app()
    except (LedgerError, PipelineError) as error:
        print(f"shiplog: {error}", file=sys.stderr)
        sys.exit(2)
