"""The `shiplog` command line: one Typer application assembled from small command modules."""

from __future__ import annotations

import sys

import typer

from app.cli import (
    attest_commands,
    db,
    demo,
    event_commands,
    image_commands,
    ledger,
    pipeline_commands,
    projection_commands,
    reproduce_command,
    run_commands,
    scan_commands,
    secret_commands,
    serve_command,
    token_commands,
    velocity_command,
)
from app.engine import EngineUnavailable
from app.executor.actions import StepFailed
from app.executor.secrets import SecretError
from app.executor.source import SourceError
from app.pipeline import PipelineError
from app.queries.as_of import AsOfError
from app.queries.errors import InvalidParameter, NotRecorded
from app.reproduce.inputs import ReproductionError
from app.supplychain.imagefs import ImageUnavailable
from app.supplychain.osv import AdvisoryError
from app.supplychain.sbom import InvalidSbom
from events.errors import LedgerError

app = typer.Typer(
    name="shiplog",
    help="Container delivery pipelines, recorded as an immutable, tamper-evident ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
attest_commands.register(app)
db.register(app)
event_commands.register(app)
image_commands.register(app)
ledger.register(app)
demo.register(app)
pipeline_commands.register(app)
projection_commands.register(app)
reproduce_command.register(app)
run_commands.register(app)
scan_commands.register(app)
secret_commands.register(app)
serve_command.register(app)
token_commands.register(app)
velocity_command.register(app)


# Errors a user can cause and fix: one line on stderr, exit status 2, no traceback.
USER_ERRORS = (
    AsOfError,
    InvalidParameter,
    NotRecorded,
    LedgerError,
    PipelineError,
    SecretError,
    SourceError,
    StepFailed,
    EngineUnavailable,
    ReproductionError,
    AdvisoryError,
    ImageUnavailable,
    InvalidSbom,
)


def main() -> None:
    """Entry point of the `shiplog` console script; user mistakes end as one clear line."""
    try:
        app()
    except USER_ERRORS as error:
        print(f"shiplog: {error}", file=sys.stderr)
        sys.exit(2)
