"""Registered repositories: `shiplog repo add|ls|rm|deliveries` (their webhooks start runs)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.context import open_store, prepare
from app.queries.repositories import list_repositories, recent_deliveries
from app.services.repositories import RepositoryRequest, register_repository, remove_repository
from events.catalogue import Metadata


def register(app: typer.Typer) -> None:
    """Add the `repo` command group to `app`."""
    repo_app = typer.Typer(
        help="Repositories whose forge webhooks start runs.", no_args_is_help=True
    )
    repo_app.command("add")(repo_add)
    repo_app.command("ls")(repo_ls)
    repo_app.command("rm")(repo_rm)
    repo_app.command("deliveries")(repo_deliveries)
    app.add_typer(repo_app, name="repo")


def repo_add(
    url: Annotated[str, typer.Argument(help="The clone URL (https or ssh), without credentials.")],
    forge: Annotated[str, typer.Option(help="Which forge hosts it: github, gitea or gitlab.")],
    credential_stdin: Annotated[
        bool, typer.Option(help="Read the clone credential (`user:token` or a token) from stdin.")
    ] = False,
    commit_status: Annotated[
        bool, typer.Option(help="Report run outcomes back to the forge as commit statuses.")
    ] = False,
    api_url: Annotated[
        str | None, typer.Option(help="The forge's API URL (default: derived from the URL).")
    ] = None,
    rotate_secret: Annotated[
        bool, typer.Option(help="Make a new webhook secret for a repository already registered.")
    ] = False,
) -> None:
    """Register a repository; its webhook secret is printed once, when it is made."""
    credential = None
    if credential_stdin:
        credential = sys.stdin.read().strip()
        if not credential:
            raise typer.BadParameter("the credential is empty", param_hint="stdin")
    context = prepare()
    request = RepositoryRequest(
        url=url,
        forge=forge,
        credential=credential,
        commit_status=commit_status,
        api_url=api_url,
        rotate_secret=rotate_secret,
    )
    with open_store(context) as store:
        done = register_repository(
            store,
            context.database.app_url,
            request,
            Metadata(actor=context.settings.whoami(), source="cli"),
            context.settings.keyring_path,
        )
    repo = done.repository
    typer.echo(f"repository {repo.identity} registered ({repo.forge})")
    base = context.settings.public_url.rstrip("/")
    typer.echo(f"webhook URL: {base}/hooks/{repo.forge}")
    if done.webhook_secret is not None:
        typer.echo(f"webhook secret (shown once): {done.webhook_secret}")
    else:
        typer.echo("webhook secret: unchanged (--rotate-secret makes a new one)")


def repo_ls() -> None:
    """List the registered repositories (never their secrets)."""
    for view in list_repositories(prepare().database.app_url):
        flags = [view.forge, view.clone_url]
        flags.append("credential" if view.credential else "no credential")
        if view.commit_status:
            flags.append("commit statuses")
        typer.echo(f"{view.identity}\t" + "\t".join(flags))


def repo_rm(
    repository: Annotated[str, typer.Argument(help="Its identity or any clone URL of it.")],
) -> None:
    """Remove a registered repository and its clone credential."""
    context = prepare()
    with open_store(context) as store:
        identity = remove_repository(
            store,
            context.database.app_url,
            repository,
            Metadata(actor=context.settings.whoami(), source="cli"),
        )
    typer.echo(f"repository {identity} removed")


def repo_deliveries(
    repository: Annotated[
        str | None, typer.Argument(help="Only this repository's (its identity).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 20,
) -> None:
    """The latest accepted webhook deliveries and what became of each."""
    for item in recent_deliveries(prepare().database.app_url, repository, limit):
        runs = ",".join(item.runs) or "-"
        typer.echo(
            f"{item.received_at:%Y-%m-%d %H:%M:%S}\t{item.repository}\t{item.event}\t"
            f"{item.ref}\t{item.sha[:12]}\t{item.state}\t{item.outcome or ''}\t{runs}"
        )
