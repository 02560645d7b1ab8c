"""Secrets for pipelines: `shiplog secret set|ls|rm|import-unscoped` and `shiplog secret key`.

Values are read from stdin, never argv, and never printed.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.context import Context, prepare
from app.services.secrets import (
    delete_secret,
    import_unscoped_secrets,
    list_secrets,
    retire_secret_key,
    rotate_secret_key,
    scope_of,
    secret_keys,
    set_secret,
    unscoped_secret_names,
)

Repo = Annotated[
    str,
    typer.Option(
        "--repo",
        help="The repository: a clone URL, host/owner/name (github.com/acme/web), "
        "or the path of a local checkout.",
    ),
]
Branch = Annotated[
    str | None, typer.Option(help="Only for runs of this branch (default: every branch).")
]
Env = Annotated[
    str | None,
    typer.Option("--env", help="Only for steps that deploy to this environment (default: any)."),
]


def register(app: typer.Typer) -> None:
    """Add the `secret` command group (and its `key` subgroup) to `app`."""
    secret_app = typer.Typer(
        help="Secrets that pipeline steps ask for by name, scoped to a repository.",
        no_args_is_help=True,
    )
    secret_app.command("set")(secret_set)
    secret_app.command("ls")(secret_ls)
    secret_app.command("rm")(secret_rm)
    secret_app.command("import-unscoped")(secret_import_unscoped)
    key_app = typer.Typer(help="The keys that encrypt secrets at rest.", no_args_is_help=True)
    key_app.command("ls")(key_ls)
    key_app.command("rotate")(key_rotate)
    key_app.command("retire")(key_retire)
    secret_app.add_typer(key_app, name="key")
    app.add_typer(secret_app, name="secret")


def _context() -> Context:
    return prepare()


def secret_set(
    name: Annotated[str, typer.Argument(help="The secret's name, e.g. REGISTRY_PASSWORD.")],
    repo: Repo,
    branch: Branch = None,
    env: Env = None,
) -> None:
    """Store a secret for a repository; the value is read from stdin (or a hidden prompt)."""
    scope = scope_of(repo, branch, env)
    if sys.stdin.isatty():
        value = typer.prompt(f"value of {name}", hide_input=True)
    else:
        value = sys.stdin.read().removesuffix("\n")
    if not value:
        raise typer.BadParameter("the value is empty", param_hint="stdin")
    context = _context()
    set_secret(context.database.app_url, context.settings.keyring_path, scope, name, value)
    typer.echo(f"secret {name} stored for {scope.describe()}")


def secret_ls(
    repo: Annotated[
        str | None, typer.Option("--repo", help="Only this repository's secrets.")
    ] = None,
) -> None:
    """List the stored secrets: repository, branch, environment, name, key (never values)."""
    conninfo = _context().database.app_url
    for secret in list_secrets(conninfo, repo):
        scope = secret.scope
        typer.echo(
            f"{scope.repository}\t{scope.branch or '*'}\t{scope.environment or '*'}\t"
            f"{secret.name}\t{secret.key_id}\t{secret.updated_at.isoformat(timespec='seconds')}"
        )
    unscoped = unscoped_secret_names(conninfo)
    if unscoped:
        typer.echo(
            f"{len(unscoped)} unscoped plain-text secret(s) from an older shiplog, given to no "
            f"run: {', '.join(unscoped)}; move them with `shiplog secret import-unscoped "
            "--repo REPOSITORY`",
            err=True,
        )


def secret_rm(
    name: Annotated[str, typer.Argument(help="The secret's name.")],
    repo: Repo,
    branch: Branch = None,
    env: Env = None,
) -> None:
    """Delete a secret of exactly this scope."""
    scope = scope_of(repo, branch, env)
    existed = delete_secret(_context().database.app_url, scope, name)
    typer.echo(f"secret {name} of {scope.describe()} {'deleted' if existed else 'did not exist'}")


def secret_import_unscoped(repo: Repo, branch: Branch = None, env: Env = None) -> None:
    """Encrypt the unscoped plain-text secrets of an older shiplog into one repository's scope."""
    scope = scope_of(repo, branch, env)
    context = _context()
    names = import_unscoped_secrets(context.database.app_url, context.settings.keyring_path, scope)
    listed = ", ".join(names) if names else "none"
    typer.echo(f"imported into {scope.describe()}: {listed}")


def key_ls() -> None:
    """List the keyring's keys: id, whether new values use it, how many secrets it seals."""
    context = _context()
    for key in secret_keys(context.database.app_url, context.settings.keyring_path):
        typer.echo(f"{key.key_id}\t{'primary' if key.primary else 'old'}\t{key.secrets} secrets")


def key_rotate() -> None:
    """Add a new primary key and re-encrypt every secret with it (old keys stay readable)."""
    context = _context()
    key_id, count = rotate_secret_key(context.database.app_url, context.settings.keyring_path)
    typer.echo(
        f"new primary key {key_id}; {count} secret(s) re-encrypted. Copy "
        f"{context.settings.keyring_path} to every runner, then retire the old key."
    )


def key_retire(
    key_id: Annotated[str, typer.Argument(help="The id of the old key, from `secret key ls`.")],
) -> None:
    """Remove an old key from the keyring once no secret is sealed with it."""
    context = _context()
    retire_secret_key(context.database.app_url, context.settings.keyring_path, key_id)
    typer.echo(f"key {key_id} retired")
