"""Secrets for pipelines: `shiplog secret set|ls|rm`. Values are read from stdin, never argv."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.context import prepare
from app.services.secrets import delete_secret, secret_names, set_secret


def register(app: typer.Typer) -> None:
    """Add the `secret` command group to `app`."""
    secret_app = typer.Typer(
        help="Secrets that pipeline steps ask for by name.", no_args_is_help=True
    )
    secret_app.command("set")(secret_set)
    secret_app.command("ls")(secret_ls)
    secret_app.command("rm")(secret_rm)
    app.add_typer(secret_app, name="secret")


def _conninfo() -> str:
    return prepare().database.app_url


def secret_set(
    name: Annotated[str, typer.Argument(help="The secret's name, e.g. REGISTRY_PASSWORD.")],
) -> None:
    """Store a secret; the value is read from stdin (or a hidden prompt on a terminal)."""
    if sys.stdin.isatty():
        value = typer.prompt(f"value of {name}", hide_input=True)
    else:
        value = sys.stdin.read().removesuffix("\n")
    if not value:
        raise typer.BadParameter("the value is empty", param_hint="stdin")
    set_secret(_conninfo(), name, value)
    typer.echo(f"secret {name} stored")


def secret_ls() -> None:
    """List the names of the stored secrets (never their values)."""
    for name in secret_names(_conninfo()):
        typer.echo(name)


def secret_rm(name: Annotated[str, typer.Argument(help="The secret's name.")]) -> None:
    """Delete a secret."""
    existed = delete_secret(_conninfo(), name)
    typer.echo(f"secret {name} {'deleted' if existed else 'did not exist'}")
