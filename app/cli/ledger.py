"""Tamper-evidence commands: `shiplog verify` and `shiplog ledger checkpoint|prove|check|pubkey`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from app.config import get_settings
from app.context import prepare
from app.keys import (
    load_or_create_signing_key,
    load_public_key,
    load_verifier,
    private_key_path,
    public_key_path,
)
from events.errors import InvalidProof, KeyFileError, LedgerError
from events.proofs import check_proof, prove_consistency, prove_inclusion
from events.sealer import latest_checkpoint, seal_all
from events.signing import CheckpointVerifier
from events.verifications import record_verification
from events.verify import verify_ledger

USER_ERROR = 2  # the exit status of `shiplog` for a mistake the user can fix (see app.cli.main)

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The ledger's public key (PEM). Default: ledger.pub under SHIPLOG_HOME/keys.",
        dir_okay=False,
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the proof to this file instead of stdout."),
]


def register(app: typer.Typer) -> None:
    """Add the ledger commands to `app`."""
    app.command("verify")(verify_command)
    ledger_app = typer.Typer(
        help="Seal the ledger into signed checkpoints; prove and check what it holds.",
        no_args_is_help=True,
    )
    ledger_app.command("checkpoint")(ledger_checkpoint)
    ledger_app.command("prove")(ledger_prove)
    ledger_app.command("prove-consistency")(ledger_prove_consistency)
    ledger_app.command("check")(ledger_check)
    ledger_app.command("pubkey")(ledger_pubkey)
    app.add_typer(ledger_app, name="ledger")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a LedgerError into one line on stderr and a non-zero exit, never a traceback."""
    try:
        yield
    except LedgerError as error:
        typer.echo(f"shiplog: {error}", err=True)
        raise typer.Exit(USER_ERROR) from None


def _verifier(key: Path | None) -> CheckpointVerifier | None:
    """The verifier for --key, else this home's key, else None when no key exists yet."""
    settings = get_settings()
    if key is not None:
        return load_public_key(key, settings.ledger_origin)
    if public_key_path(settings).exists() or private_key_path(settings).exists():
        return load_verifier(settings)
    return None


def verify_command(
    key: KeyOption = None,
    show_all: Annotated[bool, typer.Option("--all", help="List every mismatch found.")] = False,
) -> None:
    """Recompute every event hash, sealed leaf and signed checkpoint; exit 1 on a mismatch."""
    with _user_errors():
        verifier = _verifier(key)
        context = prepare()
        report = verify_ledger(context.database.app_url, verifier)
        record_verification(context.database.app_url, report, context.settings.whoami())
    if report.ok:
        typer.echo(report.summary())
        return
    shown = report.failures if show_all else report.failures[:1]
    for failure in shown:
        typer.echo(f"FAILED {failure}", err=True)
    hidden = len(report.failures) - len(shown) + report.more_failures
    if hidden:
        typer.echo(f"... and {hidden} more (--all lists them)", err=True)
    typer.echo(report.summary(), err=True)
    raise typer.Exit(1)


def ledger_checkpoint() -> None:
    """Seal every event not yet sealed and sign a checkpoint of the tree."""
    with _user_errors():
        context = prepare()
        signer = load_or_create_signing_key(context.settings)
        with psycopg.connect(context.database.app_url) as conn:
            before = latest_checkpoint(conn, signer)
        made = seal_all(context.database.app_url, signer)
        latest = made or before
    if latest is None:
        typer.echo("the ledger is empty: nothing to seal")
        return
    added = latest.tree_size - (before.tree_size if before else 0)
    typer.echo(f"sealed {added} new events" if made else "nothing new to seal")
    typer.echo(f"tree size  {latest.tree_size}")
    typer.echo(f"root       {latest.root.hex()}")
    typer.echo(f"origin     {latest.origin}")
    typer.echo(f"key id     {latest.key_id}")


def _write(document: dict[str, Any], output: Path | None) -> None:
    """Print a proof document, or write it to `output`."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise typer.BadParameter(f"cannot write {output}: {error.strerror}") from None
    typer.echo(f"proof written to {output}", err=True)


def _own_verifier() -> CheckpointVerifier:
    """This home's ledger key, which proofs embed as a convenience."""
    verifier = _verifier(None)
    if verifier is None:
        raise KeyFileError("no ledger key yet: nothing has been sealed on this machine")
    return verifier


def ledger_prove(
    event_id: Annotated[str, typer.Argument(help="The id (UUID) of the event to prove.")],
    output: OutputOption = None,
) -> None:
    """Print a proof that an event is in the latest signed checkpoint, checkable offline."""
    with _user_errors():
        verifier = _own_verifier()
        context = prepare()
        document = prove_inclusion(context.database.app_url, event_id, verifier=verifier)
    _write(document, output)


def ledger_prove_consistency(
    old: Annotated[int | None, typer.Option(min=0, help="Older tree size.")] = None,
    new: Annotated[int | None, typer.Option(min=0, help="Newer tree size.")] = None,
    output: OutputOption = None,
) -> None:
    """Print a proof that one checkpoint extends an earlier one (default: the two latest)."""
    with _user_errors():
        verifier = _own_verifier()
        context = prepare()
        document = prove_consistency(context.database.app_url, old, new, verifier=verifier)
    _write(document, output)


def _read_document(path: Path) -> Any:
    """A proof file's JSON, or InvalidProof naming the file and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise InvalidProof(f"cannot read proof file {path}: {reason}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidProof(
            f"proof file {path} is not valid JSON (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise InvalidProof(f"proof file {path} is nested too deeply to be a proof") from None


def _read_public_key(path: Path) -> str:
    """The PEM text of a public key file, or KeyFileError naming the file."""
    try:
        pem = path.read_text(encoding="utf-8")
        CheckpointVerifier.from_pem(pem, "check")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise KeyFileError(f"cannot use public key {path}: {reason}") from None
    return pem


def ledger_check(
    proof: Annotated[Path, typer.Argument(help="A proof file from `shiplog ledger prove`.")],
    key: KeyOption = None,
) -> None:
    """Check an inclusion or consistency proof offline against the ledger's public key."""
    with _user_errors():
        path = key if key is not None else public_key_path(get_settings())
        if key is None and not path.exists():
            raise KeyFileError(f"no public key at {path}: pass the ledger's key with --key")
        pem = _read_public_key(path)
        ok, reason = check_proof(_read_document(proof), pem)
    if not ok:
        typer.echo(f"FAILED {reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"OK {reason}")


def ledger_pubkey() -> None:
    """Print the ledger's public key (PEM), creating the key pair on first use."""
    with _user_errors():
        signer = load_or_create_signing_key(get_settings())
    typer.echo(signer.public_pem(), nl=False)
