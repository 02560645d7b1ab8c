"""The `shiplog` command line: one Typer application assembled from small command modules."""

from __future__ import annotations

import logging
import os
import sys

import psycopg
import typer

from app.backup import BackupError
from app.cli import (
    attest_commands,
    backup_commands,
    db,
    delivery_commands,
    demo,
    event_commands,
    image_commands,
    ledger,
    notify_commands,
    pipeline_commands,
    projection_commands,
    repo_commands,
    reproduce_command,
    run_commands,
    sandbox_commands,
    scan_commands,
    secret_commands,
    serve_command,
    token_commands,
    velocity_command,
)
from app.config import ConfigError
from app.delivery.errors import DeliveryError
from app.delivery.orchestrator import OrchestratorError
from app.engine import EngineUnavailable, engine_gone
from app.executor.actions import StepFailed
from app.executor.grants import GrantError
from app.executor.secrets import SecretError
from app.executor.source import SourceError
from app.notify.rules import RulesError
from app.pipeline import PipelineError
from app.queries.as_of import AsOfError
from app.queries.errors import InvalidParameter, NotRecorded
from app.reproduce.inputs import ReproductionError
from app.services.errors import FieldProblem, NotRegistered
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
backup_commands.register(app)
db.register(app)
delivery_commands.register(app)
event_commands.register(app)
image_commands.register(app)
ledger.register(app)
demo.register(app)
notify_commands.register(app)
pipeline_commands.register(app)
projection_commands.register(app)
repo_commands.register(app)
reproduce_command.register(app)
run_commands.register(app)
sandbox_commands.register(app)
scan_commands.register(app)
secret_commands.register(app)
serve_command.register(app)
token_commands.register(app)
velocity_command.register(app)


# Errors a user can cause and fix: one line on stderr, exit status 2, no traceback.
USER_ERRORS = (
    ConfigError,
    AsOfError,
    BackupError,
    InvalidParameter,
    NotRecorded,
    LedgerError,
    PipelineError,
    SecretError,
    GrantError,
    SourceError,
    StepFailed,
    EngineUnavailable,
    ReproductionError,
    AdvisoryError,
    ImageUnavailable,
    InvalidSbom,
    DeliveryError,
    OrchestratorError,
    FieldProblem,
    NotRegistered,
    RulesError,
)


class OneLineFormatter(logging.Formatter):
    """Log records as one `shiplog: …` line each: the exception's type and first line, no traceback.

    Set SHIPLOG_DEBUG=1 for full tracebacks.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record's message, and its exception in brief."""
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f" ({brief(record.exc_info[1])})"
        return f"shiplog: {message}"


def brief(error: BaseException) -> str:
    """An exception as `Type: first line of its message`."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def explain(error: Exception) -> str:
    """One line saying what went wrong, for an error no command turned into a message."""
    if engine_gone(error):
        return f"the Docker engine stopped answering ({brief(error)})"
    if isinstance(error, psycopg.OperationalError):
        return f"the database is unreachable ({brief(error)})"
    return f"internal error ({brief(error)}); set SHIPLOG_DEBUG=1 for the traceback"


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if not debug:
        handler.setFormatter(OneLineFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def main() -> None:
    """Entry point of the `shiplog` console script; every failure ends as one clear line."""
    debug = os.environ.get("SHIPLOG_DEBUG") == "1"
    _configure_logging(debug)
    try:
        app()
    except USER_ERRORS as error:
        where = f"{error.field}: " if isinstance(error, FieldProblem) else ""
        print(f"shiplog: {where}{error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("shiplog: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        print(f"shiplog: {explain(error)}", file=sys.stderr)
        sys.exit(1)
