"""Signed provenance: `shiplog attest verify|pubkey|get`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.config import get_settings
from app.context import open_store, prepare
from app.keys import (
    attestation_public_key_path,
    load_attestation_public_key,
    load_or_create_attestation_key,
)
from app.provenance.dsse import BadEnvelope, key_id, verify_envelope
from app.provenance.slsa import check_statement
from app.queries.provenance import DIGEST, ImageNotFound, attestation
from events.errors import LedgerError

NOT_VERIFIED = 1  # the envelope was read and does not verify
USER_ERROR = 2  # a mistake the user can fix: a missing file, a bad key file, a bad digest


def register(app: typer.Typer) -> None:
    """Add the `attest` command group to `app`."""
    group = typer.Typer(
        help="Signed SLSA provenance (DSSE envelopes): verify offline, show the key, fetch.",
        no_args_is_help=True,
    )
    group.command("verify")(attest_verify)
    group.command("pubkey")(attest_pubkey)
    group.command("get")(attest_get)
    app.add_typer(group, name="attest")


def _fail(message: str, code: int) -> typer.Exit:
    """Print one line on stderr; the Exit to raise."""
    typer.echo(f"shiplog: {message}", err=True)
    return typer.Exit(code)


def _checked_digest(digest: str | None, name: str) -> str | None:
    """`digest` if well-formed (`sha256:<64 hex>`), else a user error naming parameter `name`."""
    if digest is not None and not DIGEST.fullmatch(digest):
        raise _fail(f"{name} {digest!r} is not sha256:<64 lowercase hex digits>", USER_ERROR)
    return digest


def attest_verify(
    envelope_file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The DSSE envelope (JSON).", dir_okay=False)
    ],
    key: Annotated[
        Path,
        typer.Option("--key", help="The attestation public key (PEM).", dir_okay=False),
    ],
    digest: Annotated[
        str | None,
        typer.Option("--digest", help="Also require the statement to be about this digest."),
    ] = None,
) -> None:
    """Check an envelope offline: signature, payload type, statement, subject; exit 1 if not."""
    wanted = _checked_digest(digest, "--digest")
    try:
        public_key = load_attestation_public_key(key)
        data = envelope_file.read_bytes()
    except LedgerError as error:
        raise _fail(str(error), USER_ERROR) from None
    except OSError as error:
        raise _fail(f"cannot read {envelope_file}: {error.strerror}", USER_ERROR) from None
    try:
        verified = verify_envelope(data, public_key)
        subjects = check_statement(verified.statement, wanted)
    except (BadEnvelope, ValueError) as error:
        raise _fail(f"{envelope_file} does not verify: {error}", NOT_VERIFIED) from None
    typer.echo(
        f"verified: signed by key {verified.key_id}; subject {', '.join(subjects)}"
        + (f"; about {wanted}" if wanted else "")
    )


def attest_pubkey() -> None:
    """Print the attestation public key (PEM) and its key id, creating the key on first use."""
    try:
        private = load_or_create_attestation_key(get_settings())
    except LedgerError as error:
        raise _fail(str(error), USER_ERROR) from None
    public = private.public_key()
    typer.echo(f"# key id {key_id(public)}", err=True)
    typer.echo(attestation_public_key_path(get_settings()).read_text(), nl=False)


def attest_get(
    digest: Annotated[str, typer.Argument(help="The image id or a manifest digest.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the envelope to this file.")
    ] = None,
) -> None:
    """Print (or save) the stored DSSE envelope of an image's provenance."""
    _checked_digest(digest, "DIGEST")
    try:
        with open_store(prepare()) as store:
            envelope = attestation(store, digest)
    except ImageNotFound as error:
        raise _fail(str(error), USER_ERROR) from None
    if output is None:
        typer.echo(envelope.decode())
    else:
        output.write_bytes(envelope)
