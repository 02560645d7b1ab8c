"""Privileges beyond the step sandbox, per repository: `shiplog sandbox allow|revoke|ls`."""

from __future__ import annotations

from typing import Annotated

import typer

from app.context import prepare
from app.pipeline import PRIVILEGES
from app.services.sandbox import allow_privilege, list_grants, revoke_privilege

Privilege = Annotated[
    str, typer.Argument(help=f"One of: {', '.join(PRIVILEGES)}.", metavar="PRIVILEGE")
]
Repo = Annotated[
    str,
    typer.Option(
        "--repo",
        help="The repository: a clone URL, host/owner/name, or the path of a local checkout.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `sandbox` command group to `app`."""
    sandbox_app = typer.Typer(
        help="Privileges a repository's steps may have beyond the sandbox.", no_args_is_help=True
    )
    sandbox_app.command("allow")(sandbox_allow)
    sandbox_app.command("revoke")(sandbox_revoke)
    sandbox_app.command("ls")(sandbox_ls)
    app.add_typer(sandbox_app, name="sandbox")


def sandbox_allow(privilege: Privilege, repo: Repo) -> None:
    """Allow a repository's steps and services a privilege (privileged, host network, socket)."""
    context = prepare()
    actor = context.settings.whoami()
    key, new = allow_privilege(context.database.app_url, repo, privilege, actor)
    typer.echo(f"{key} {'may now use' if new else 'already had'} {privilege}")


def sandbox_revoke(privilege: Privilege, repo: Repo) -> None:
    """Withdraw a privilege from a repository; its later runs are refused it."""
    key, existed = revoke_privilege(prepare().database.app_url, repo, privilege)
    typer.echo(f"{key} {'no longer has' if existed else 'did not have'} {privilege}")


def sandbox_ls() -> None:
    """List the privileges granted: repository, privilege, by whom, when."""
    for grant in list_grants(prepare().database.app_url):
        typer.echo(
            f"{grant.repository}\t{grant.privilege}\t{grant.granted_by}\t"
            f"{grant.granted_at.isoformat(timespec='seconds')}"
        )
